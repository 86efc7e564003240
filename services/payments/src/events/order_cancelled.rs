//! `order:cancelled` → the order can no longer be paid. If it was paid already (the buyer
//! cancelled it while `payment:created` was on its way to orders, which then keeps it
//! cancelled), its charge is refunded.

use bson::doc;
use common::events::{HandlerError, OrderCancelled, OrderStatus};
use common::version::{Applied, apply_replica};

use crate::models::order;
use crate::store::Store;

pub async fn handle(event: OrderCancelled, store: Store) -> Result<(), HandlerError> {
    let fields = doc! { "status": OrderStatus::Cancelled.as_str() };
    let applied = apply_replica(&store.orders, None, event.id, event.version, fields).await?;
    // Also on a redelivery: the first delivery may have died between the two writes.
    if matches!(applied, Applied::Applied | Applied::Duplicate)
        && let Some(order) = order::find(&store.orders, event.id).await?
        && order.status == OrderStatus::Cancelled
        && order.payment_id.is_some()
    {
        tracing::info!(order = %order.id, "paid order cancelled; refunding its charge");
        store.refund_if_paid(&order).await?;
    }
    applied.into_handler_result()
}
