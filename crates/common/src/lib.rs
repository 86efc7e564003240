//! What every Ticketing service shares.
//!
//! - [`error`]: the one error type and the contract's error body;
//! - [`json`] and [`validation`]: request bodies that fail with that body, field by field;
//! - [`session`]: the cookie-session JWT and the `CurrentUser` / `RequireUser` extractors;
//! - [`config`], [`telemetry`], [`http`], [`service`]: start-up, logs, probes, the one lifecycle
//!   every service has, and graceful shutdown;
//! - [`metrics`]: `/metrics` in Prometheus' format, and request timing;
//! - [`mongo`]: connecting and the id rules;
//! - [`events`]: the typed events on NATS JetStream, their publisher and listener;
//! - [`outbox`]: committing a state change and its event together;
//! - [`version`]: optimistic concurrency for owned documents, in-order application for replicas;
//! - `testing` (feature `test-util`, tests only): the test kit the services' tests share.

pub mod config;
pub mod error;
pub mod events;
pub mod http;
pub mod json;
pub mod metrics;
pub mod mongo;
pub mod openapi;
pub mod outbox;
pub mod paging;
pub mod service;
pub mod session;
pub mod telemetry;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod validation;
pub mod version;

pub use error::{AppError, AppResult, ErrorBody, ErrorItem};
pub use json::{JsonBody, JsonObject};
pub use session::{CurrentUser, RequireUser, SessionKeys, UserClaims};
