//! The auth service: sign up, sign in, sign out, and who is signed in.
//!
//! It owns the `users` collection and issues the session cookie every other service reads
//! (see `common::session`). It publishes and listens to no events.

pub mod app;
pub mod config;
pub mod limits;
pub mod models;
pub mod openapi;
pub mod password;
pub mod routes;

pub use app::{AppState, router};
pub use config::Config;

use common::http::Readiness;
use common::service::{Service, Tuning};

/// Connects to MongoDB, makes sure the indexes exist and binds the port. Auth has no events,
/// so `tuning` changes nothing; it takes one as every service does.
pub async fn build(config: Config, _tuning: Tuning) -> anyhow::Result<Service> {
    let (_client, database) = common::mongo::connect(&config.mongo, "auth").await?;
    let state = AppState::new(&database, &config);
    models::user::ensure_indexes(&state.users).await?;
    let readiness = Readiness::new().mongo(database);
    let listener = common::http::bind(config.port).await?;
    Ok(Service::http("auth", listener, router(state, readiness)))
}
