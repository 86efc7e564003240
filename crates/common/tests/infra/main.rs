//! `common::events`, `common::outbox`, `common::version` and the routers of `common::http`, against a real NATS JetStream (one
//! server per test) and a real MongoDB replica set (one database per test).

mod embedded;
mod events;
mod helpers;
mod http;
mod nats_users;
mod outbox;
mod telemetry;
mod version;
