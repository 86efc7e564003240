//! The ceiling of the HTTP path: an axum handler that does nothing, on the same tokio runtime
//! the services use, put behind the same nginx configuration as the services by `bench micro`.
//! Whatever a service's route achieves is read as a fraction of what this achieves.
//!
//! Usage: `bench-empty <port>` — listens on 127.0.0.1:<port>; `GET /bench/empty` → 200, empty.
//! Stops on SIGTERM/SIGINT.

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: bench-empty <port>"))?
        .parse()?;
    let app = Router::new()
        .route("/bench/empty", get(|| async {}))
        .route("/readyz", get(|| async {}));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler installs");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        })
        .await?;
    Ok(())
}
