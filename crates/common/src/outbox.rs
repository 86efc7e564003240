//! Transactional outbox (see the module docs once written).
