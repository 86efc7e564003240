//! Parked events, where an operator finds them: one record per event given up on, in the
//! JetStream stream [`PARKED_STREAM`]:
//!
//! - a **delivery** a consumer gave up on — its last allowed delivery failed, or its body does
//!   not parse — (subject `parked.<consumer>`); the event itself stays in
//!   [`STREAM`](super::STREAM) at its sequence;
//! - an **outbox entry** that can never be published — larger than NATS accepts, or unreadable
//!   (subject `parked.outbox.<database>`); the entry stays in that database's `outbox`
//!   collection, parked (see [`crate::outbox`]).
//!
//! `cargo run -p ops -- parked list` prints them all. `cargo run -p ops -- parked replay <seq>`
//! publishes the event at stream sequence `<seq>` again, once its cause is fixed. The replay
//! reaches every consumer of its subject, not only the one that parked it: that is safe because
//! every handler is idempotent (a consumer that had handled it finds nothing to change).
//! `cargo run -p ops -- parked unpark <database> <entry id>` hands a parked outbox entry back to
//! its service's relay, once it can be published (the server accepts larger messages, a release
//! that knows the subject runs, the entry was corrected by hand).

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::{STREAM, Subject};

/// The stream of parking records.
pub const PARKED_STREAM: &str = "ticketing-parked";

/// How long a record is kept: long enough for any on-call rotation to find it.
const RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// One event given up on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParkedEvent {
    /// The durable consumer that gave up, e.g. `payments-service-order-created`; for an outbox
    /// entry, `outbox.<database>`.
    pub consumer: String,
    pub subject: String,
    /// Where the event is in the `ticketing` stream: what `replay` takes (0 for an outbox entry,
    /// which never reached it).
    pub sequence: u64,
    /// Deliveries made; for an outbox entry, publishes attempted.
    pub deliveries: i64,
    /// Why the last delivery failed.
    pub error: String,
    /// RFC 3339.
    pub parked_at: String,
    /// The outbox entry's id (what `unpark` takes), for an outbox entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_entry: Option<String>,
}

impl ParkedEvent {
    /// Now, as [`ParkedEvent::parked_at`] spells it.
    pub fn now() -> String {
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

/// The parking stream's configuration: file storage, a month of records, as many copies as
/// the events' stream.
pub fn parked_stream_config(replicas: usize) -> stream::Config {
    stream::Config {
        name: PARKED_STREAM.to_owned(),
        description: Some("Ticketing deliveries given up on (see `ops parked`)".to_owned()),
        subjects: vec!["parked.>".to_owned()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        max_age: RETENTION,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// Records `event`. A record that cannot be written is logged (the consumer's own `error`
/// line, with the same fields, and the `parked` counter remain).
pub async fn record(jetstream: &jetstream::Context, event: &ParkedEvent) {
    let written = async {
        let body = serde_json::to_vec(event)?;
        let subject = format!("parked.{}", event.consumer);
        jetstream.publish(subject, Bytes::from(body)).await?.await?;
        anyhow::Ok(())
    };
    if let Err(error) = written.await {
        tracing::error!(consumer = %event.consumer, sequence = event.sequence, %error, "cannot record the parked event");
    }
}

/// Every record kept, oldest first.
pub async fn list(jetstream: &jetstream::Context) -> anyhow::Result<Vec<ParkedEvent>> {
    let stream = jetstream
        .get_stream(PARKED_STREAM)
        .await
        .context("no parked events recorded (the stream does not exist)")?;
    let last = stream.get_info().await?.state.last_sequence;
    let mut records = Vec::new();
    if last == 0 {
        return Ok(records);
    }
    // An ordered, ephemeral consumer: reading leaves no trace on the server.
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig::default())
        .await?;
    let mut messages = consumer.messages().await?;
    while let Some(message) = messages.next().await {
        let message = message?;
        let sequence = message
            .info()
            .map_err(|error| anyhow::anyhow!("{error}"))?
            .stream_sequence;
        match serde_json::from_slice(&message.payload) {
            Ok(record) => records.push(record),
            Err(error) => tracing::warn!(sequence, %error, "unreadable parking record skipped"),
        }
        if sequence >= last {
            break;
        }
    }
    Ok(records)
}

/// Publishes the event at `sequence` of the `ticketing` stream again, on its subject, under a
/// fresh message id (so the duplicate window does not swallow a second replay). Returns the
/// new message's sequence.
pub async fn replay(jetstream: &jetstream::Context, sequence: u64) -> anyhow::Result<u64> {
    let stream = jetstream.get_stream(STREAM).await?;
    let message = stream
        .get_raw_message(sequence)
        .await
        .with_context(|| format!("no event at sequence {sequence} of {STREAM}"))?;
    let subject = Subject::parse(message.subject.as_str()).with_context(|| {
        format!(
            "sequence {sequence} is on {}, not an event subject",
            message.subject
        )
    })?;
    let msg_id = format!("replay:{sequence}:{}", uuid::Uuid::new_v4().simple());
    let published = super::Publisher::new(jetstream.clone())
        .publish_payload(subject, &msg_id, message.payload)
        .await?;
    Ok(published.sequence)
}
