//! Publishing to the stream, with an id JetStream deduplicates on, confirmed by its ack.

use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;

use super::{Event, STREAM, Subject, ensure_stream};

/// How long a publish waits for JetStream's ack before it counts as failed. A failed publish may
/// still have been stored; republishing it under the same id is harmless (deduplicated).
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot serialise the event: {0}")]
    Encode(#[from] serde_json::Error),
    /// The client is not connected now; the publish was not attempted (it would only queue up
    /// and time out).
    #[error("not connected to NATS")]
    Disconnected,
    #[error("JetStream did not confirm the publish within {0:?}")]
    TimedOut(Duration),
    /// The body exceeds the server's maximum message size: it will never be accepted.
    #[error("the event is larger than the server accepts")]
    TooLarge,
    #[error("publish failed: {0}")]
    Nats(#[source] async_nats::Error),
}

impl PublishError {
    /// Whether trying again later may succeed (NATS away or slow), as opposed to a message
    /// that will never be accepted.
    pub fn is_transient(&self) -> bool {
        !matches!(self, PublishError::Encode(_) | PublishError::TooLarge)
    }
}

/// One publish attempt's failure, telling a missing stream apart.
enum Attempt {
    StreamNotFound,
    Failed(PublishError),
}

impl Attempt {
    fn into_error(self) -> PublishError {
        match self {
            Attempt::StreamNotFound => {
                PublishError::Nats(format!("stream {STREAM} not found").into())
            }
            Attempt::Failed(error) => error,
        }
    }
}

impl From<jetstream::context::PublishError> for Attempt {
    fn from(error: jetstream::context::PublishError) -> Self {
        match error.kind() {
            PublishErrorKind::StreamNotFound => Attempt::StreamNotFound,
            PublishErrorKind::MaxPayloadExceeded => Attempt::Failed(PublishError::TooLarge),
            PublishErrorKind::TimedOut => Attempt::Failed(PublishError::TimedOut(ACK_TIMEOUT)),
            _ => Attempt::Failed(PublishError::Nats(error.into())),
        }
    }
}

/// The producer span of one publish (OpenTelemetry's messaging conventions), a child of the
/// span that caused the event: `traceparent` as stored with it, or else the current span.
pub fn publish_span(subject: Subject, msg_id: &str, traceparent: Option<&str>) -> tracing::Span {
    let span = tracing::info_span!(
        "publish",
        otel.name = format!("publish {subject}"),
        otel.kind = "producer",
        messaging.system = "nats",
        messaging.operation.type = "send",
        messaging.operation.name = "publish",
        messaging.destination.name = subject.as_str(),
        messaging.message.id = msg_id,
    );
    crate::telemetry::set_parent(&span, traceparent);
    span
}

/// What JetStream said about a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The stream sequence of the message (of the first copy, for a duplicate).
    pub sequence: u64,
    /// JetStream had already stored a message with this `Nats-Msg-Id`, and dropped this one.
    pub duplicate: bool,
}

#[derive(Clone, Debug)]
pub struct Publisher {
    jetstream: jetstream::Context,
    /// The copies the stream has when this publisher must recreate it.
    stream_replicas: usize,
}

impl Publisher {
    pub fn new(jetstream: jetstream::Context) -> Self {
        Self {
            jetstream,
            stream_replicas: 1,
        }
    }

    /// Recreates a lost stream with `replicas` copies (`NATS_STREAM_REPLICAS`), not one.
    pub fn with_stream_replicas(mut self, replicas: usize) -> Self {
        self.stream_replicas = replicas;
        self
    }

    /// Publishes `event` on its subject under a fresh unique id.
    pub async fn publish<E: Event>(&self, event: &E) -> Result<Published, PublishError> {
        self.publish_with_id(&uuid::Uuid::new_v4().to_string(), event)
            .await
    }

    /// Publishes `event` under `msg_id`: a second publish with the same id inside the
    /// [duplicate window](super::DUPLICATE_WINDOW) is dropped by JetStream.
    pub async fn publish_with_id<E: Event>(
        &self,
        msg_id: &str,
        event: &E,
    ) -> Result<Published, PublishError> {
        let payload = Bytes::from(serde_json::to_vec(event)?);
        self.publish_payload(E::SUBJECT, msg_id, payload).await
    }

    /// Publishes an already serialised body (the outbox stores bodies serialised). Prefer
    /// [`Publisher::publish_with_id`], which cannot put a body on the wrong subject.
    pub async fn publish_payload(
        &self,
        subject: Subject,
        msg_id: &str,
        payload: Bytes,
    ) -> Result<Published, PublishError> {
        if !self.is_connected() {
            return Err(PublishError::Disconnected);
        }
        match self.try_publish(subject, msg_id, payload.clone()).await {
            // A NATS server restarted without its store has lost the stream: recreate it
            // rather than fail every publish until a service restarts.
            Err(Attempt::StreamNotFound) => {
                tracing::warn!(stream = STREAM, "stream not found; creating it again");
                ensure_stream(&self.jetstream, self.stream_replicas)
                    .await
                    .map_err(|error| PublishError::Nats(error.into()))?;
                self.try_publish(subject, msg_id, payload)
                    .await
                    .map_err(Attempt::into_error)
            }
            other => other.map_err(Attempt::into_error),
        }
    }

    async fn try_publish(
        &self,
        subject: Subject,
        msg_id: &str,
        payload: Bytes,
    ) -> Result<Published, Attempt> {
        let mut publish = PublishMessage::build().payload(payload).message_id(msg_id);
        // The trace goes with the event: its consumers' spans continue the current one (the
        // caller's publish span, see `crate::telemetry`).
        if let Some(traceparent) = crate::telemetry::traceparent() {
            publish = publish.header(crate::telemetry::TRACEPARENT, traceparent.as_str());
        }
        let confirmed = async {
            let ack = self
                .jetstream
                .send_publish(subject.as_str(), publish)
                .await
                .map_err(Attempt::from)?;
            ack.await.map_err(Attempt::from)
        };
        let ack = tokio::time::timeout(ACK_TIMEOUT, confirmed)
            .await
            .map_err(|_| Attempt::Failed(PublishError::TimedOut(ACK_TIMEOUT)))??;
        if !ack.duplicate {
            // Counted once per event stored: a republish JetStream drops as a duplicate (the
            // relay after the fast path, a second replica's relay) is the same event.
            metrics::counter!("ticketing_events_published_total", "subject" => subject.as_str())
                .increment(1);
        }
        Ok(Published {
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    /// The JetStream context it publishes with.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// Whether the client is connected now.
    pub fn is_connected(&self) -> bool {
        self.jetstream.client().connection_state() == State::Connected
    }
}
