//! The auth service: sign up, sign in, sign out, and who is signed in.
//!
//! It owns the `users` collection and issues the session cookie every other service reads
//! (see `common::session`). It publishes and listens to no events.

pub mod app;
pub mod config;
pub mod models;
pub mod password;
pub mod routes;

pub use app::{AppState, router};
pub use config::Config;

use std::future::Future;

use tokio::net::TcpListener;

/// Connects to MongoDB, makes sure the indexes exist, and serves on `listener` until `shutdown`.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (_client, database) = common::mongo::connect(&config.mongo_uri, "auth").await?;
    let state = AppState::new(&database, &config);
    models::user::ensure_indexes(&state.users).await?;
    tracing::info!(address = %listener.local_addr()?, "auth listening");
    common::http::serve(listener, router(state, &database), shutdown).await?;
    Ok(())
}
