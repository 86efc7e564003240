//! The payments service: pays for an order with Stripe, exactly once.
//!
//! It keeps a replica of the orders (`orders`: id, version, status, userId, price, expiresAt)
//! from `order:created` and `order:cancelled` under the replica version rule, and owns
//! `payments` and `refunds`. `POST /api/payments {token, orderId}` charges the order's price
//! through Stripe's Charges API and records the payment together with its `payment:created`
//! event (transactional outbox); the orders service then marks the order `complete`.
//!
//! Payments is where "paid in time or expired" is decided (`settlement`): it hears
//! `expiration:complete` and answers `payment:expired` only when no payment was accepted in
//! time, and orders cancels on that. Every charge ends recorded — as the order's payment or as a
//! refund (`payment:refunded`) — even when the process dies mid-request (`reconciler`).
//!
//! Never charging twice takes three locks on the way (see `routes::create_payment`): one attempt
//! at a time on the order replica, written before calling Stripe; Stripe's own idempotency key
//! derived from the order and the card token (`charges::idempotency_key`); and a unique index on
//! `payments.orderId`.

pub mod app;
pub mod charges;
pub mod config;
pub mod events;
pub mod models;
pub mod reconciler;
pub mod routes;
pub mod settlement;

pub use app::{AppState, router};
pub use config::Config;

use std::future::Future;
use std::time::Duration;

use common::events::{ListenerOptions, Nats, QueueGroup};
use common::outbox::{Outbox, OutboxOptions};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Knobs tests turn; production uses the defaults.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub listener: ListenerOptions,
    pub outbox: OutboxOptions,
    /// How long a payment attempt is its request's before the reconciler may settle it.
    pub attempt_lease: Duration,
    /// How often the reconciler looks for lapsed attempts and due refunds.
    pub reconcile_interval: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            listener: ListenerOptions::default(),
            outbox: OutboxOptions::default(),
            attempt_lease: models::order::ATTEMPT_LEASE,
            reconcile_interval: Duration::from_secs(1),
        }
    }
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
    let mut state = AppState::new(&database, &config, outbox.clone(), stripe);
    state.attempt_lease = tuning.attempt_lease;
    models::ensure_indexes(&state).await?;
    outbox.ensure_indexes().await?;

    let stop = CancellationToken::new();
    let relay = outbox.spawn_relay(stop.clone());
    let reconciler = reconciler::spawn(state.clone(), tuning.reconcile_interval, stop.clone());
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
    for (task, handle) in [("outbox relay", relay), ("reconciler", reconciler)] {
        if let Err(error) = handle.await {
            tracing::error!(task, %error, "background task failed");
        }
    }
    served?;
    Ok(())
}
