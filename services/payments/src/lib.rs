//! The payments service: pays for an order with Stripe, exactly once.
//!
//! It keeps a replica of the orders (`orders`: id, version, status, userId, price, expiresAt)
//! from `order:created` and `order:cancelled` under the replica version rule, and owns
//! `payments` and `refunds`. `POST /api/payments {token, orderId}` charges the order's price
//! through Stripe's Charges API and records the payment together with its `payment:created`
//! event (transactional outbox); the orders service then marks the order `complete`.
//!
//! Payments is where "paid in time or expired" is decided (`store`, its settlement): it hears
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
pub mod openapi;
pub mod reconciler;
pub mod routes;
pub mod store;

pub use app::{AppState, router};
pub use config::Config;

use common::config::ExposeSecret as _;
use common::events::{Nats, QueueGroup};
use common::http::Readiness;
use common::outbox::Outbox;
use common::service::{Service, Tuning};
use tokio_util::sync::CancellationToken;

/// Connects to MongoDB and NATS, makes sure the indexes exist, starts the event consumers, the
/// outbox relay and the reconciler, and binds the port.
pub async fn build(config: Config, tuning: Tuning) -> anyhow::Result<Service> {
    let (client, database) = common::mongo::connect(&config.service.mongo, "payments").await?;
    let nats = Nats::connect(&config.service.nats).await?;
    let outbox = Outbox::new(client, &database, nats.publisher()).with_options(tuning.outbox);
    let stripe = charges::Stripe::new(config.stripe_key.expose_secret(), &config.stripe_api_base)?;
    let store = store::Store::new(&database, outbox.clone());
    store.ensure_indexes(&database).await?;
    let mut state = AppState::new(store.clone(), &config, stripe);
    state.attempt_lease = tuning.attempt_lease;

    let stop = CancellationToken::new();
    let relay = outbox.spawn_relay(stop.clone());
    let reconciler = reconciler::spawn(state.clone(), tuning.reconcile_interval, stop.clone());
    let mut consumers = nats
        .consumers(QueueGroup::PAYMENTS, stop.clone())
        .with_options(tuning.consumers);
    events::listen(&mut consumers, &store).await?;

    let readiness = Readiness::new().mongo(database).nats(nats.client().clone());
    let listener = common::http::bind(config.service.port).await?;
    Ok(
        Service::new("payments", listener, router(state, readiness), stop)
            .with_consumers(consumers)
            .with_task("outbox relay", relay)
            .with_task("reconciler", reconciler),
    )
}
