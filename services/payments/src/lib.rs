//! The payments service: pays for an order with Stripe, exactly once.
//!
//! It keeps a replica of the orders (`orders`: id, version, status, userId, price) from
//! `order:created` and `order:cancelled` under the replica version rule, and owns `payments`.
//! `POST /api/payments {token, orderId}` charges the order's price through Stripe's Charges API
//! and records the payment together with its `payment:created` event (transactional outbox);
//! the orders service then marks the order `complete`.
//!
//! Never charging twice takes three locks on the way (see `routes::create_payment`): a claim on
//! the order replica before calling Stripe, Stripe's own idempotency key derived from the order
//! and the card token (`stripe::idempotency_key`), and a unique index on `payments.orderId`.

pub mod app;
pub mod charges;
pub mod config;
pub mod events;
pub mod models;
pub mod routes;

pub use app::{AppState, router};
pub use config::Config;

use std::future::Future;

use common::events::{ListenerOptions, Nats, QueueGroup};
use common::outbox::{Outbox, OutboxOptions};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Knobs tests turn; production uses the defaults.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    pub listener: ListenerOptions,
    pub outbox: OutboxOptions,
}

/// Connects to MongoDB and NATS, makes sure the indexes exist, starts the event listeners and
/// the outbox relay, and serves on `listener` until `shutdown`.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_tuned(config, Tuning::default(), listener, shutdown).await
}

pub async fn run_tuned(
    config: Config,
    tuning: Tuning,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (client, database) = common::mongo::connect(&config.service.mongo_uri, "payments").await?;
    let nats = Nats::connect(&config.service.nats_url, &config.service.nats_client_id).await?;
    let outbox = Outbox::new(client, &database, nats.publisher()).with_options(tuning.outbox);
    let stripe = charges::Stripe::new(&config.stripe_key, &config.stripe_api_base)?;
    let state = AppState::new(&database, &config, outbox.clone(), stripe);
    models::ensure_indexes(&state).await?;
    outbox.ensure_indexes().await?;

    let stop = CancellationToken::new();
    let relay = outbox.spawn_relay(stop.clone());
    let mut events = nats
        .listener(QueueGroup::PAYMENTS, stop.clone())
        .with_options(tuning.listener);
    events::listen(&mut events, &state).await?;

    tracing::info!(address = %listener.local_addr()?, "payments listening");
    let readiness = common::http::Readiness::new()
        .mongo(database.clone())
        .nats(nats.client().clone());
    let served = common::http::serve(listener, router(state, readiness), shutdown).await;
    stop.cancel();
    events.join().await;
    let _ = relay.await;
    served?;
    Ok(())
}
