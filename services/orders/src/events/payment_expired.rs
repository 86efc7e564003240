//! `payment:expired` → the order is cancelled (and `order:cancelled` published) unless it has
//! been paid. A redelivery finds it cancelled already and does nothing.
//!
//! Orders cancels on payments' verdict, not on `expiration:complete`: only payments knows
//! whether a payment it accepted before `expiresAt` is still on its way (NATS down, a slow
//! consumer), and it publishes `payment:expired` only when none is. Cancelling on the timer
//! alone once cancelled orders whose buyers had paid in time.

use common::events::{HandlerError, PaymentExpired};

use crate::store::Cancelled;
use crate::store::Store;

pub async fn handle(event: PaymentExpired, store: Store) -> Result<(), HandlerError> {
    match store.cancel(event.order_id).await? {
        Cancelled::Now(order) => {
            tracing::info!(order = %order.id, "order expired and cancelled");
            Ok(())
        }
        Cancelled::Already(_) | Cancelled::Complete(_) => Ok(()),
        // Orders are created here before payments hears of them, so an unknown order is not a
        // matter of waiting: retried a few times, then parked for an operator to see.
        Cancelled::NotFound => Err(HandlerError::failed(anyhow::anyhow!(
            "expiration of unknown order {}",
            event.order_id
        ))),
    }
}
