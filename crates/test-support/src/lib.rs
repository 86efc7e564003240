//! Real infrastructure for tests: MongoDB (shared server, one database per test), NATS JetStream
//! (one server per test), Redis, and apps spawned on random ports.

pub mod http;
pub mod metrics;
pub mod mongo;
pub mod nats;
pub mod process;
pub mod redis;
