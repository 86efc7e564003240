//! `ticket:updated` → the replica takes the new title, price and version, if it holds the
//! previous version; otherwise the event is nakked and applied once its predecessor has been.
//!
//! The ticket's `orderId` is not copied: whether a ticket is reserved is decided here by the
//! orders themselves, and the tickets service only echoes it.

use common::events::{HandlerError, TicketUpdated};

use crate::models::ticket;
use crate::store::Store;

pub async fn handle(event: TicketUpdated, store: Store) -> Result<(), HandlerError> {
    ticket::apply(&store.tickets, &event.into())
        .await?
        .into_handler_result()
}
