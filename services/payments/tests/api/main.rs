//! Black-box tests of the payments service against a real MongoDB, a NATS JetStream server of
//! each test's own and the Stripe stand-in (the one thing not real: the tests own and inspect it).

mod charging;
mod config;
mod create_payment;
mod helpers;
mod listeners;
mod metrics;
mod settlement;
