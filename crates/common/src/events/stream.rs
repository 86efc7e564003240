//! The connection to NATS and the one stream every event lives in.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use tokio_util::sync::CancellationToken;

use super::{Consumers, Publisher, QueueGroup, Subject};
use crate::config::{ExposeSecret as _, NatsConfig};

/// The stream holding every subject.
pub const STREAM: &str = "ticketing";

/// How long JetStream remembers a `Nats-Msg-Id` to drop a second publish of it. The outbox relay
/// republishes anything not confirmed, so this is the horizon within which a republish after a
/// lost ack is invisible downstream (beyond it, handlers' idempotency takes over).
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How long an event stays in the stream: the furthest back a consumer created later (a new
/// service, a replica rebuilt from nothing) can start, and how long a consumer may be stopped and
/// still catch up. Far above [`DUPLICATE_WINDOW`], which JetStream requires to be shorter.
pub const MAX_AGE: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// The most the stream stores, per copy. An event is 200–500 bytes and a sale causes about
/// eight, so this holds some two million sales — months of this marketplace's traffic, inside
/// the 8 GiB volume each NATS server has in Kubernetes (infra/k8s/nats.yaml), with room for
/// the parking stream and the file store's own overhead.
pub const MAX_BYTES: i64 = 4 * 1024 * 1024 * 1024;

/// The stream's configuration: file storage (events survive a NATS restart), every subject,
/// the duplicate window, and limits (limits retention, as NATS Streaming kept the original's
/// channels: a new service's durable consumers start from the oldest event kept).
///
/// When the stream is full it refuses new events (`discard: new`) rather than dropping the
/// oldest: dropping would silently take events from a consumer that has not read them yet,
/// whereas a refused publish is an error the outbox survives — the entry stays pending, the
/// relay retries it, `ticketing_outbox_oldest_pending_seconds` rises and its alert fires, and
/// nothing is lost once room is made (events age out after [`MAX_AGE`], or an operator raises the
/// limit). `replicas` is the number of copies a cluster keeps (`NATS_STREAM_REPLICAS`); durable
/// consumers inherit it.
pub fn stream_config(replicas: usize) -> stream::Config {
    stream::Config {
        name: STREAM.to_owned(),
        description: Some("Ticketing events".to_owned()),
        subjects: Subject::ALL.iter().map(|s| s.as_str().to_owned()).collect(),
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: DUPLICATE_WINDOW,
        max_age: MAX_AGE,
        max_bytes: MAX_BYTES,
        discard: stream::DiscardPolicy::New,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// Creates the stream (and the one of parking records, [`super::parked`]), or brings an
/// existing one to [`stream_config`] with `replicas` copies. Every service calls it at start,
/// so whichever starts first creates it and the others change nothing.
pub async fn ensure_stream(jetstream: &jetstream::Context, replicas: usize) -> anyhow::Result<()> {
    jetstream
        .create_or_update_stream(stream_config(replicas))
        .await
        .with_context(|| format!("cannot create or update the JetStream stream {STREAM}"))?;
    jetstream
        .create_or_update_stream(super::parked::parked_stream_config(replicas))
        .await
        .with_context(|| {
            format!(
                "cannot create or update the JetStream stream {}",
                super::parked::PARKED_STREAM
            )
        })?;
    Ok(())
}

/// How long a starting service keeps trying to set up its streams and consumers.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// `attempt`, tried again until [`START_DEADLINE`]: a cluster that is forming, or electing leaders
/// after losing a server, answers JetStream's API with timeouts for a few seconds (seen here:
/// the whole fleet starting against a three-node cluster that had just formed or restarted), and a
/// service that starts then must not die of it.
pub(crate) async fn retry_at_start<T, F, Fut>(what: &str, mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + START_DEADLINE;
    let mut delay = Duration::from_millis(200);
    loop {
        match attempt().await {
            Ok(done) => return Ok(done),
            Err(error) if tokio::time::Instant::now() + delay < deadline => {
                tracing::warn!(error = format!("{error:#}"), retry_in = ?delay, "cannot {what} yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(error) => return Err(error),
        }
    }
}

/// The client every process of the fleet connects with. Given a cluster's servers it picks one
/// at random and, if that one goes, reconnects to another (the cluster also tells it of members
/// it was not given), so losing a server costs a reconnect, not the connection.
async fn connect_client(config: &NatsConfig) -> anyhow::Result<async_nats::Client> {
    let servers = config
        .server_addrs()
        .map_err(|reason| anyhow::anyhow!("NATS_URL {:?}: {reason}", config.url))?;
    let mut options = async_nats::ConnectOptions::new();
    if let Some(credentials) = &config.credentials {
        options = options.user_and_password(
            credentials.user.clone(),
            credentials.password.expose_secret().to_owned(),
        );
    }
    options
        .name(&config.client_id)
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
        .connect(servers)
        .await
        .with_context(|| format!("cannot connect to NATS at {}", config.url))
}

/// A service's NATS connection and its JetStream context.
///
/// The client reconnects by itself for as long as the process lives (NATS being away is not a
/// reason to die: the outbox keeps events and consumers resume); readiness reports the outage.
#[derive(Clone, Debug)]
pub struct Nats {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    stream_replicas: usize,
}

impl Nats {
    /// Connects to the servers `config` names as its client id and ensures the streams, with
    /// its replicas. Fails if no server can be reached now: a service does not start without it.
    pub async fn connect(config: &NatsConfig) -> anyhow::Result<Self> {
        let client = connect_client(config).await?;
        let jetstream = jetstream::new(client.clone());
        retry_at_start("ensure the streams", || {
            ensure_stream(&jetstream, config.stream_replicas)
        })
        .await?;
        Ok(Self {
            client,
            jetstream,
            stream_replicas: config.stream_replicas,
        })
    }

    /// Connects without creating or changing any stream: for tools (`ops`), which must not
    /// reconfigure what the services set up.
    pub async fn attach(config: &NatsConfig) -> anyhow::Result<Self> {
        let client = connect_client(config).await?;
        let jetstream = jetstream::new(client.clone());
        Ok(Self {
            client,
            jetstream,
            stream_replicas: config.stream_replicas,
        })
    }

    /// Wraps an existing client (tests), ensuring the streams with one copy.
    pub async fn from_client(client: async_nats::Client) -> anyhow::Result<Self> {
        let jetstream = jetstream::new(client.clone());
        ensure_stream(&jetstream, 1).await?;
        Ok(Self {
            client,
            jetstream,
            stream_replicas: 1,
        })
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    pub fn publisher(&self) -> Publisher {
        Publisher::new(self.jetstream.clone()).with_stream_replicas(self.stream_replicas)
    }

    /// The consumers of `group`, which stop fetching when `shutdown` is cancelled.
    pub fn consumers(&self, group: QueueGroup, shutdown: CancellationToken) -> Consumers {
        Consumers::new(self.jetstream.clone(), group, shutdown)
            .with_stream_replicas(self.stream_replicas)
    }
}
