//! Every change to the service's documents, each written together with the event it causes:
//! the only place that writes them. Every change touches one ticket, so each is a single
//! MongoDB write with its event embedded in the ticket (`Outbox::insert_with` for a new one,
//! `Outbox::update_with` for the rest): atomic without a transaction.
//!
//! A ticket's `version` is 0 when listed and rises by exactly one per save; every save publishes
//! the ticket as it now is (`ticket:created`, then `ticket:updated`). A save is filtered on the
//! version it read (optimistic concurrency, `common::version`), so the event it embeds is the
//! ticket exactly as written. Orders keeps a replica of tickets and applies those events in
//! version order.
//!
//! Reserving and releasing are conditional writes, so a redelivered order event finds nothing
//! left to change and publishes nothing. `order:created` and `order:cancelled` travel on
//! separate consumers and may be handled in either order, or at the same instant: a late
//! `order:created` of an order already cancelled must not reserve, and a reservation written
//! alongside the release of the same order must not survive it. So the ticket itself remembers
//! the orders it heard cancelled (`releasedOrders`), and each of the two writes is conditional
//! on what the other would change: a reservation only while the order is not among them, a
//! release's record only while the order does not hold the ticket. MongoDB applies two writes
//! of one document one after the other, so whichever comes second finds the first's change,
//! matches nothing, and reads the ticket again.

use bson::doc;
use bson::oid::ObjectId;
use common::events::{OrderCancelled, OrderCreated};
use common::outbox::Outbox;
use common::version::{SaveError, bump_version, owned_filter};
use mongodb::{Collection, Database};

use crate::models::ticket::{self, RELEASED_ORDERS, Ticket};

/// What an order event did to a ticket.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The ticket changed (and `ticket:updated` was written with it): here it is, as saved.
    Applied(Ticket),
    /// The ticket was already in the state the event asks for: a redelivery.
    Unchanged,
    /// `order:created` of an order that was already cancelled: the ticket stays free.
    OrderAlreadyReleased,
    /// No ticket has the event's ticket id.
    TicketMissing,
}

/// How many times an order event reads the ticket again after losing a race for it before it
/// gives up (and the delivery is retried later): each lost round means another change of the
/// same ticket was written, so this many in a row is a ticket under a storm of changes.
const ROUNDS: usize = 64;

/// How many cancelled orders a ticket remembers, newest kept. Only an `order:created` handled
/// after its own cancellation needs the record, and orders places at most one active order per
/// ticket, so the record would have to outlive this many later orders of the same ticket, each
/// placed and cancelled in turn, while that one event waited; the bound keeps a ticket that is
/// ordered and cancelled again and again from growing without end.
const RELEASED_KEPT: i32 = 100;

/// The tickets collection, with the outbox its changes are published through.
#[derive(Debug, Clone)]
pub struct Store {
    pub tickets: Collection<Ticket>,
    pub outbox: Outbox,
}

impl Store {
    pub fn new(database: &Database, outbox: Outbox) -> Self {
        Self {
            tickets: database.collection(Ticket::COLLECTION),
            outbox: outbox.embedding_in(Ticket::COLLECTION),
        }
    }

    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        ticket::ensure_indexes(&self.tickets).await?;
        self.outbox.ensure_indexes().await
    }

    /// Inserts a new ticket and publishes `ticket:created`, embedded in the new document.
    pub async fn create(&self, ticket: &Ticket) -> mongodb::error::Result<()> {
        self.outbox
            .insert_with(&self.tickets, ticket, &ticket.created_event())
            .await
    }

    /// Saves a new title and price on a ticket read as `read`, and publishes `ticket:updated`;
    /// [`SaveError::Stale`] if the ticket was saved by someone else since it was read.
    pub async fn update_details(
        &self,
        read: &Ticket,
        title: String,
        price: f64,
    ) -> Result<Ticket, SaveError> {
        let updated = Ticket {
            title,
            price,
            version: read.version + 1,
            ..read.clone()
        };
        let set = doc! { "$set": { "title": &updated.title, "price": updated.price } };
        self.save(read, doc! {}, set, &updated)
            .await?
            .then_some(updated)
            .ok_or(SaveError::Stale)
    }

    /// Reserves the event's ticket for its order, unless that is done already or the order was
    /// cancelled already.
    pub async fn reserve(&self, order: &OrderCreated) -> mongodb::error::Result<Change> {
        for _ in 0..ROUNDS {
            let Some(read) = ticket::find(&self.tickets, order.ticket.id).await? else {
                return Ok(Change::TicketMissing);
            };
            if read.released_orders.contains(&order.id) {
                return Ok(Change::OrderAlreadyReleased);
            }
            if read.order_id == Some(order.id) {
                return Ok(Change::Unchanged);
            }
            let reserved = Ticket {
                order_id: Some(order.id),
                version: read.version + 1,
                ..read.clone()
            };
            // Not if the order's release was recorded since the read: see the module docs.
            let unreleased = doc! { RELEASED_ORDERS: { "$ne": order.id } };
            let set = doc! { "$set": { "orderId": order.id } };
            if self.save(&read, unreleased, set, &reserved).await? {
                return Ok(Change::Applied(reserved));
            }
        }
        Err(busy(order.ticket.id))
    }

    /// Frees the event's ticket if this order holds it, and remembers the order as cancelled.
    pub async fn release(&self, order: &OrderCancelled) -> mongodb::error::Result<Change> {
        let remember = doc! { RELEASED_ORDERS: { "$each": [order.id], "$slice": -RELEASED_KEPT } };
        for _ in 0..ROUNDS {
            let Some(read) = ticket::find(&self.tickets, order.ticket.id).await? else {
                return Ok(Change::TicketMissing);
            };
            if read.order_id == Some(order.id) {
                let freed = Ticket {
                    order_id: None,
                    version: read.version + 1,
                    ..read.clone()
                };
                let held = doc! { "orderId": order.id };
                let free = doc! { "$unset": { "orderId": "" }, "$push": remember.clone() };
                if self.save(&read, held, free, &freed).await? {
                    return Ok(Change::Applied(freed));
                }
                continue;
            }
            if read.released_orders.contains(&order.id) {
                return Ok(Change::Unchanged);
            }
            // Not held by this order (yet): only remembered, and only while a reservation by
            // it has not been written since the read; no new version, no event.
            let recorded = self
                .tickets
                .update_one(
                    doc! {
                        "_id": read.id,
                        "orderId": { "$ne": order.id },
                        RELEASED_ORDERS: { "$ne": order.id },
                    },
                    doc! { "$push": remember.clone() },
                )
                .await?;
            if recorded.matched_count == 1 {
                return Ok(Change::Unchanged);
            }
        }
        Err(busy(order.ticket.id))
    }

    /// Writes `update` on the ticket read as `read` — if it is still at that version and also
    /// matches `also` — raising its version, with `saved.updated_event()` embedded. Whether it
    /// was written: `false` means the ticket changed since the read.
    async fn save(
        &self,
        read: &Ticket,
        also: bson::Document,
        update: bson::Document,
        saved: &Ticket,
    ) -> mongodb::error::Result<bool> {
        let mut filter = owned_filter(read.id, read.version);
        filter.extend(also);
        self.outbox
            .update_with(
                &self.tickets,
                filter,
                bump_version(update),
                &saved.updated_event(),
            )
            .await
    }
}

/// An order event that lost [`ROUNDS`] races for its ticket in a row; its delivery is retried.
fn busy(ticket: ObjectId) -> mongodb::error::Error {
    mongodb::error::Error::custom(format!(
        "ticket {ticket} kept changing: {ROUNDS} rounds lost in a row"
    ))
}
