//! The `orders` collection: an order as stored and as the API shows it, its indexes and queries.
//! The changes other services hear about are [`crate::store::Store`]'s.
//!
//! An order is owned here: it starts at `version` 0 in status `created`, and each save raises the
//! version by exactly one, written only if the stored version is still the one read
//! (`common::version`). Every change that other services must hear about is written with its
//! event embedded in the order, in the same single write (`common::outbox`), so the event goes
//! out if and only if the change happened.
//!
//! # One active order per ticket, decided by MongoDB
//!
//! The original checks "is there an order for this ticket that is not cancelled?" and then
//! inserts; two requests arriving together both pass the check and both reserve the ticket.
//! Here the rule lives in the database: a **partial unique index** on `ticketId`, covering only
//! orders whose status is `created`, `awaiting:payment` or `complete` ([`ACTIVE_STATUSES`]).
//! Of two concurrent inserts of an active order for one ticket, MongoDB lets exactly one commit;
//! the other fails with a duplicate key, which the route answers with
//! `Ticket is already reserved`. Cancelling an order moves it out of the index, which is what
//! frees the ticket for the next order.
//!
//! Why this and not a claim on the ticket replica (a conditional update of `tickets` in the same
//! transaction): the replica belongs to the `ticket:*` listeners, which overwrite it with the
//! tickets service's versions; a claim field there would have to survive those writes and be
//! released on every path that ends an order. The index needs no second document, covers every
//! writer of `orders` (routes, listeners, a future admin tool) and cannot drift from the orders'
//! own statuses. The route does not read first: the insert's duplicate key is its answer, in the
//! common case and in a race alike.

use std::time::Duration;

use bson::oid::ObjectId;
use bson::{DateTime, doc};
use common::events::OrderStatus;
use common::version::{SaveError, save_owned};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use serde::{Deserialize, Serialize};

use super::ticket::{Ticket, TicketView};

/// The statuses in which an order holds its ticket.
pub const ACTIVE_STATUSES: [OrderStatus; 3] = [
    OrderStatus::Created,
    OrderStatus::AwaitingPayment,
    OrderStatus::Complete,
];

/// How often a save that lost an optimistic-concurrency race is read and decided again before
/// giving up (with an error the caller logs or retries). Races are rare and short, so a few
/// suffice.
pub(crate) const STALE_RETRIES: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub user_id: ObjectId,
    pub status: OrderStatus,
    pub expires_at: DateTime,
    pub ticket_id: ObjectId,
    pub version: i64,
}

/// The order JSON: `{id,userId,status,expiresAt,version,ticket:{id,title,price,version}}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Order)]
pub struct OrderView {
    #[serde(with = "common::events::wire::object_id")]
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$")]
    pub id: ObjectId,
    #[serde(with = "common::events::wire::object_id")]
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$")]
    pub user_id: ObjectId,
    pub status: OrderStatus,
    /// When an unpaid order expires (and its ticket is released).
    #[serde(with = "common::events::wire::rfc3339_millis")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// Starts at 0; one more with each change of status.
    pub version: i64,
    /// `null` only if the replica lacks the ticket, which the listeners never allow for a ticket
    /// that has been ordered; shown rather than failing the whole list.
    pub ticket: Option<TicketView>,
}

impl Order {
    pub const COLLECTION: &'static str = "orders";

    /// A new order for `ticket_id`, expiring `window` from now (to the millisecond, as stored).
    pub fn new(user_id: ObjectId, ticket_id: ObjectId, window: Duration) -> Self {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        let expires_at = chrono::Utc::now()
            .checked_add_signed(window)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        Self {
            id: ObjectId::new(),
            user_id,
            status: OrderStatus::Created,
            expires_at: DateTime::from_chrono(expires_at),
            ticket_id,
            version: 0,
        }
    }

    pub fn view(&self, ticket: Option<&Ticket>) -> OrderView {
        OrderView {
            id: self.id,
            user_id: self.user_id,
            status: self.status,
            expires_at: self.expires_at.to_chrono(),
            version: self.version,
            ticket: ticket.map(Ticket::view),
        }
    }
}

/// The partial unique index described in the module docs, and the index behind "my orders".
pub async fn ensure_indexes(orders: &Collection<Order>) -> mongodb::error::Result<()> {
    let active: Vec<&str> = ACTIVE_STATUSES.iter().map(|s| s.as_str()).collect();
    let one_active_order_per_ticket = IndexModel::builder()
        .keys(doc! { "ticketId": 1 })
        .options(
            IndexOptions::builder()
                .name("one_active_order_per_ticket".to_owned())
                .unique(true)
                .partial_filter_expression(doc! { "status": { "$in": active } })
                .build(),
        )
        .build();
    let by_user = IndexModel::builder()
        .keys(doc! { "userId": 1, "_id": 1 })
        .options(IndexOptions::builder().name("by_user".to_owned()).build())
        .build();
    orders
        .create_indexes([one_active_order_per_ticket, by_user])
        .await?;
    Ok(())
}

pub async fn find(
    orders: &Collection<Order>,
    id: ObjectId,
) -> mongodb::error::Result<Option<Order>> {
    orders
        .find_one(doc! { "_id": id })
        .projection(common::outbox::without_entries())
        .await
}

/// What [`complete`] found and did.
#[derive(Debug, Clone, PartialEq)]
pub enum Completed {
    /// Marked complete now (version + 1).
    Now(Order),
    /// It was complete before: nothing written.
    Already(Order),
    /// It had been cancelled (expired) before the payment arrived: left cancelled, because its
    /// ticket was released and may be someone else's by now. Needs a refund by an operator.
    WasCancelled(Order),
    NotFound,
}

/// Marks an order paid. Nothing else needs to hear about it, so there is no event and no
/// transaction, only the optimistic save.
///
/// The original marks even a cancelled order complete; that would hand one ticket to two buyers
/// once the released ticket has been ordered again, so a cancelled order stays cancelled.
pub async fn complete(
    orders: &Collection<Order>,
    id: ObjectId,
) -> mongodb::error::Result<Completed> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some(order) = find(orders, id).await? else {
            return Ok(Completed::NotFound);
        };
        match order.status {
            OrderStatus::Complete => return Ok(Completed::Already(order)),
            OrderStatus::Cancelled => return Ok(Completed::WasCancelled(order)),
            OrderStatus::Created | OrderStatus::AwaitingPayment => {}
        }
        let saved = save_owned(
            orders,
            None,
            order.id,
            order.version,
            doc! { "$set": { "status": OrderStatus::Complete.as_str() } },
        )
        .await;
        match saved {
            Ok(version) => {
                return Ok(Completed::Now(Order {
                    status: OrderStatus::Complete,
                    version,
                    ..order
                }));
            }
            Err(SaveError::Stale) if attempt < STALE_RETRIES => continue,
            Err(error) => return Err(error.into()),
        }
    }
}
