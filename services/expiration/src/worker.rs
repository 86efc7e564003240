//! The worker: polls the queue for due jobs and turns each into `expiration:complete`.
//!
//! Every replica runs one. Each poll claims what is due (atomically, see [`crate::queue`]),
//! publishes `expiration:complete {orderId}` under the message id `expiration:<orderId>`, and
//! completes the job; a failed publish puts the job back a little later. Polling every
//! [`POLL_INTERVAL`] keeps a job's firing within that of its due time, at the cost of one cheap
//! script call per interval per replica — simpler than keyspace notifications or a blocking pop,
//! neither of which survives a worker crash without the same lease bookkeeping.

use std::time::Duration;

use bson::oid::ObjectId;
use common::events::{Event as _, ExpirationComplete, Publisher, publish_span};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::queue::{Claimed, JobQueue, now_ms};

/// How often the worker looks for due jobs.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Jobs claimed per poll; a full batch is followed by another poll straight away.
const BATCH: usize = 64;
/// How long a job whose publish failed waits before it is tried again.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// The longest pause between polls while Redis fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The message id of the one `expiration:complete` of an order, whichever replica publishes it
/// and however often.
pub fn message_id(order_id: &str) -> String {
    format!("expiration:{order_id}")
}

pub struct Worker {
    queue: JobQueue,
    publisher: Publisher,
}

impl Worker {
    pub fn new(queue: JobQueue, publisher: Publisher) -> Self {
        Self { queue, publisher }
    }

    /// Polls until `shutdown` is cancelled. A job being published when it is cancelled is
    /// finished; jobs claimed but not yet started are given back.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures: u32 = 0;
        let mut reported_at: Option<std::time::Instant> = None;
        loop {
            let pause = if failures == 0 {
                POLL_INTERVAL
            } else {
                POLL_INTERVAL
                    .saturating_mul(2u32.saturating_pow(failures.min(16)))
                    .min(MAX_BACKOFF)
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
            self.report_jobs(&mut reported_at).await;
            // A full batch means more may be due: poll again at once.
            loop {
                match self.queue.claim(now_ms(), BATCH).await {
                    Ok(jobs) => {
                        if failures > 0 {
                            tracing::info!("redis is back; polling for due jobs again");
                            failures = 0;
                        }
                        let full = jobs.len() >= BATCH;
                        self.fire_all(jobs, &shutdown).await;
                        if !full || shutdown.is_cancelled() {
                            break;
                        }
                    }
                    Err(error) => {
                        if failures == 0 {
                            tracing::warn!(%error, "cannot claim due jobs; retrying with backoff");
                        }
                        failures = failures.saturating_add(1);
                        break;
                    }
                }
            }
        }
        tracing::info!("expiration worker stopped");
    }

    /// Fires claimed jobs in order. After a failed publish (NATS is away, most likely) or on
    /// shutdown, the rest are given back rather than held past their lease one timeout at a time.
    async fn fire_all(&self, jobs: Vec<Claimed>, shutdown: &CancellationToken) {
        let mut jobs = jobs.into_iter();
        let mut give_back_at = now_ms();
        for job in jobs.by_ref() {
            if !self.fire(&job).await {
                give_back_at = retry_time();
                break;
            }
            if shutdown.is_cancelled() {
                break;
            }
        }
        for job in jobs {
            self.give_back(&job.id, give_back_at).await;
        }
    }

    /// `ticketing_expiration_jobs{state="due"|"processing"}`, read from Redis at most once a
    /// second (the poll runs ten times as often).
    async fn report_jobs(&self, reported_at: &mut Option<std::time::Instant>) {
        if reported_at.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(1)) {
            return;
        }
        *reported_at = Some(std::time::Instant::now());
        if let Ok((due, processing)) = self.queue.counts().await {
            metrics::gauge!("ticketing_expiration_jobs", "state" => "due").set(due as f64);
            metrics::gauge!("ticketing_expiration_jobs", "state" => "processing")
                .set(processing as f64);
        }
    }

    /// Publishes one job's event and completes it; false if the publish failed (the job is then
    /// due again after [`RETRY_DELAY`]). The publish is a span of the trace that scheduled it.
    async fn fire(&self, claimed: &Claimed) -> bool {
        let job = claimed.id.as_str();
        let msg_id = message_id(job);
        let span = publish_span(
            ExpirationComplete::SUBJECT,
            &msg_id,
            claimed.traceparent.as_deref(),
        );
        self.publish(job, &msg_id, claimed.due_ms)
            .instrument(span)
            .await
    }

    async fn publish(&self, job: &str, msg_id: &str, due_ms: i64) -> bool {
        let Ok(order_id) = ObjectId::parse_str(job) else {
            // Only `order:created` schedules jobs, and its ids are ObjectIds: this is a foreign
            // key in our namespace. Drop it rather than claim it again every lease.
            tracing::error!(job, "dropping a job whose id is not an order id");
            self.complete(job).await;
            return true;
        };
        let event = ExpirationComplete { order_id };
        match self.publisher.publish_with_id(msg_id, &event).await {
            Ok(published) => {
                tracing::info!(
                    order = job,
                    sequence = published.sequence,
                    duplicate = published.duplicate,
                    "expiration:complete published"
                );
                // From when it fell due to when its event was stored.
                let late_ms = (now_ms() - due_ms).max(0);
                metrics::histogram!("ticketing_expiration_lateness_seconds")
                    .record(late_ms as f64 / 1000.0);
                self.complete(job).await;
                true
            }
            Err(error) => {
                tracing::warn!(order = job, %error, "cannot publish expiration:complete; retrying");
                self.give_back(job, retry_time()).await;
                false
            }
        }
    }

    async fn give_back(&self, job: &str, due_ms: i64) {
        if let Err(error) = self.queue.retry_at(job, due_ms).await {
            tracing::warn!(order = job, %error, "cannot give a job back; its lease will free it");
        }
    }

    async fn complete(&self, job: &str) {
        if let Err(error) = self.queue.complete(job).await {
            // The job comes back when its lease runs out and is published again under the same
            // message id, which JetStream drops.
            tracing::warn!(order = job, %error, "cannot complete a fired job");
        }
    }
}

fn retry_time() -> i64 {
    now_ms().saturating_add(i64::try_from(RETRY_DELAY.as_millis()).unwrap_or(i64::MAX))
}
