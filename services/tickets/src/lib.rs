//! The tickets service: list, show, create and edit tickets; reserve and release them as orders
//! come and go.
//!
//! It owns the `tickets` collection. Every change publishes the ticket as it now is
//! (`ticket:created` / `ticket:updated`) through the outbox (`common::outbox`: the event is
//! written inside the ticket, in the change's one write),
//! and it listens to `order:created` and `order:cancelled` as the `tickets-service` queue group
//! ([`events`]).

pub mod app;
pub mod config;
pub mod events;
pub mod models;
pub mod openapi;
pub mod routes;
pub mod store;

pub use app::{AppState, router};
pub use config::Config;

use common::SessionKeys;
use common::events::{Nats, QueueGroup};
use common::http::Readiness;
use common::outbox::Outbox;
use common::service::{Service, Tuning};
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// Connects to MongoDB and NATS, prepares indexes, the stream and the consumers, starts the
/// outbox relay and binds the port. Fails if MongoDB or NATS cannot be reached now.
pub async fn build(config: Config, tuning: Tuning) -> anyhow::Result<Service> {
    let (client, database) = common::mongo::connect(&config.service.mongo, "tickets").await?;
    let nats = Nats::connect(&config.service.nats).await?;
    let outbox = Outbox::new(client, &database, nats.publisher()).with_options(tuning.outbox);
    let store = Store::new(&database, outbox);
    store.ensure_indexes().await?;

    let stop = CancellationToken::new();
    let mut consumers = nats
        .consumers(QueueGroup::TICKETS, stop.clone())
        .with_options(tuning.consumers);
    events::listen(&mut consumers, store.clone()).await?;
    // The store's outbox: it knows the collections that embed entries.
    let relay = store.outbox.spawn_relay(stop.clone());

    let state = AppState {
        store,
        keys: SessionKeys::from_config(&config.service.session),
    };
    let readiness = Readiness::new().mongo(database).nats(nats.client().clone());
    let listener = common::http::bind(config.service.port).await?;
    Ok(
        Service::new("tickets", listener, router(state, readiness), stop)
            .with_consumers(consumers)
            .with_task("outbox relay", relay),
    )
}
