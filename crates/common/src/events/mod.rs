//! Events on NATS JetStream (see the module docs once written).
