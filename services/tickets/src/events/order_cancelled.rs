//! `order:cancelled` → the ticket is free again (and `ticket:updated` published), if this order
//! held it; the order is remembered as cancelled either way.

use anyhow::anyhow;
use common::events::{HandlerError, OrderCancelled};

use crate::store::{Change, Store};

pub async fn handle(event: OrderCancelled, store: Store) -> Result<(), HandlerError> {
    match store.release(&event).await? {
        Change::Applied(ticket) => {
            tracing::info!(ticket = %ticket.id, order = %event.id, version = ticket.version, "ticket released");
            Ok(())
        }
        Change::Unchanged | Change::OrderAlreadyReleased => {
            tracing::debug!(ticket = %event.ticket.id, order = %event.id, "not held by this order; nothing to release");
            Ok(())
        }
        Change::TicketMissing => Err(HandlerError::failed(anyhow!(
            "ticket {} of order {} not found",
            event.ticket.id,
            event.id
        ))),
    }
}
