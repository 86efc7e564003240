//! `order:created` → the ticket is reserved by the order (and `ticket:updated` published),
//! unless this order holds it already (a redelivery) or was cancelled first.

use anyhow::anyhow;
use common::events::{HandlerError, OrderCreated};

use crate::store::{Change, Store};

pub async fn handle(event: OrderCreated, store: Store) -> Result<(), HandlerError> {
    match store.reserve(&event).await? {
        Change::Applied(ticket) => {
            tracing::info!(ticket = %ticket.id, order = %event.id, version = ticket.version, "ticket reserved");
            Ok(())
        }
        Change::Unchanged => {
            tracing::debug!(ticket = %event.ticket.id, order = %event.id, "already reserved by this order");
            Ok(())
        }
        Change::OrderAlreadyReleased => {
            tracing::info!(ticket = %event.ticket.id, order = %event.id, "order cancelled before its creation was handled; not reserving");
            Ok(())
        }
        Change::TicketMissing => Err(HandlerError::failed(anyhow!(
            "ticket {} of order {} not found",
            event.ticket.id,
            event.id
        ))),
    }
}
