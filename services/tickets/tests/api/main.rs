//! Black-box tests of the tickets service against a real MongoDB (a database per test) and a
//! real NATS JetStream (a server per test); published events are read back from the stream.

mod create;
mod delivery;
mod helpers;
mod index;
mod listeners;
mod metrics;
mod model;
mod show;
mod update;
