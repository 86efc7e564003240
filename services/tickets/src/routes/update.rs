//! `PUT /api/tickets/:id {title,price}` → 200 ticket (version + 1); publishes `ticket:updated`.
//!
//! 404 if there is no such ticket, 401 unless the caller owns it, 400 `Cannot edit a reserved
//! ticket` while an order holds it. The save is optimistic: if the ticket changed between the
//! read and the write (an order reserving it, or another `PUT`), the checks run again on a fresh
//! read. Of any number of concurrent saves one wins each round, so concurrent `PUT`s of the owner
//! all succeed in turn (last writer wins, each with its own version); only a ticket that keeps
//! changing for [`ATTEMPTS`] rounds gets 409 [`BUSY`], never a 500.

use axum::Json;
use axum::extract::State;
use common::mongo::PathId;
use common::version::SaveError;
use common::{AppError, AppResult, JsonBody, JsonObject, RequireUser};

use crate::app::AppState;
use crate::models::ticket::{self, TicketView};
use crate::routes::ticket_fields;

pub const RESERVED: &str = "Cannot edit a reserved ticket";

pub const BUSY: &str = "Ticket is being changed by another request; try again";

/// Fresh reads before giving up on a ticket that keeps changing under the request: enough
/// for dozens of concurrent edits of one ticket, each round letting one of them through.
pub const ATTEMPTS: usize = 64;

#[utoipa::path(
    put,
    path = "/api/tickets/{id}",
    operation_id = "updateTicket",
    tag = "tickets",
    security(("session" = [])),
    params(("id" = String, Path, description = "The ticket's id")),
    request_body = crate::openapi::TicketFields,
    responses(
        (status = 200, description = "Updated, version + 1; `ticket:updated` is published",
            body = TicketView),
        (status = 400, description = "A field is invalid, or `Cannot edit a reserved ticket`",
            body = common::ErrorBody),
        (status = 401, description = "Not signed in, or not the ticket's owner", body = common::ErrorBody),
        (status = 404, description = "No such ticket (or a malformed id)", body = common::ErrorBody),
        (status = 409, description = "The ticket kept changing under the request; try again",
            body = common::ErrorBody),
    ),
)]
pub async fn handler(
    State(state): State<AppState>,
    user: RequireUser,
    PathId(id): PathId,
    JsonBody(body): JsonBody<JsonObject>,
) -> AppResult<Json<TicketView>> {
    let (title, price) = ticket_fields(&body)?;
    for _ in 0..ATTEMPTS {
        let ticket = ticket::find(&state.store.tickets, id)
            .await?
            .ok_or(AppError::NotFound)?;
        if user.id != ticket.user_id {
            return Err(AppError::NotAuthorized);
        }
        if ticket.is_reserved() {
            return Err(AppError::bad_request(RESERVED));
        }
        match state
            .store
            .update_details(&ticket, title.clone(), price)
            .await
        {
            Ok(updated) => {
                tracing::info!(ticket = %updated.id, version = updated.version, "ticket updated");
                return Ok(Json(updated.view()));
            }
            Err(SaveError::Stale) => {
                tracing::debug!(ticket = %id, "ticket changed while updating; reading it again");
            }
            Err(SaveError::Mongo(error)) => return Err(error.into()),
        }
    }
    tracing::warn!(ticket = %id, attempts = ATTEMPTS, "ticket kept changing during the update; 409");
    Err(AppError::Conflict(BUSY.to_owned()))
}
