//! `GET /api/orders/:orderId` → the order with its ticket; 404 if none (or a malformed id), 401 if
//! it is someone else's.

use axum::Json;
use axum::extract::{Path, State};
use common::{AppError, AppResult, RequireAuth};

use crate::app::AppState;
use crate::models::order::{self, OrderView};
use crate::models::ticket;

pub async fn handler(
    State(state): State<AppState>,
    RequireAuth(user): RequireAuth,
    Path(order_id): Path<String>,
) -> AppResult<Json<OrderView>> {
    let user_id = super::user_id(&user)?;
    let id = common::mongo::path_id(&order_id)?;
    let order = order::find(&state.orders, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if order.user_id != user_id {
        return Err(AppError::NotAuthorized);
    }
    let ticket = ticket::find(&state.tickets, order.ticket_id).await?;
    Ok(Json(order.view(ticket.as_ref())))
}
