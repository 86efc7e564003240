//! `GET /api/tickets/:id` → 200 ticket, or 404.

use axum::Json;
use axum::extract::State;
use common::mongo::PathId;
use common::{AppError, AppResult};

use crate::app::AppState;
use crate::models::ticket::{self, TicketView};

#[utoipa::path(
    get,
    path = "/api/tickets/{id}",
    operation_id = "getTicket",
    tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id")),
    responses(
        (status = 200, description = "The ticket", body = TicketView),
        (status = 404, description = "No such ticket (or a malformed id)", body = common::ErrorBody),
    ),
)]
pub async fn handler(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> AppResult<Json<TicketView>> {
    let ticket = ticket::find(&state.store.tickets, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(ticket.view()))
}
