//! `payment:expired` → the order is cancelled (and `order:cancelled` published) unless it has
//! been paid. A redelivery finds it cancelled already and does nothing.
//!
//! Orders cancels on payments' verdict, not on `expiration:complete`: only payments knows
//! whether a payment it accepted before `expiresAt` is still on its way (NATS down, a slow
//! consumer), and it publishes `payment:expired` only when none is. Cancelling on the timer
//! alone once cancelled orders whose buyers had paid in time.

use common::events::{HandlerError, PaymentExpired};

use crate::app::AppState;
use crate::models::order::{self, Cancelled};

pub async fn handle(event: PaymentExpired, state: AppState) -> Result<(), HandlerError> {
    match order::cancel(&state.outbox, &state.orders, event.order_id).await? {
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
