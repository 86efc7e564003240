//! `GET /api/orders/:orderId` → the order with its ticket; 404 if none (or a malformed id), 401 if
//! it is someone else's.

use axum::Json;
use axum::extract::{Path, State};
use common::{AppResult, RequireUser};

use crate::app::AppState;
use crate::models::order::OrderView;
use crate::models::ticket;

pub async fn handler(
    State(state): State<AppState>,
    user: RequireUser,
    Path(order_id): Path<String>,
) -> AppResult<Json<OrderView>> {
    let order = super::owned_order(&state, &user, &order_id).await?;
    let ticket = ticket::find(&state.store.tickets, order.ticket_id).await?;
    Ok(Json(order.view(ticket.as_ref())))
}
