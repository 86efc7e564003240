//! `ticket:updated` → the replica takes the new title, price and version, if it holds the
//! previous version; otherwise the event is nakked and applied once its predecessor has been.
//!
//! The ticket's `orderId` is not copied: whether a ticket is reserved is decided here by the
//! orders themselves, and the tickets service only echoes it.

use common::events::{HandlerError, TicketUpdated};

use crate::app::AppState;
use crate::models::ticket;

pub async fn handle(event: TicketUpdated, state: AppState) -> Result<(), HandlerError> {
    ticket::apply(&state.tickets, &event.into())
        .await?
        .into_handler_result()
}
