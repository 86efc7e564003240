//! `GET /api/orders/:orderId` → the order with its ticket; 404 if none (or a malformed id), 401 if
//! it is someone else's.

use axum::Json;
use axum::extract::State;
use common::mongo::PathId;
use common::{AppResult, RequireUser};

use crate::app::AppState;
use crate::models::order::OrderView;
use crate::models::ticket;

#[utoipa::path(
    get,
    path = "/api/orders/{orderId}",
    operation_id = "getOrder",
    tag = "orders",
    security(("session" = [])),
    params(("orderId" = String, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order with its ticket", body = OrderView),
        (status = 401, description = "Not signed in, or not the order's owner", body = common::ErrorBody),
        (status = 404, description = "No such order (or a malformed id)", body = common::ErrorBody),
    ),
)]
pub async fn handler(
    State(state): State<AppState>,
    user: RequireUser,
    PathId(order_id): PathId,
) -> AppResult<Json<OrderView>> {
    let order = super::owned_order(&state, &user, order_id).await?;
    let ticket = ticket::find(&state.store.tickets, order.ticket_id).await?;
    Ok(Json(order.view(ticket.as_ref())))
}
