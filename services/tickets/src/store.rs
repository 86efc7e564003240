//! Every change to the service's documents, each committed together with the event it causes:
//! the only place that writes them. A new ticket carries its `ticket:created` embedded
//! (`Outbox::insert_with`: one atomic insert); every other change is a MongoDB transaction with
//! its event (`common::transaction!`).
//!
//! A ticket's `version` is 0 when listed and rises by exactly one per save; every save publishes
//! the ticket as it now is (`ticket:created`, then `ticket:updated`), through the outbox, in the
//! same transaction. Orders keeps a replica of tickets and applies those events in version order.
//!
//! Reserving and releasing are conditional writes, so a redelivered order event finds nothing
//! left to change and publishes nothing. `order:created` and `order:cancelled` travel on
//! separate consumers and may be handled in either order, or at the same instant: a late
//! `order:created` of an order already cancelled must not reserve, and a reservation committed
//! alongside the release of the same order must not survive it. Both therefore go through one
//! marker document per order in `order_marks` (`releasedAt` once cancelled), and **both write
//! it**: MongoDB's snapshot isolation only detects conflicting *writes*, so if reserve merely
//! read the marker, a concurrent release (which finds nothing to free yet) and reserve would
//! both commit and leave the ticket held by a cancelled order. Writing the same document makes
//! one of the two transactions fail with a write conflict and run again, after the other.

use bson::oid::ObjectId;
use bson::{Document, doc};
use common::events::{OrderCancelled, OrderCreated};
use common::outbox::Outbox;
use common::version::{SaveError, bump_version, save_owned};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};

use crate::models::ticket::{self, Ticket};

/// What an order event did to a ticket.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The ticket changed (and `ticket:updated` was staged): here it is, as saved.
    Applied(Ticket),
    /// The ticket was already in the state the event asks for: a redelivery.
    Unchanged,
    /// `order:created` of an order that was already cancelled: the ticket stays free.
    OrderAlreadyReleased,
    /// No ticket has the event's ticket id.
    TicketMissing,
}

/// The tickets collection, with the outbox its changes are published through.
#[derive(Debug, Clone)]
pub struct Store {
    pub tickets: Collection<Ticket>,
    pub order_marks: Collection<Document>,
    pub outbox: Outbox,
}

impl Store {
    /// One document per order heard of: `{_id: orderId, ticketId, seenAt, releasedAt?}`.
    pub const ORDER_MARKS: &'static str = "order_marks";

    pub fn new(database: &Database, outbox: Outbox) -> Self {
        Self {
            tickets: database.collection(Ticket::COLLECTION),
            order_marks: database.collection(Self::ORDER_MARKS),
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
        common::transaction!(self.outbox, |tx| {
            let set = doc! { "$set": { "title": &updated.title, "price": updated.price } };
            save_owned(
                &self.tickets,
                Some(tx.session()),
                read.id,
                read.version,
                set,
            )
            .await?;
            tx.publish(&updated.updated_event()).await
        })
        .map_err(SaveError::from_transaction)?;
        Ok(updated)
    }

    /// Reserves the event's ticket for its order, unless that is done already or the order was
    /// cancelled already.
    pub async fn reserve(&self, order: &OrderCreated) -> mongodb::error::Result<Change> {
        common::transaction!(self.outbox, |tx| {
            // A write, not a read: see the module docs.
            let mark = self
                .order_marks
                .find_one_and_update(
                    doc! { "_id": order.id },
                    doc! { "$set": {
                        "ticketId": order.ticket.id,
                        "seenAt": bson::DateTime::now(),
                    } },
                )
                .upsert(true)
                .return_document(ReturnDocument::After)
                .session(tx.session())
                .await?;
            if mark.is_some_and(|mark| mark.contains_key("releasedAt")) {
                return Ok(Change::OrderAlreadyReleased);
            }
            let reserved = self
                .tickets
                .find_one_and_update(
                    doc! { "_id": order.ticket.id, "orderId": { "$ne": order.id } },
                    bump_version(doc! { "$set": { "orderId": order.id } }),
                )
                .return_document(ReturnDocument::After)
                .session(tx.session())
                .await?;
            match reserved {
                Some(ticket) => {
                    tx.publish(&ticket.updated_event()).await?;
                    Ok(Change::Applied(ticket))
                }
                None => unchanged_or_missing(&self.tickets, &mut tx, order.ticket.id).await,
            }
        })
    }

    /// Frees the event's ticket if this order holds it, and remembers the order as cancelled.
    pub async fn release(&self, order: &OrderCancelled) -> mongodb::error::Result<Change> {
        common::transaction!(self.outbox, |tx| {
            // Always a change to the marker (`seenAt` moves), so that it conflicts with a
            // concurrent reserve even on a redelivery.
            let now = bson::DateTime::now();
            self.order_marks
                .update_one(
                    doc! { "_id": order.id },
                    doc! {
                        "$set": { "ticketId": order.ticket.id, "seenAt": now },
                        "$min": { "releasedAt": now },
                    },
                )
                .upsert(true)
                .session(tx.session())
                .await?;
            let freed = self
                .tickets
                .find_one_and_update(
                    doc! { "_id": order.ticket.id, "orderId": order.id },
                    bump_version(doc! { "$unset": { "orderId": "" } }),
                )
                .return_document(ReturnDocument::After)
                .session(tx.session())
                .await?;
            match freed {
                Some(ticket) => {
                    tx.publish(&ticket.updated_event()).await?;
                    Ok(Change::Applied(ticket))
                }
                None => unchanged_or_missing(&self.tickets, &mut tx, order.ticket.id).await,
            }
        })
    }
}

/// After a conditional update matched nothing: was the ticket already as wanted, or absent?
async fn unchanged_or_missing(
    tickets: &Collection<Ticket>,
    tx: &mut common::outbox::Tx<'_>,
    id: ObjectId,
) -> mongodb::error::Result<Change> {
    let exists = tickets
        .count_documents(doc! { "_id": id })
        .session(tx.session())
        .await?
        > 0;
    Ok(if exists {
        Change::Unchanged
    } else {
        Change::TicketMissing
    })
}
