//! The orders service: a user reserves a ticket by ordering it, and has until `expiresAt` to pay.
//!
//! It owns the `orders` collection and keeps a replica of the tickets service's tickets (fed by
//! `ticket:created` / `ticket:updated`). It publishes `order:created` and `order:cancelled`
//! through its outbox (embedded in the order, in the change's one write), and listens to
//! `payment:expired` (payments' verdict that an
//! order's time ran out unpaid: cancel it) and `payment:created` (mark it complete). The rules that make this safe under
//! concurrency and redelivery are in [`models::order`] and [`store`] (one active order per ticket, decided by
//! a partial unique index; optimistic versions) and [`events`] (idempotent handlers).
//!
//! [`build`] wires it all up into a `common::service::Service`, which serves until shutdown and
//! then stops the event consumers and the outbox relay.

pub mod app;
pub mod config;
pub mod events;
pub mod models;
pub mod openapi;
pub mod routes;
pub mod store;

pub use app::{AppState, router};
pub use config::Config;

use common::events::{Nats, QueueGroup};
use common::http::Readiness;
use common::outbox::Outbox;
use common::service::{Service, Tuning};
use tokio_util::sync::CancellationToken;

/// Connects to MongoDB and NATS, makes sure the indexes and the stream exist, starts the event
/// consumers and the outbox relay, and binds the port.
pub async fn build(config: Config, tuning: Tuning) -> anyhow::Result<Service> {
    let (client, database) = common::mongo::connect(&config.service.mongo, "orders").await?;
    let nats = Nats::connect(&config.service.nats).await?;
    let outbox = Outbox::new(client, &database, nats.publisher()).with_options(tuning.outbox);
    let store = store::Store::new(&database, outbox);
    store.ensure_indexes().await?;

    let stop = CancellationToken::new();
    let mut consumers = nats
        .consumers(QueueGroup::ORDERS, stop.clone())
        .with_options(tuning.consumers);
    events::listen(&mut consumers, store.clone()).await?;
    // The store's outbox: it knows the collections that embed entries.
    let relay = store.outbox.spawn_relay(stop.clone());
    let readiness = Readiness::new().mongo(database).nats(nats.client().clone());
    let listener = common::http::bind(config.service.port).await?;
    Ok(Service::new(
        "orders",
        listener,
        router(AppState::new(store, &config), readiness),
        stop,
    )
    .with_consumers(consumers)
    .with_task("outbox relay", relay))
}
