//! `common::events`, `common::outbox` and `common::version` against a real NATS JetStream (one
//! server per test) and a real MongoDB replica set (one database per test).

mod events;
mod helpers;
mod outbox;
mod version;
