//! Every change of an order that other services hear about, written with its event, so the
//! event goes out if and only if the change happened: each is one write of the order with its
//! event embedded in it — a new order with `order:created` (`Outbox::insert_with`), a
//! cancellation with `order:cancelled` (`Outbox::update_with`) — atomic without a transaction.
//! The rules they rely on (one active order per ticket, decided by a partial unique index;
//! optimistic versions) are in [`crate::models::order`].

use bson::doc;
use bson::oid::ObjectId;
use common::events::{
    OrderCancelled, OrderCancelledTicket, OrderCreated, OrderCreatedTicket, OrderStatus,
};
use common::outbox::Outbox;
use common::version::{SaveError, bump_version, owned_filter};
use mongodb::{Collection, Database};

use crate::models::order::{self, Order, STALE_RETRIES};
use crate::models::ticket::Ticket;

/// The service's collections and the outbox their changes are published through.
#[derive(Debug, Clone)]
pub struct Store {
    pub orders: Collection<Order>,
    /// The replica of the tickets service's tickets.
    pub tickets: Collection<Ticket>,
    pub outbox: Outbox,
}

/// What [`Store::cancel`] found and did.
#[derive(Debug, Clone, PartialEq)]
pub enum Cancelled {
    /// Cancelled now; `order:cancelled` is staged with the new version.
    Now(Order),
    /// It was cancelled before: nothing written, nothing published.
    Already(Order),
    /// Paid orders are never cancelled: nothing written.
    Complete(Order),
    NotFound,
}

impl Store {
    pub fn new(database: &Database, outbox: Outbox) -> Self {
        Self {
            orders: database.collection(Order::COLLECTION),
            tickets: database.collection(Ticket::COLLECTION),
            outbox: outbox.embedding_in(Order::COLLECTION),
        }
    }

    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        order::ensure_indexes(&self.orders).await?;
        self.outbox.ensure_indexes().await
    }

    /// Inserts a new order with its `order:created` embedded, and publishes it. A duplicate-key
    /// error (`common::mongo::is_duplicate_key`) means another active order holds the ticket:
    /// nothing was written.
    pub async fn create(&self, order: &Order, ticket: &Ticket) -> mongodb::error::Result<()> {
        let event = OrderCreated {
            id: order.id,
            version: order.version,
            status: order.status,
            user_id: order.user_id,
            expires_at: order.expires_at.to_chrono(),
            ticket: OrderCreatedTicket {
                id: ticket.id,
                price: ticket.price,
            },
        };
        self.outbox.insert_with(&self.orders, order, &event).await
    }

    /// Cancels an order unless it is complete or already cancelled, with `order:cancelled`
    /// embedded in the same write (`Outbox::update_with`). Used by `DELETE /api/orders/:id` and
    /// by `payment:expired`; safe to call any number of times (only the first cancels and
    /// publishes).
    pub async fn cancel(&self, id: ObjectId) -> mongodb::error::Result<Cancelled> {
        for _ in 0..STALE_RETRIES {
            let Some(order) = order::find(&self.orders, id).await? else {
                return Ok(Cancelled::NotFound);
            };
            match order.status {
                OrderStatus::Cancelled => return Ok(Cancelled::Already(order)),
                OrderStatus::Complete => return Ok(Cancelled::Complete(order)),
                OrderStatus::Created | OrderStatus::AwaitingPayment => {}
            }
            let cancelled = Order {
                status: OrderStatus::Cancelled,
                version: order.version + 1,
                ..order
            };
            let event = OrderCancelled {
                id: cancelled.id,
                version: cancelled.version,
                ticket: OrderCancelledTicket {
                    id: cancelled.ticket_id,
                },
            };
            // Filtered on the version read: a payment completing the order meanwhile wins, and
            // this round reads it again.
            let saved = self
                .outbox
                .update_with(
                    &self.orders,
                    owned_filter(id, order.version),
                    bump_version(doc! { "$set": { "status": OrderStatus::Cancelled.as_str() } }),
                    &event,
                )
                .await?;
            if saved {
                return Ok(Cancelled::Now(cancelled));
            }
        }
        Err(SaveError::Stale.into())
    }
}
