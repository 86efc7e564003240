//! Black-box tests of the expiration service against real Redis and NATS JetStream servers, one
//! of each per test.

mod config;
mod expiration;
mod helpers;
mod metrics;
mod probes;
mod queue;
