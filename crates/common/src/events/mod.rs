//! Events on NATS JetStream: what the services tell each other.
//!
//! The original system sends six events over NATS Streaming. Here they travel through one
//! JetStream stream, `ticketing` ([`STREAM`]), under the original subjects, with the original
//! camelCase bodies. The pieces:
//!
//! - [`Subject`] and one struct per body ([`TicketCreated`], [`OrderCreated`], …). Each body
//!   implements [`Event`], whose `SUBJECT` constant binds it to its subject at compile time: the
//!   only way to publish an `OrderCreated` is on `order:created`.
//! - [`Nats`]: the connection, created with [`Nats::connect`], which also creates or updates the
//!   stream ([`ensure_stream`]) so every service can start first.
//! - [`Publisher`]: publishes a body with a unique `Nats-Msg-Id` and waits for JetStream's ack.
//!   Services that own a database do not call it directly: they stage events in the
//!   [`crate::outbox`] inside the transaction that changes their documents.
//! - [`Consumers`]: one durable pull consumer per (queue group, subject), shared by a service's
//!   replicas, driving a handler `async fn(E, State) -> Result<(), HandlerError>` with the
//!   delivery rules below.
//!
//! # Delivery rules
//!
//! | handler outcome | what the consumer does |
//! |---|---|
//! | `Ok(())` | ack, waiting for the server to confirm it (double ack) |
//! | [`HandlerError::NotYet`] (e.g. a version gap) | nak with a short delay: it comes back soon |
//! | [`HandlerError::Failed`] | nak with an exponential backoff |
//! | the body does not parse | terminate (`+TERM`) and log the body: retrying cannot help |
//! | any error on the last allowed delivery | *park*: one `error` log line with subject, stream sequence, delivery count and body, then terminate |
//!
//! A parked or terminated event stays in the stream (it is never deleted), so an operator can
//! read it back by its sequence; JetStream also emits its own `MSG_TERMINATED` advisory.
//!
//! # Example
//!
//! ```no_run
//! use common::config::NatsConfig;
//! use common::events::{HandlerError, Nats, OrderCreated, QueueGroup};
//! use tokio_util::sync::CancellationToken;
//!
//! #[derive(Clone)]
//! struct State;
//!
//! async fn on_order_created(event: OrderCreated, _state: State) -> Result<(), HandlerError> {
//!     tracing::info!(order = %event.id, "reserving");
//!     Ok(())
//! }
//!
//! # async fn run() -> anyhow::Result<()> {
//! let config = NatsConfig::local("nats://127.0.0.1:4222", "tickets-1");
//! let nats = Nats::connect(&config).await?;
//! let shutdown = CancellationToken::new();
//! let mut consumers = nats.consumers(QueueGroup::TICKETS, shutdown.clone());
//! consumers.listen(State, on_order_created).await?;
//! // … serve; on SIGTERM:
//! shutdown.cancel();
//! consumers.join().await;
//! # Ok(())
//! # }
//! ```

mod bodies;
mod consumers;
pub mod parked;
mod publisher;
mod stream;
pub mod wire;

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use bodies::{
    ExpirationComplete, OrderCancelled, OrderCancelledTicket, OrderCreated, OrderCreatedTicket,
    OrderStatus, PaymentCreated, PaymentExpired, PaymentRefunded, TicketCreated, TicketUpdated,
};
pub use consumers::{ConsumerOptions, ConsumerStats, Consumers, HandlerError};
pub use publisher::{PublishError, Published, Publisher, publish_span};
pub use stream::{DUPLICATE_WINDOW, Nats, STREAM, ensure_stream, stream_config};

/// The subjects: the original's six, spelled as it spells them, and two of payments' own that
/// close the holes of the original's protocol ([`PaymentExpired`], [`PaymentRefunded`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    TicketCreated,
    TicketUpdated,
    OrderCreated,
    OrderCancelled,
    ExpirationComplete,
    PaymentCreated,
    PaymentExpired,
    PaymentRefunded,
}

impl Subject {
    pub const ALL: [Subject; 8] = [
        Subject::TicketCreated,
        Subject::TicketUpdated,
        Subject::OrderCreated,
        Subject::OrderCancelled,
        Subject::ExpirationComplete,
        Subject::PaymentCreated,
        Subject::PaymentExpired,
        Subject::PaymentRefunded,
    ];

    /// The NATS subject, e.g. `order:created`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Subject::TicketCreated => "ticket:created",
            Subject::TicketUpdated => "ticket:updated",
            Subject::OrderCreated => "order:created",
            Subject::OrderCancelled => "order:cancelled",
            Subject::ExpirationComplete => "expiration:complete",
            Subject::PaymentCreated => "payment:created",
            Subject::PaymentExpired => "payment:expired",
            Subject::PaymentRefunded => "payment:refunded",
        }
    }

    /// The subject as it can appear in a consumer name, which allows no `:`: `order-created`.
    pub const fn slug(self) -> &'static str {
        match self {
            Subject::TicketCreated => "ticket-created",
            Subject::TicketUpdated => "ticket-updated",
            Subject::OrderCreated => "order-created",
            Subject::OrderCancelled => "order-cancelled",
            Subject::ExpirationComplete => "expiration-complete",
            Subject::PaymentCreated => "payment-created",
            Subject::PaymentExpired => "payment-expired",
            Subject::PaymentRefunded => "payment-refunded",
        }
    }

    /// The subject named `text`, if it is one of ours.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|subject| subject.as_str() == text)
    }
}

/// Stored (in the outbox) as its NATS spelling; a string that is not one of ours does not
/// deserialize, so no code past the read ever holds an unknown subject.
impl serde::Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Subject::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown subject {text:?}")))
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event body, bound to its subject.
///
/// Implemented only by the bodies in this module, so the subject of a publish always
/// follows from the type of what is published.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    const SUBJECT: Subject;
}

/// The queue group a service's replicas share, as the original names it. A durable consumer is
/// named `<group>-<subject slug>`, e.g. `tickets-service-order-created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueueGroup(&'static str);

impl QueueGroup {
    pub const TICKETS: Self = Self("tickets-service");
    pub const ORDERS: Self = Self("orders-service");
    pub const PAYMENTS: Self = Self("payments-service");
    pub const EXPIRATION: Self = Self("expiration-service");

    /// Another group (tests use their own). The name must be a valid consumer name: no
    /// whitespace, `.`, `*` or `>`.
    pub const fn new(name: &'static str) -> Self {
        Self(name)
    }

    pub const fn as_str(self) -> &'static str {
        self.0
    }

    /// The durable consumer of this group for `subject`.
    pub fn durable_name(self, subject: Subject) -> String {
        format!("{}-{}", self.0, subject.slug())
    }
}

impl fmt::Display for QueueGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_spelled_as_the_original() {
        let names: Vec<_> = Subject::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "ticket:created",
                "ticket:updated",
                "order:created",
                "order:cancelled",
                "expiration:complete",
                "payment:created",
                "payment:expired",
                "payment:refunded"
            ]
        );
        for subject in Subject::ALL {
            assert_eq!(Subject::parse(subject.as_str()), Some(subject));
            assert_eq!(subject.slug(), subject.as_str().replace(':', "-"));
        }
        assert_eq!(Subject::parse("ticket.created"), None);
    }

    #[test]
    fn durable_names_derive_from_the_queue_group() {
        assert_eq!(
            QueueGroup::TICKETS.durable_name(Subject::OrderCreated),
            "tickets-service-order-created"
        );
        assert_eq!(
            QueueGroup::PAYMENTS.durable_name(Subject::OrderCancelled),
            "payments-service-order-cancelled"
        );
    }

    #[test]
    fn bodies_are_bound_to_their_subjects() {
        assert_eq!(TicketCreated::SUBJECT, Subject::TicketCreated);
        assert_eq!(TicketUpdated::SUBJECT, Subject::TicketUpdated);
        assert_eq!(OrderCreated::SUBJECT, Subject::OrderCreated);
        assert_eq!(OrderCancelled::SUBJECT, Subject::OrderCancelled);
        assert_eq!(ExpirationComplete::SUBJECT, Subject::ExpirationComplete);
        assert_eq!(PaymentCreated::SUBJECT, Subject::PaymentCreated);
        assert_eq!(PaymentExpired::SUBJECT, Subject::PaymentExpired);
        assert_eq!(PaymentRefunded::SUBJECT, Subject::PaymentRefunded);
    }
}
