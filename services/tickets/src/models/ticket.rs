//! The `tickets` document: a ticket as stored, as the API shows it, and as its events carry it.
//! Its writes, each with the event it causes, are [`crate::store::Store`]'s.

use bson::doc;
use bson::oid::ObjectId;
use common::events::{TicketCreated, TicketUpdated, wire};
use common::paging::Page;
use futures::TryStreamExt as _;
use mongodb::action::Action as _;
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use serde::{Deserialize, Serialize};

/// A ticket as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub title: String,
    pub price: f64,
    #[serde(rename = "userId")]
    pub user_id: ObjectId,
    pub version: i64,
    /// The order holding the ticket; absent while it is free.
    #[serde(rename = "orderId", default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<ObjectId>,
    /// The orders this ticket heard cancelled, oldest first, the last hundred (see
    /// [`crate::store`]): a late `order:created` of one of them must not reserve it.
    #[serde(
        rename = "releasedOrders",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub released_orders: Vec<ObjectId>,
}

/// The field of [`Ticket::released_orders`].
pub const RELEASED_ORDERS: &str = "releasedOrders";

/// A ticket as the API shows it: `{id,title,price,userId,version,orderId?}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketView {
    #[serde(with = "wire::object_id")]
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$")]
    pub id: ObjectId,
    pub title: String,
    #[serde(with = "wire::js_number")]
    pub price: f64,
    #[serde(with = "wire::object_id")]
    #[schema(value_type = String, pattern = "^[0-9a-f]{24}$")]
    pub user_id: ObjectId,
    /// Starts at 0; one more with each change (an update, a reservation, a release).
    pub version: i64,
    /// The order holding the ticket; absent while it is free.
    #[serde(
        with = "wire::option_object_id",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{24}$")]
    pub order_id: Option<ObjectId>,
}

impl Ticket {
    pub const COLLECTION: &'static str = "tickets";

    /// A new ticket, version 0, not reserved.
    pub fn new(title: String, price: f64, user_id: ObjectId) -> Self {
        Self {
            id: ObjectId::new(),
            title,
            price,
            user_id,
            version: 0,
            order_id: None,
            released_orders: Vec::new(),
        }
    }

    pub fn view(&self) -> TicketView {
        TicketView {
            id: self.id,
            title: self.title.clone(),
            price: self.price,
            user_id: self.user_id,
            version: self.version,
            order_id: self.order_id,
        }
    }

    pub fn created_event(&self) -> TicketCreated {
        TicketCreated {
            id: self.id,
            version: self.version,
            title: self.title.clone(),
            price: self.price,
            user_id: self.user_id,
        }
    }

    pub fn updated_event(&self) -> TicketUpdated {
        TicketUpdated {
            id: self.id,
            version: self.version,
            title: self.title.clone(),
            price: self.price,
            user_id: self.user_id,
            order_id: self.order_id,
        }
    }

    pub fn is_reserved(&self) -> bool {
        self.order_id.is_some()
    }
}

/// Serves the listing of free tickets in creation order.
pub async fn ensure_indexes(tickets: &Collection<Ticket>) -> mongodb::error::Result<()> {
    let free_by_age = IndexModel::builder()
        .keys(doc! { "orderId": 1, "_id": 1 })
        .options(
            IndexOptions::builder()
                .name("order_then_age".to_owned())
                .build(),
        )
        .build();
    tickets.create_index(free_by_age).await?;
    Ok(())
}

pub async fn find(
    tickets: &Collection<Ticket>,
    id: ObjectId,
) -> mongodb::error::Result<Option<Ticket>> {
    tickets
        .find_one(doc! { "_id": id })
        .projection(common::outbox::without_entries())
        .await
}

/// Tickets not reserved, oldest first (ObjectIds grow with creation time), as `page` asks.
pub async fn list_available(
    tickets: &Collection<Ticket>,
    page: &Page,
) -> mongodb::error::Result<Vec<Ticket>> {
    tickets
        .find(page.filter(doc! { "orderId": null }))
        .projection(doc! { common::outbox::EMBEDDED: 0, RELEASED_ORDERS: 0 })
        .sort(doc! { "_id": 1 })
        .optional(page.read_limit(), |find, limit| find.limit(limit))
        .await?
        .try_collect()
        .await
}
