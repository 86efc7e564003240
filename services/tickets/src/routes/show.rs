//! `GET /api/tickets/:id` → 200 ticket, or 404.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use common::{AppError, AppResult};

use crate::app::AppState;
use crate::models::ticket::{self, TicketView};
use crate::routes::ticket_id;

pub async fn handler(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> AppResult<Json<TicketView>> {
    let id = ticket_id(path)?;
    let ticket = ticket::find(&state.store.tickets, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(ticket.view()))
}
