//! `GET /api/tickets` → 200, the tickets not reserved, oldest first; all of them, or a page of
//! them with `?limit=&after=` (`common::paging`).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use common::AppResult;
use common::paging::Page;

use crate::app::AppState;
use crate::models::ticket::{self, TicketView};

#[utoipa::path(
    get,
    path = "/api/tickets",
    operation_id = "listTickets",
    tag = "tickets",
    params(common::openapi::PageParams),
    responses(
        (status = 200, description = "The tickets not reserved, oldest first", body = Vec<TicketView>,
            headers(("link" = String, description = "`<…>; rel=\"next\"` when a page has more after it"))),
        (status = 400, description = "`limit` or `after` is invalid", body = common::ErrorBody),
    ),
)]
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
