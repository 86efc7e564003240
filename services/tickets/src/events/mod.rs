//! What tickets does on other services' events: an order reserves its ticket, a cancelled
//! order releases it. Both publish `ticket:updated` (through the outbox), so orders' replica
//! learns the new version.

use anyhow::anyhow;
use common::events::{Consumers, HandlerError, OrderCancelled, OrderCreated};

use crate::models::ticket::{Change, TicketStore};

/// Starts the consumers `tickets-service-order-created` and `tickets-service-order-cancelled`.
pub async fn listen(listener: &mut Consumers, store: TicketStore) -> anyhow::Result<()> {
    listener.listen(store.clone(), order_created).await?;
    listener.listen(store, order_cancelled).await?;
    Ok(())
}

/// `order:created`: the ticket is reserved by the order.
pub async fn order_created(event: OrderCreated, store: TicketStore) -> Result<(), HandlerError> {
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

/// `order:cancelled`: the ticket is free again, if this order held it.
pub async fn order_cancelled(
    event: OrderCancelled,
    store: TicketStore,
) -> Result<(), HandlerError> {
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
