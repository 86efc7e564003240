//! `POST /api/orders {ticketId}` → 201 order, and `order:created`.
//!
//! The ticket must be known to this service's replica (404 otherwise) and not held by an active
//! order (400 `Ticket is already reserved`). That rule is the partial unique index on
//! `orders.ticketId` (see `models::order`) alone: the insert of a second active order for a
//! ticket fails with a duplicate key, whether the first committed long ago or a moment ago in a
//! concurrent request. (A read asking first would answer nothing the index does not, and cost
//! every successful order a round trip to MongoDB.)

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::validation::{Validator, field};
use common::{AppError, AppResult, JsonBody, JsonObject, RequireUser};

use crate::app::AppState;
use crate::models::order::{Order, OrderView};
use crate::models::ticket;

pub const TICKET_ID_INVALID: &str = "TicketId must be provided";
pub const ALREADY_RESERVED: &str = "Ticket is already reserved";

#[utoipa::path(
    post,
    path = "/api/orders",
    operation_id = "createOrder",
    tag = "orders",
    security(("session" = [])),
    request_body = crate::openapi::NewOrder,
    responses(
        (status = 201, description = "Created, status `created`, version 0; `order:created` is published",
            body = OrderView,
            links(
                ("getOrder" = (operation_id = "getOrder", parameters(("orderId" = "$response.body#/id")))),
                ("deleteOrder" = (operation_id = "deleteOrder", parameters(("orderId" = "$response.body#/id")))),
                ("createPayment" = (operation_id = "createPayment",
                    request_body = json!({"orderId": "$response.body#/id", "token": "tok_visa"}))),
            )),
        (status = 400, description = "`ticketId` is invalid, or `Ticket is already reserved`",
            body = common::ErrorBody),
        (status = 404, description = "No such ticket", body = common::ErrorBody),
    ),
)]
pub async fn handler(
    State(state): State<AppState>,
    user: RequireUser,
    JsonBody(body): JsonBody<JsonObject>,
) -> AppResult<(StatusCode, Json<OrderView>)> {
    let mut v = Validator::new();
    let ticket_id = v.object_id("ticketId", field(&body, "ticketId"), TICKET_ID_INVALID);
    let ticket_id = v.finish(ticket_id)?;
    let user_id = user.id;

    let ticket = ticket::find(&state.store.tickets, ticket_id)
        .await?
        .ok_or(AppError::NotFound)?;

    let order = Order::new(user_id, ticket_id, state.expiration_window);
    match state.store.create(&order, &ticket).await {
        Ok(()) => {}
        Err(error) if common::mongo::is_duplicate_key(&error) => {
            return Err(AppError::bad_request(ALREADY_RESERVED));
        }
        Err(error) => return Err(error.into()),
    }
    tracing::info!(order = %order.id, ticket = %ticket.id, "order created");
    Ok((StatusCode::CREATED, Json(order.view(Some(&ticket)))))
}
