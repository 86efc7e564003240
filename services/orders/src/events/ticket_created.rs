//! `ticket:created` → a new ticket in the replica, at version 0.

use common::events::{HandlerError, TicketCreated};

use crate::app::AppState;
use crate::models::ticket;

pub async fn handle(event: TicketCreated, state: AppState) -> Result<(), HandlerError> {
    ticket::apply(&state.tickets, &event.into())
        .await?
        .into_handler_result()
}
