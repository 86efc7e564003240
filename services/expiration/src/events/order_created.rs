//! `order:created` → a job due at the order's `expiresAt`.
//!
//! The listener acks only after Redis has the job, so an event is never lost between NATS and
//! Redis; a redelivery (or a second replica's delivery) finds the job there and adds nothing. An
//! `expiresAt` in the past is simply due at once.

use common::events::{HandlerError, OrderCreated};

use crate::queue::{JobQueue, Scheduled};

pub async fn handle(event: OrderCreated, queue: JobQueue) -> Result<(), HandlerError> {
    let order = event.id.to_hex();
    let due_ms = event.expires_at.timestamp_millis();
    let outcome = queue
        .schedule(&order, due_ms)
        .await
        .map_err(HandlerError::failed)?;
    match outcome {
        Scheduled::Added => {
            tracing::info!(order, expires_at = %event.expires_at, "expiration scheduled");
        }
        other => tracing::debug!(order, ?other, "order:created again; nothing to schedule"),
    }
    Ok(())
}
