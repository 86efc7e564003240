//! Black-box tests of the expiration service against real Redis and NATS JetStream servers.

mod queue;
