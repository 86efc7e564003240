//! The connection to NATS and the one stream every event lives in.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use tokio_util::sync::CancellationToken;

use super::{Consumers, Publisher, QueueGroup, Subject};

/// The stream holding every subject.
pub const STREAM: &str = "ticketing";

/// How long JetStream remembers a `Nats-Msg-Id` to drop a second publish of it. The outbox relay
/// republishes anything not confirmed, so this is the horizon within which a republish after a
/// lost ack is invisible downstream (beyond it, handlers' idempotency takes over).
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The stream's configuration: file storage (events survive a NATS restart), every subject,
/// and the duplicate window. Messages are kept (limits retention, no limits), as NATS Streaming
/// kept the original's channels, so a new service's durable consumers start from the beginning.
pub fn stream_config() -> stream::Config {
    stream::Config {
        name: STREAM.to_owned(),
        description: Some("Ticketing events".to_owned()),
        subjects: Subject::ALL.iter().map(|s| s.as_str().to_owned()).collect(),
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    }
}

/// Creates the stream (and the one of parking records, [`super::parked`]), or brings an
/// existing one to [`stream_config`]. Every service calls it at
/// start, so whichever starts first creates it and the others change nothing.
pub async fn ensure_stream(jetstream: &jetstream::Context) -> anyhow::Result<()> {
    jetstream
        .create_or_update_stream(stream_config())
        .await
        .with_context(|| format!("cannot create or update the JetStream stream {STREAM}"))?;
    jetstream
        .create_or_update_stream(super::parked::parked_stream_config())
        .await
        .with_context(|| {
            format!(
                "cannot create or update the JetStream stream {}",
                super::parked::PARKED_STREAM
            )
        })?;
    Ok(())
}

/// A service's NATS connection and its JetStream context.
///
/// The client reconnects by itself for as long as the process lives (NATS being away is not a
/// reason to die: the outbox keeps events and consumers resume); readiness reports the outage.
#[derive(Clone, Debug)]
pub struct Nats {
    client: async_nats::Client,
    jetstream: jetstream::Context,
}

impl Nats {
    /// Connects to `url` as `client_name` (`NATS_CLIENT_ID`) and ensures the stream exists.
    /// Fails if the server cannot be reached now: a service does not start without it.
    pub async fn connect(url: &str, client_name: &str) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .name(client_name)
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            // The default backoff grows to 4 s; a shorter cap gets consumers and the relay going
            // sooner once NATS is back, at the cost of a connection attempt per second while not.
            // The client counts its very first connection as attempt 1: no delay for that one,
            // or every service would start 100 ms late.
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(100u64.saturating_mul(attempts.saturating_sub(1) as u64))
                    .min(Duration::from_secs(1))
            })
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("nats connected"),
                    async_nats::Event::Disconnected => tracing::warn!("nats disconnected"),
                    other => tracing::debug!(event = %other, "nats event"),
                }
            })
            .connect(url)
            .await
            .with_context(|| format!("cannot connect to NATS at {url}"))?;
        let jetstream = jetstream::new(client.clone());
        ensure_stream(&jetstream).await?;
        Ok(Self { client, jetstream })
    }

    /// Wraps an existing client (tests), ensuring the stream.
    pub async fn from_client(client: async_nats::Client) -> anyhow::Result<Self> {
        let jetstream = jetstream::new(client.clone());
        ensure_stream(&jetstream).await?;
        Ok(Self { client, jetstream })
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    pub fn publisher(&self) -> Publisher {
        Publisher::new(self.jetstream.clone())
    }

    /// The consumers of `group`, which stop fetching when `shutdown` is cancelled.
    pub fn consumers(&self, group: QueueGroup, shutdown: CancellationToken) -> Consumers {
        Consumers::new(self.jetstream.clone(), group, shutdown)
    }
}
