//! The orders service: a user reserves a ticket by ordering it, and has until `expiresAt` to pay.
//!
//! It owns the `orders` collection and keeps a replica of the tickets service's tickets (fed by
//! `ticket:created` / `ticket:updated`). It publishes `order:created` and `order:cancelled`
//! through its transactional outbox, and listens to `payment:expired` (payments' verdict that an
//! order's time ran out unpaid: cancel it) and `payment:created` (mark it complete). The rules that make this safe under
//! concurrency and redelivery are in [`models::order`] (one active order per ticket, decided by
//! a partial unique index; optimistic versions) and [`events`] (idempotent handlers).
//!
//! [`App::start`] wires it all up and [`App::serve`] serves until shutdown, then stops the
//! event consumers and the outbox relay; [`run`] does both, as `main` needs.

pub mod app;
pub mod config;
pub mod events;
pub mod models;
pub mod routes;

pub use app::{AppState, router};
pub use config::Config;

use std::future::Future;

use common::events::{Listener, ListenerOptions, ListenerStats, Nats, QueueGroup};
use common::http::Readiness;
use common::outbox::{Outbox, OutboxOptions};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Timings of the event machinery; the defaults are the contract's, tests shorten them.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    pub listener: ListenerOptions,
    pub outbox: OutboxOptions,
}

/// A started service: connected, indexed, consuming events and relaying its outbox.
pub struct App {
    state: AppState,
    readiness: Readiness,
    listener: Listener,
    relay: JoinHandle<()>,
    stop: CancellationToken,
}

impl App {
    /// Connects to MongoDB and NATS, makes sure the indexes and the stream exist, and starts the
    /// event consumers and the outbox relay.
    pub async fn start(config: Config, tuning: Tuning) -> anyhow::Result<Self> {
        let (client, database) =
            common::mongo::connect(&config.service.mongo_uri, "orders").await?;
        let nats = Nats::connect(&config.service.nats_url, &config.service.nats_client_id).await?;
        let outbox = Outbox::new(client, &database, nats.publisher()).with_options(tuning.outbox);
        let state = AppState::new(&database, outbox.clone(), &config);
        models::order::ensure_indexes(&state.orders).await?;
        outbox.ensure_indexes().await?;

        let stop = CancellationToken::new();
        let mut listener = nats
            .listener(QueueGroup::ORDERS, stop.clone())
            .with_options(tuning.listener);
        events::listen(&mut listener, state.clone()).await?;
        let relay = outbox.spawn_relay(stop.clone());
        let readiness = Readiness::new().mongo(database).nats(nats.client().clone());
        Ok(Self {
            state,
            readiness,
            listener,
            relay,
            stop,
        })
    }

    /// What the event consumers have done so far (tests wait on it).
    pub fn listener_stats(&self) -> ListenerStats {
        self.listener.stats()
    }

    /// Serves on `listener` until `shutdown` resolves, lets in-flight requests finish, then stops
    /// the consumers (a delivery being handled is settled first) and the relay.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            state,
            readiness,
            listener: consumers,
            relay,
            stop,
        } = self;
        tracing::info!(address = %listener.local_addr()?, "orders listening");
        let served = common::http::serve(listener, router(state, readiness), shutdown).await;
        stop.cancel();
        consumers.join().await;
        if let Err(error) = relay.await {
            tracing::error!(%error, "outbox relay task failed");
        }
        tracing::info!("orders stopped");
        Ok(served?)
    }
}

/// Starts the service with the contract's timings and serves on `listener` until `shutdown`.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    App::start(config, Tuning::default())
        .await?
        .serve(listener, shutdown)
        .await
}
