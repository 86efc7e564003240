//! Consuming events: a durable pull consumer per (queue group, subject), and what happens to a
//! delivery depending on its handler's outcome (see the table in [`crate::events`]).
//!
//! Each consumer is driven by one task that handles up to [`ConsumerOptions::batch`] deliveries
//! at once; a service's replicas pull from the same durable consumer, so JetStream hands each
//! event to one of them. Handling several at once is what two replicas of a service already do,
//! so it relies on nothing new: handlers are idempotent and replicas apply versions in order
//! whatever order the events arrive in (an early one is nakked and comes back). One at a time,
//! a consumer's throughput was that of one handler's round trips to MongoDB and NATS: orders'
//! replica took 14.5 s to take the tickets a 6 s burst of sales created, and a burst of orders
//! settled at 227 a second where its I/O allows 568 (BENCHMARKS.md, "Settled").
//! The task survives NATS going away: any error on the pull stream drops it and, after a pause,
//! the consumer is looked up (re-created if need be) and pulling resumes. Cancelling the
//! shutdown token stops pulling; the deliveries being handled are finished and settled first.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, AckKind};
use futures::stream::FuturesUnordered;
use futures::{FutureExt as _, StreamExt as _};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::{Event, QueueGroup, STREAM, Subject, ensure_stream};

/// Why a handler did not finish an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event cannot be applied *yet*, typically a version gap: the replica holds version
    /// N-2 and this is N. It is nakked with a short delay and comes back after its predecessor.
    #[error("not yet: {0}")]
    NotYet(String),
    /// Anything else that went wrong; retried with a growing delay, parked in the end.
    #[error(transparent)]
    Failed(anyhow::Error),
}

impl HandlerError {
    pub fn not_yet(reason: impl Into<String>) -> Self {
        Self::NotYet(reason.into())
    }

    pub fn failed(cause: impl Into<anyhow::Error>) -> Self {
        Self::Failed(cause.into())
    }
}

impl From<anyhow::Error> for HandlerError {
    fn from(cause: anyhow::Error) -> Self {
        Self::Failed(cause)
    }
}

impl From<mongodb::error::Error> for HandlerError {
    fn from(cause: mongodb::error::Error) -> Self {
        Self::Failed(cause.into())
    }
}

/// How consumers are configured and deliveries retried. The defaults are the contract's; tests
/// shorten the delays.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// How long JetStream waits for an ack before redelivering (the original's 5 s). A handler
    /// running longer keeps its delivery by reporting progress every half of it.
    pub ack_wait: Duration,
    /// Deliveries of one event before it is parked.
    pub max_deliver: i64,
    /// Messages requested per pull, and how many a consumer handles at once: every message
    /// pulled is being handled, so none waits out its ack wait behind a slow one. Small, so
    /// replicas share the work.
    pub batch: usize,
    /// The first delay of a [`HandlerError::NotYet`] nak; doubles per delivery.
    pub not_yet_delay: Duration,
    /// The first delay of a [`HandlerError::Failed`] nak; doubles per delivery.
    pub retry_delay: Duration,
    /// The longest nak delay.
    pub max_retry_delay: Duration,
    /// A handler running longer than this counts as failed (its future is dropped).
    pub handler_timeout: Duration,
    /// How often JetStream's view of each consumer (pending, awaiting ack, redelivered) is
    /// read into the `ticketing_consumer_*` gauges.
    pub lag_interval: Duration,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        Self {
            ack_wait: Duration::from_secs(5),
            max_deliver: 10,
            batch: 8,
            not_yet_delay: Duration::from_millis(250),
            retry_delay: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(30),
            handler_timeout: Duration::from_secs(60),
            lag_interval: Duration::from_secs(5),
        }
    }
}

impl ConsumerOptions {
    /// `first`, doubled for each delivery after the first, capped.
    fn backoff(&self, first: Duration, delivered: i64) -> Duration {
        let doublings = u32::try_from(delivered.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        first
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max_retry_delay)
    }
}

/// Counters of what a service's consumers did, across all its subjects.
#[derive(Debug, Clone, Default)]
pub struct ConsumerStats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    handled: AtomicU64,
    retried: AtomicU64,
    terminated: AtomicU64,
    parked: AtomicU64,
}

impl ConsumerStats {
    /// Deliveries whose handler succeeded (and were acked).
    pub fn handled(&self) -> u64 {
        self.0.handled.load(Ordering::Relaxed)
    }

    /// Deliveries nakked for redelivery.
    pub fn retried(&self) -> u64 {
        self.0.retried.load(Ordering::Relaxed)
    }

    /// Deliveries terminated because their body did not parse.
    pub fn terminated(&self) -> u64 {
        self.0.terminated.load(Ordering::Relaxed)
    }

    /// Events given up on after their last allowed delivery.
    pub fn parked(&self) -> u64 {
        self.0.parked.load(Ordering::Relaxed)
    }
}

/// The event consumers of one service (one queue group).
#[derive(Debug)]
pub struct Consumers {
    jetstream: jetstream::Context,
    group: QueueGroup,
    shutdown: CancellationToken,
    options: ConsumerOptions,
    /// The copies the stream has when a consumer must recreate it.
    stream_replicas: usize,
    tasks: JoinSet<()>,
    stats: ConsumerStats,
}

impl Consumers {
    pub fn new(
        jetstream: jetstream::Context,
        group: QueueGroup,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            jetstream,
            group,
            shutdown,
            options: ConsumerOptions::default(),
            stream_replicas: 1,
            tasks: JoinSet::new(),
            stats: ConsumerStats::default(),
        }
    }

    pub fn with_options(mut self, options: ConsumerOptions) -> Self {
        self.options = options;
        self
    }

    /// Recreates a lost stream with `replicas` copies (`NATS_STREAM_REPLICAS`), not one.
    pub fn with_stream_replicas(mut self, replicas: usize) -> Self {
        self.stream_replicas = replicas;
        self
    }

    pub fn stats(&self) -> ConsumerStats {
        self.stats.clone()
    }

    /// Creates (or updates) the durable consumer of this group for `E`'s subject and starts
    /// handling its deliveries with `handler(event, state.clone())` in a task of its own.
    ///
    /// Fails only if the consumer cannot be created within a minute (a forming cluster answers
    /// with timeouts for a few seconds); once running, the task outlives NATS outages until
    /// shutdown.
    pub async fn listen<E, S, H, Fut>(&mut self, state: S, handler: H) -> anyhow::Result<()>
    where
        E: Event,
        S: Clone + Send + Sync + 'static,
        H: Fn(E, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let consumer = Consumer {
            jetstream: self.jetstream.clone(),
            durable: self.group.durable_name(E::SUBJECT),
            subject: E::SUBJECT,
            options: self.options.clone(),
            stream_replicas: self.stream_replicas,
            stats: self.stats.clone(),
        };
        let pull =
            super::stream::retry_at_start("create the consumer", || consumer.create()).await?;
        tracing::info!(consumer = %consumer.durable, subject = %E::SUBJECT, "listening");
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(report_lag(
            self.jetstream.clone(),
            consumer.durable.clone(),
            self.options.lag_interval,
            shutdown.clone(),
        ));
        self.tasks
            .spawn(consumer.run(pull, shutdown, move |event: E| {
                handler(event, state.clone())
            }));
        Ok(())
    }

    /// Waits for every consumer task to finish: call after cancelling the shutdown token.
    pub async fn join(mut self) {
        while let Some(result) = self.tasks.join_next().await {
            if let Err(error) = result {
                tracing::error!(%error, "event consumer task failed");
            }
        }
    }
}

/// Reads JetStream's view of `durable` every `every` into the `ticketing_consumer_pending`
/// (not yet delivered), `ticketing_consumer_ack_pending` (delivered, not settled) and
/// `ticketing_consumer_redelivered` gauges, until shutdown. The server's figures, not ours:
/// they include what other replicas of the service hold. While NATS is away the gauges keep
/// their last value (the `up` and outbox alerts say why).
async fn report_lag(
    jetstream: jetstream::Context,
    durable: String,
    every: Duration,
    shutdown: CancellationToken,
) {
    // Looked up once, and again only after a failure: one request per reading, not two.
    let mut stream = None;
    loop {
        if stream.is_none() {
            stream = jetstream.get_stream(STREAM).await.ok();
        }
        let info = match &stream {
            Some(found) => found.consumer_info(&durable).await.ok(),
            None => None,
        };
        if info.is_none() {
            stream = None;
        }
        if let Some(info) = info {
            let consumer = durable.clone();
            metrics::gauge!("ticketing_consumer_pending", "consumer" => consumer.clone())
                .set(info.num_pending as f64);
            metrics::gauge!("ticketing_consumer_ack_pending", "consumer" => consumer.clone())
                .set(info.num_ack_pending as f64);
            metrics::gauge!("ticketing_consumer_redelivered", "consumer" => consumer)
                .set(info.num_redelivered as f64);
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// One durable consumer and the rules for its deliveries.
struct Consumer {
    jetstream: jetstream::Context,
    durable: String,
    subject: Subject,
    options: ConsumerOptions,
    stream_replicas: usize,
    stats: ConsumerStats,
}

/// How long one pull request waits on the server, and the heartbeat that tells a silent server
/// from a quiet subject.
const PULL_EXPIRES: Duration = Duration::from_secs(30);
const PULL_HEARTBEAT: Duration = Duration::from_secs(5);

impl Consumer {
    fn config(&self) -> pull::Config {
        pull::Config {
            durable_name: Some(self.durable.clone()),
            description: Some(format!("{} of {}", self.subject, self.durable)),
            // A new service's consumer starts at the beginning: its replicas need every event.
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.options.ack_wait,
            max_deliver: self.options.max_deliver,
            filter_subject: self.subject.as_str().to_owned(),
            ..Default::default()
        }
    }

    /// Creates the consumer, or updates it to this configuration if it exists.
    async fn create(&self) -> anyhow::Result<PullConsumer> {
        self.jetstream
            .create_consumer_on_stream(self.config(), STREAM)
            .await
            .map_err(|error| {
                anyhow::anyhow!(
                    "cannot create the consumer {} on {STREAM}: {error}",
                    self.durable
                )
            })
    }

    /// After a failure: the server may have restarted without its store, so the stream is
    /// ensured before the consumer.
    async fn recreate(&self) -> anyhow::Result<PullConsumer> {
        ensure_stream(&self.jetstream, self.stream_replicas).await?;
        self.create().await
    }

    async fn run<E, F, Fut>(self, first: PullConsumer, shutdown: CancellationToken, handler: F)
    where
        E: Event,
        F: Fn(E) -> Fut + Send + Sync,
        Fut: Future<Output = Result<(), HandlerError>> + Send,
    {
        let mut ready = Some(first);
        let mut failures: u32 = 0;
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let first = ready.take();
            let subscribe = async {
                let consumer = match first {
                    Some(consumer) => consumer,
                    None => self.recreate().await?,
                };
                consumer
                    .stream()
                    .max_messages_per_batch(self.options.batch.max(1))
                    .expires(PULL_EXPIRES)
                    .heartbeat(PULL_HEARTBEAT)
                    .messages()
                    .await
                    .map_err(anyhow::Error::from)
            };
            // While NATS is away these requests wait for their timeouts; shutdown need not.
            let messages = tokio::select! {
                () = shutdown.cancelled() => return,
                messages = subscribe => messages,
            };
            match messages {
                Ok(mut messages) => {
                    let limit = self.options.batch.max(1);
                    let mut handling = FuturesUnordered::new();
                    let stopping = loop {
                        tokio::select! {
                            biased;
                            () = shutdown.cancelled() => break true,
                            Some(()) = handling.next(), if !handling.is_empty() => {}
                            next = messages.next(), if handling.len() < limit => match next {
                                Some(Ok(message)) => {
                                    failures = 0;
                                    handling.push(self.deliver(message, &handler));
                                }
                                Some(Err(error)) => {
                                    tracing::warn!(consumer = %self.durable, %error, "pulling failed; resubscribing");
                                    break false;
                                }
                                None => break false,
                            },
                        }
                    };
                    // Not raced against shutdown: a started delivery is settled.
                    while handling.next().await.is_some() {}
                    if stopping {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(consumer = %self.durable, error = %error, "cannot pull; retrying");
                }
            }
            failures = failures.saturating_add(1);
            let pause = Duration::from_millis(200)
                .saturating_mul(failures.min(25))
                .min(Duration::from_secs(5));
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Handles one delivery inside its consumer span (OpenTelemetry's messaging conventions): a
    /// child of the publish span whose `traceparent` the message carries, so the handling, its
    /// log lines and whatever it publishes in turn belong to the trace that caused the event.
    async fn deliver<E, F, Fut>(&self, message: jetstream::Message, handler: &F)
    where
        E: Event,
        F: Fn(E) -> Fut,
        Fut: Future<Output = Result<(), HandlerError>> + Send,
    {
        let header = |name: &str| {
            message
                .headers
                .as_ref()
                .and_then(|headers| headers.get(name))
                .map(|value| value.as_str())
        };
        let span = tracing::info_span!(
            "process",
            otel.name = format!("process {}", self.subject),
            otel.kind = "consumer",
            messaging.system = "nats",
            messaging.operation.type = "process",
            messaging.operation.name = "process",
            messaging.destination.name = self.subject.as_str(),
            messaging.consumer.group.name = self.durable.as_str(),
            messaging.message.id = header(async_nats::header::NATS_MESSAGE_ID.as_ref()),
        );
        crate::telemetry::set_parent(&span, header(crate::telemetry::TRACEPARENT));
        self.handle(message, handler).instrument(span).await;
    }

    async fn handle<E, F, Fut>(&self, message: jetstream::Message, handler: &F)
    where
        E: Event,
        F: Fn(E) -> Fut,
        Fut: Future<Output = Result<(), HandlerError>> + Send,
    {
        let (sequence, delivered) = match message.info() {
            Ok(info) => (info.stream_sequence, info.delivered),
            Err(error) => {
                tracing::warn!(consumer = %self.durable, %error, "not a JetStream delivery; ignored");
                return;
            }
        };
        let subject = self.subject;
        let event: E = match serde_json::from_slice(&message.payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(
                    consumer = %self.durable, %subject, sequence, delivered,
                    body = %String::from_utf8_lossy(&message.payload), %error,
                    "event body does not parse; terminated, never retried"
                );
                self.settle(&message, AckKind::Term, sequence).await;
                self.stats.0.terminated.fetch_add(1, Ordering::Relaxed);
                handled(subject, "rejected");
                self.park(
                    subject,
                    sequence,
                    delivered,
                    format!("body does not parse: {error}"),
                )
                .await;
                return;
            }
        };

        let started = std::time::Instant::now();
        let outcome = self.run_handler(handler(event), &message).await;
        metrics::histogram!("ticketing_event_handling_duration_seconds", "subject" => subject.as_str())
            .record(started.elapsed().as_secs_f64());
        match outcome {
            Ok(()) => {
                // The double ack waits for the server: an ack lost on the way would otherwise
                // mean a redelivery (harmless, as handlers are idempotent, but wasted work).
                if let Err(error) = message.double_ack().await {
                    tracing::warn!(consumer = %self.durable, sequence, %error, "ack not confirmed; the event may be redelivered");
                }
                self.stats.0.handled.fetch_add(1, Ordering::Relaxed);
                handled(subject, "acked");
            }
            Err(error) if delivered >= self.options.max_deliver => {
                tracing::error!(
                    consumer = %self.durable, %subject, sequence, delivered,
                    body = %String::from_utf8_lossy(&message.payload), error = %error,
                    "event parked: its last allowed delivery failed; it stays in the stream at this sequence"
                );
                self.settle(&message, AckKind::Term, sequence).await;
                self.stats.0.parked.fetch_add(1, Ordering::Relaxed);
                handled(subject, "parked");
                self.park(subject, sequence, delivered, format!("{error:#}"))
                    .await;
            }
            Err(HandlerError::NotYet(reason)) => {
                let delay = self.options.backoff(self.options.not_yet_delay, delivered);
                tracing::debug!(consumer = %self.durable, sequence, delivered, %reason, ?delay, "not yet; redelivering later");
                self.settle(&message, AckKind::Nak(Some(delay)), sequence)
                    .await;
                self.stats.0.retried.fetch_add(1, Ordering::Relaxed);
                handled(subject, "retried");
            }
            Err(HandlerError::Failed(error)) => {
                let delay = self.options.backoff(self.options.retry_delay, delivered);
                tracing::warn!(consumer = %self.durable, sequence, delivered, error = ?error, ?delay, "handler failed; redelivering later");
                self.settle(&message, AckKind::Nak(Some(delay)), sequence)
                    .await;
                self.stats.0.retried.fetch_add(1, Ordering::Relaxed);
                handled(subject, "retried");
            }
        }
    }

    /// Runs a handler to its end, keeping the delivery ours while it runs, and turning a panic or
    /// a timeout into a failure rather than a dead consumer.
    async fn run_handler<Fut>(
        &self,
        handling: Fut,
        message: &jetstream::Message,
    ) -> Result<(), HandlerError>
    where
        Fut: Future<Output = Result<(), HandlerError>> + Send,
    {
        let guarded = tokio::time::timeout(
            self.options.handler_timeout,
            AssertUnwindSafe(handling).catch_unwind(),
        );
        tokio::pin!(guarded);
        let every = (self.options.ack_wait / 2).max(Duration::from_millis(100));
        let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                outcome = &mut guarded => {
                    return match outcome {
                        Ok(Ok(result)) => result,
                        Ok(Err(panic)) => Err(HandlerError::Failed(anyhow::anyhow!(
                            "handler panicked: {}",
                            panic_message(panic.as_ref())
                        ))),
                        Err(_) => Err(HandlerError::Failed(anyhow::anyhow!(
                            "handler timed out after {:?}",
                            self.options.handler_timeout
                        ))),
                    };
                }
                _ = progress.tick() => {
                    if let Err(error) = message.ack_with(AckKind::Progress).await {
                        tracing::debug!(consumer = %self.durable, %error, "cannot report progress");
                    }
                }
            }
        }
    }

    /// Records a delivery given up on where `ops parked` finds it.
    async fn park(&self, subject: Subject, sequence: u64, deliveries: i64, error: String) {
        let record = super::parked::ParkedEvent {
            consumer: self.durable.clone(),
            subject: subject.as_str().to_owned(),
            sequence,
            deliveries,
            error,
            parked_at: super::parked::ParkedEvent::now(),
            outbox_entry: None,
        };
        super::parked::record(&self.jetstream, &record).await;
    }

    async fn settle(&self, message: &jetstream::Message, kind: AckKind, sequence: u64) {
        if let Err(error) = message.ack_with(kind).await {
            // The server redelivers after the ack wait, and the outcome is decided again then.
            tracing::warn!(consumer = %self.durable, sequence, ?kind, %error, "cannot settle the delivery");
        }
    }
}

/// `ticketing_events_handled_total`: every delivery settled, by how (`acked`, `retried`,
/// `parked`, `rejected` for a body that does not parse).
fn handled(subject: Subject, outcome: &'static str) {
    metrics::counter!(
        "ticketing_events_handled_total",
        "subject" => subject.as_str(),
        "outcome" => outcome,
    )
    .increment(1);
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nak_delays_double_and_are_capped() {
        let options = ConsumerOptions::default();
        let delays: Vec<_> = (1..=8)
            .map(|delivered| options.backoff(options.retry_delay, delivered).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(
            options.backoff(options.not_yet_delay, 1),
            Duration::from_millis(250)
        );
        assert_eq!(
            options.backoff(options.retry_delay, i64::MAX),
            Duration::from_secs(30)
        );
    }
}
