//! Black-box tests of the orders service against a real MongoDB and a NATS server per test.

mod auth;
mod config;
mod delete;
mod helpers;
mod index;
mod lifecycle;
mod listeners;
mod metrics;
mod new;
mod show;
