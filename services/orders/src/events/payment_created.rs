//! `payment:created` → the order is complete (version + 1). Nobody listens for that, so no event.

use common::events::{HandlerError, PaymentCreated};

use crate::models::order::{self, Completed};
use crate::store::Store;

pub async fn handle(event: PaymentCreated, store: Store) -> Result<(), HandlerError> {
    match order::complete(&store.orders, event.order_id).await? {
        Completed::Now(order) => {
            tracing::info!(order = %order.id, payment = %event.id, "order paid");
            Ok(())
        }
        Completed::Already(_) => Ok(()),
        Completed::WasCancelled(order) => {
            // Only the buyer's own cancel can overtake a payment accepted in time (expiry waits
            // for payments' verdict); payments refunds the charge when it hears
            // `order:cancelled`.
            tracing::info!(
                order = %order.id, payment = %event.id, stripe = %event.stripe_id,
                "payment for an order the buyer cancelled; it stays cancelled and payments refunds it"
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
