//! The receiver as a process, for the local stack: `PORT` (default 4318, OTLP/HTTP's) on `BIND`'s
//! address (every interface by default; the local stack binds loopback).
//!
//! Its own logs only, never its own traces: exporting its request spans to itself would feed
//! every export back in. So it installs a plain `tracing` subscriber, not `common::telemetry`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let port =
        common::config::exit_on_error("otlp-receiver", common::config::parsed_or("PORT", 4318_u16));
    let listener = common::http::bind(port).await?;
    tracing::info!(address = %listener.local_addr()?, "OTLP receiver listening");
    common::http::serve(
        listener,
        otlp_receiver::router(otlp_receiver::Spans::default()),
        common::http::shutdown_signal(),
    )
    .await?;
    Ok(())
}
