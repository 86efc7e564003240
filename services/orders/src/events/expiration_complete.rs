//! `expiration:complete` → the order is cancelled (and `order:cancelled` published) unless it has
//! been paid. A redelivery finds it cancelled already and does nothing.

use common::events::{ExpirationComplete, HandlerError};

use crate::app::AppState;
use crate::models::order::{self, Cancelled};

pub async fn handle(event: ExpirationComplete, state: AppState) -> Result<(), HandlerError> {
    match order::cancel(&state.outbox, &state.orders, event.order_id).await? {
        Cancelled::Now(order) => {
            tracing::info!(order = %order.id, "order expired and cancelled");
            Ok(())
        }
        Cancelled::Already(_) | Cancelled::Complete(_) => Ok(()),
        // Orders are created here before their expiration is scheduled, so an unknown order is
        // not a matter of waiting: retried a few times, then parked for an operator to see.
        Cancelled::NotFound => Err(HandlerError::failed(anyhow::anyhow!(
            "expiration of unknown order {}",
            event.order_id
        ))),
    }
}
