//! `GET /api/tickets` → 200, the tickets not reserved, oldest first; all of them, or a page of
//! them with `?limit=&after=` (`common::paging`).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use common::AppResult;
use common::paging::Page;

use crate::app::AppState;
use crate::models::ticket::{self, TicketView};

pub async fn handler(
    State(state): State<AppState>,
    page: Page,
) -> AppResult<(HeaderMap, Json<Vec<TicketView>>)> {
    let tickets = ticket::list_available(&state.store.tickets, &page).await?;
    let (headers, tickets) = page.finish(tickets, |ticket| ticket.id, "/api/tickets");
    Ok((
        headers,
        Json(tickets.iter().map(|ticket| ticket.view()).collect()),
    ))
}
