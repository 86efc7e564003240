//! `expiration:complete` → paid in time, or expired? (`Store::expire`). With no payment and
//! none in flight, `payment:expired` is published and orders cancels the order; with an attempt
//! in flight, its outcome decides; paid or cancelled orders need nothing.

use common::events::{ExpirationComplete, HandlerError};

use crate::store::Expiry;
use crate::store::Store;

pub async fn handle(event: ExpirationComplete, store: Store) -> Result<(), HandlerError> {
    match store.expire(event.order_id).await? {
        Expiry::Expired => {
            tracing::info!(order = %event.order_id, "time to pay ran out with no payment: payment:expired");
            Ok(())
        }
        Expiry::Deferred => {
            tracing::info!(order = %event.order_id, "time to pay ran out during a payment attempt; its outcome decides");
            Ok(())
        }
        Expiry::Settled => Ok(()),
        // `order:created` travels on another consumer and may not have been applied yet.
        Expiry::Unknown => Err(HandlerError::not_yet(format!(
            "expiration of order {} before its order:created",
            event.order_id
        ))),
    }
}
