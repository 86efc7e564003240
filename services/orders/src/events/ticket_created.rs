//! `ticket:created` → a new ticket in the replica, at version 0.

use common::events::{HandlerError, TicketCreated};

use crate::models::ticket;
use crate::store::Store;

pub async fn handle(event: TicketCreated, store: Store) -> Result<(), HandlerError> {
    ticket::apply(&store.tickets, &event.into())
        .await?
        .into_handler_result()
}
