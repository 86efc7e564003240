//! The Stripe stand-in as a process, for the local stack: `PORT` (default 12111) on `BIND`'s
//! address (every interface by default; the local stack binds loopback).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = common::telemetry::init("stripe-standin");
    let port = common::config::exit_on_error(
        "stripe-standin",
        common::config::parsed_or("PORT", 12111_u16),
    );
    let listener = common::http::bind(port).await?;
    tracing::info!(address = %listener.local_addr()?, "Stripe stand-in listening");
    stripe_standin::serve(
        listener,
        stripe_standin::StandInState::new(),
        common::http::shutdown_signal(),
    )
    .await?;
    Ok(())
}
