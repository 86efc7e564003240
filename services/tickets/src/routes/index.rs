//! `GET /api/tickets` → 200, the tickets not reserved, oldest first.

use axum::Json;
use axum::extract::State;
use common::AppResult;

use crate::app::AppState;
use crate::models::ticket::{self, TicketView};

pub async fn handler(State(state): State<AppState>) -> AppResult<Json<Vec<TicketView>>> {
    let tickets = ticket::list_available(&state.store.tickets).await?;
    Ok(Json(tickets.iter().map(|ticket| ticket.view()).collect()))
}
