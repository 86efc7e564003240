//! `POST /api/tickets {title,price}` → 201 ticket (version 0); publishes `ticket:created`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::{AppResult, JsonBody, JsonObject, RequireUser};

use crate::app::AppState;
use crate::models::ticket::{Ticket, TicketView};
use crate::routes::ticket_fields;

#[utoipa::path(
    post,
    path = "/api/tickets",
    operation_id = "createTicket",
    tag = "tickets",
    security(("session" = [])),
    request_body = crate::openapi::TicketFields,
    responses(
        (status = 201, description = "Created, version 0; `ticket:created` is published",
            body = TicketView,
            links(
                ("getTicket" = (operation_id = "getTicket", parameters(("id" = "$response.body#/id")))),
                ("updateTicket" = (operation_id = "updateTicket", parameters(("id" = "$response.body#/id")))),
                ("createOrder" = (operation_id = "createOrder",
                    request_body = json!({"ticketId": "$response.body#/id"}))),
            )),
        (status = 400, description = "A field is invalid (one entry per field)", body = common::ErrorBody),
    ),
)]
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
