//! `GET /api/orders` → the caller's orders with their tickets, oldest first; all of them, or a
//! page of them with `?limit=&after=` (`common::paging`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use bson::doc;
use bson::oid::ObjectId;
use common::paging::Page;
use common::{AppResult, RequireUser};
use futures::TryStreamExt as _;
use mongodb::action::Action as _;

use crate::app::AppState;
use crate::models::order::{Order, OrderView};
use crate::models::ticket::Ticket;

#[utoipa::path(
    get,
    path = "/api/orders",
    operation_id = "listOrders",
    tag = "orders",
    security(("session" = [])),
    params(common::openapi::PageParams),
    responses(
        (status = 200, description = "The caller's orders with their tickets, oldest first",
            body = Vec<OrderView>,
            headers(("link" = String, description = "`<…>; rel=\"next\"` when a page has more after it"))),
        (status = 400, description = "`limit` or `after` is invalid", body = common::ErrorBody),
    ),
)]
pub async fn handler(
    State(state): State<AppState>,
    user: RequireUser,
    page: Page,
) -> AppResult<(HeaderMap, Json<Vec<OrderView>>)> {
    let user_id = user.id;
    // ObjectIds grow with their creation time, so `_id` order is creation order.
    let orders: Vec<Order> = state
        .store
        .orders
        .find(page.filter(doc! { "userId": user_id }))
        .projection(common::outbox::without_entries())
        .sort(doc! { "_id": 1 })
        .optional(page.read_limit(), |find, limit| find.limit(limit))
        .await?
        .try_collect()
        .await?;
    let (headers, orders) = page.finish(orders, |order| order.id, "/api/orders");
    let ticket_ids: Vec<ObjectId> = orders.iter().map(|order| order.ticket_id).collect();
    let tickets: HashMap<ObjectId, Ticket> = state
        .store
        .tickets
        .find(doc! { "_id": { "$in": ticket_ids } })
        .await?
        .map_ok(|ticket| (ticket.id, ticket))
        .try_collect()
        .await?;
    Ok((
        headers,
        Json(
            orders
                .iter()
                .map(|order| order.view(tickets.get(&order.ticket_id)))
                .collect(),
        ),
    ))
}
