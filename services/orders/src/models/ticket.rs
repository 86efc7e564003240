//! The `tickets` collection: this service's replica of the tickets service's tickets.
//!
//! Only what an order shows and needs is kept: title, price and the owner's `version`. The replica
//! is written by the `ticket:created` / `ticket:updated` listeners alone, through
//! `common::version::apply_replica`, so it holds exactly the owner's versions in order (version N
//! is applied only on N-1). Whether a ticket is reserved is not read from here: that is decided by
//! the orders themselves (see [`super::order`]).

use bson::doc;
use bson::oid::ObjectId;
use common::events::{TicketCreated, TicketUpdated};
use common::version::{Applied, apply_replica};
use mongodb::Collection;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub title: String,
    pub price: f64,
    pub version: i64,
}

/// What an order shows of its ticket: `{id,title,price,version}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = OrderTicket)]
pub struct TicketView {
    #[serde(with = "common::events::wire::object_id")]
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$")]
    pub id: ObjectId,
    pub title: String,
    #[serde(with = "common::events::wire::js_number")]
    pub price: f64,
    pub version: i64,
}

impl Ticket {
    pub const COLLECTION: &'static str = "tickets";

    pub fn view(&self) -> TicketView {
        TicketView {
            id: self.id,
            title: self.title.clone(),
            price: self.price,
            version: self.version,
        }
    }
}

pub async fn find(
    tickets: &Collection<Ticket>,
    id: ObjectId,
) -> mongodb::error::Result<Option<Ticket>> {
    tickets.find_one(doc! { "_id": id }).await
}

/// Applies a version of a ticket as its owner announced it, by the replica rule
/// (`common::version::apply_replica`): inserted at 0, updated from `version - 1` only.
pub async fn apply(
    tickets: &Collection<Ticket>,
    ticket: &Ticket,
) -> mongodb::error::Result<Applied> {
    let fields = doc! { "title": &ticket.title, "price": ticket.price };
    apply_replica(tickets, None, ticket.id, ticket.version, fields).await
}

/// `ticket:created` and `ticket:updated` carry the same snapshot of a ticket; the replica keeps
/// its title, price and version (not its owner nor its order: see the module's note).
macro_rules! ticket_from_snapshot {
    ($($event:ty),*) => {$(
        impl From<$event> for Ticket {
            fn from(event: $event) -> Self {
                Self { id: event.id, title: event.title, price: event.price, version: event.version }
            }
        }
    )*};
}

ticket_from_snapshot!(TicketCreated, TicketUpdated);
