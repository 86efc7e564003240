//! `payment:created` → the order is complete (version + 1). Nobody listens for that, so no event.

use common::events::{HandlerError, PaymentCreated};

use crate::app::AppState;
use crate::models::order::{self, Completed};

pub async fn handle(event: PaymentCreated, state: AppState) -> Result<(), HandlerError> {
    match order::complete(&state.orders, event.order_id).await? {
        Completed::Now(order) => {
            tracing::info!(order = %order.id, payment = %event.id, "order paid");
            Ok(())
        }
        Completed::Already(_) => Ok(()),
        Completed::WasCancelled(order) => {
            // Retrying cannot help; the log line is what an operator acts on (refund).
            tracing::error!(
                order = %order.id, payment = %event.id, stripe = %event.stripe_id,
                "payment for an order that was already cancelled; left cancelled, needs a refund"
            );
            Ok(())
        }
        Completed::NotFound => Err(HandlerError::failed(anyhow::anyhow!(
            "payment {} for unknown order {}",
            event.id,
            event.order_id
        ))),
    }
}
