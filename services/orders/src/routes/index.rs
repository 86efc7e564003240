//! `GET /api/orders` → the caller's orders with their tickets, oldest first.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use bson::doc;
use bson::oid::ObjectId;
use common::{AppResult, RequireUser};
use futures::TryStreamExt as _;

use crate::app::AppState;
use crate::models::order::{Order, OrderView};
use crate::models::ticket::Ticket;

pub async fn handler(
    State(state): State<AppState>,
    user: RequireUser,
) -> AppResult<Json<Vec<OrderView>>> {
    let user_id = user.id;
    // ObjectIds grow with their creation time, so `_id` order is creation order.
    let orders: Vec<Order> = state
        .store
        .orders
        .find(doc! { "userId": user_id })
        .sort(doc! { "_id": 1 })
        .await?
        .try_collect()
        .await?;
    let ticket_ids: Vec<ObjectId> = orders.iter().map(|order| order.ticket_id).collect();
    let tickets: HashMap<ObjectId, Ticket> = state
        .store
        .tickets
        .find(doc! { "_id": { "$in": ticket_ids } })
        .await?
        .map_ok(|ticket| (ticket.id, ticket))
        .try_collect()
        .await?;
    Ok(Json(
        orders
            .iter()
            .map(|order| order.view(tickets.get(&order.ticket_id)))
            .collect(),
    ))
}
