//! The tickets service: list, show, create and edit tickets; reserve and release them as orders
//! come and go.
//!
//! It owns the `tickets` collection. Every change publishes the ticket as it now is
//! (`ticket:created` / `ticket:updated`) through the transactional outbox (`common::outbox`),
//! and it listens to `order:created` and `order:cancelled` as the `tickets-service` queue group
//! ([`events`]).

pub mod app;
pub mod config;
pub mod events;
pub mod models;
pub mod routes;

pub use app::{AppState, router};
pub use config::Config;

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context as _;
use common::SessionKeys;
use common::events::{Listener, ListenerStats, Nats, QueueGroup};
use common::outbox::Outbox;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::models::ticket::TicketStore;

/// A running tickets service: HTTP server, event consumers and outbox relay.
pub struct App {
    address: SocketAddr,
    store: TicketStore,
    stats: ListenerStats,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    listener: Listener,
    relay: Option<JoinHandle<()>>,
}

/// Connects to MongoDB and NATS, prepares indexes, the stream and the consumers, and starts
/// serving on `tcp`. Fails if MongoDB or NATS cannot be reached now.
pub async fn start(config: Config, tcp: TcpListener) -> anyhow::Result<App> {
    let (client, database) = common::mongo::connect(&config.service.mongo_uri, "tickets").await?;
    let nats = Nats::connect(&config.service.nats_url, &config.service.nats_client_id).await?;
    let outbox = Outbox::new(client, &database, nats.publisher()).with_options(config.outbox);
    let store = TicketStore::new(&database, outbox.clone());
    store
        .ensure_indexes()
        .await
        .context("cannot create the indexes")?;

    let shutdown = CancellationToken::new();
    let mut listener = nats
        .listener(QueueGroup::TICKETS, shutdown.clone())
        .with_options(config.listener);
    events::listen(&mut listener, store.clone()).await?;
    let relay = config.relay.then(|| outbox.spawn_relay(shutdown.clone()));

    let state = AppState {
        store: store.clone(),
        keys: SessionKeys::new(&config.service.jwt_key, config.service.cookie_secure),
    };
    let address = tcp.local_addr()?;
    let server = tokio::spawn(common::http::serve(
        tcp,
        router(state, &database, &nats),
        shutdown.clone().cancelled_owned(),
    ));
    tracing::info!(%address, "tickets listening");
    Ok(App {
        address,
        stats: listener.stats(),
        store,
        shutdown,
        server,
        listener,
        relay,
    })
}

impl App {
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The tickets and their outbox, as the handlers use them.
    pub fn store(&self) -> &TicketStore {
        &self.store
    }

    /// What this instance's event consumers did.
    pub fn listener_stats(&self) -> ListenerStats {
        self.stats.clone()
    }

    /// Stops gracefully: no new requests or deliveries; requests and handlers in flight
    /// finish; the relay stops (whatever is pending stays in the outbox for the next start).
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let served = self.server.await;
        self.listener.join().await;
        if let Some(relay) = self.relay {
            relay.await.context("the outbox relay panicked")?;
        }
        served.context("the HTTP server panicked")??;
        Ok(())
    }
}

/// Runs the service until `shutdown` resolves (or the server fails), then stops gracefully.
pub async fn run(
    config: Config,
    tcp: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut app = start(config, tcp).await?;
    tokio::select! {
        () = shutdown => app.stop().await,
        served = &mut app.server => {
            app.shutdown.cancel();
            app.listener.join().await;
            served.context("the HTTP server panicked")??;
            anyhow::bail!("the HTTP server stopped unexpectedly")
        }
    }
}
