//! `POST /api/tickets {title,price}` → 201 ticket (version 0); publishes `ticket:created`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::{AppResult, JsonBody, JsonObject, RequireUser};

use crate::app::AppState;
use crate::models::ticket::{Ticket, TicketView};
use crate::routes::ticket_fields;

pub async fn handler(
    State(state): State<AppState>,
    user: RequireUser,
    JsonBody(body): JsonBody<JsonObject>,
) -> AppResult<(StatusCode, Json<TicketView>)> {
    let (title, price) = ticket_fields(&body)?;
    let ticket = Ticket::new(title, price, user.id);
    state.store.create(&ticket).await?;
    tracing::info!(ticket = %ticket.id, user = %ticket.user_id, "ticket created");
    Ok((StatusCode::CREATED, Json(ticket.view())))
}
