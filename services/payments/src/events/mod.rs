//! The events payments listens to: it keeps its order replica from `order:created` and
//! `order:cancelled` (queue group `payments-service`). Both apply under the replica version rule,
//! so a redelivered event changes nothing and an early one waits for its predecessor.
//! `payment:created` is published through the outbox by `routes::create_payment`.

use bson::doc;
use common::events::{HandlerError, Listener, OrderCancelled, OrderCreated, OrderStatus};
use common::version::apply_replica;
use mongodb::Collection;

use crate::app::AppState;
use crate::models::order::Order;

/// Starts both consumers.
pub async fn listen(listener: &mut Listener, state: &AppState) -> anyhow::Result<()> {
    listener
        .listen(state.orders.clone(), on_order_created)
        .await?;
    listener
        .listen(state.orders.clone(), on_order_cancelled)
        .await?;
    Ok(())
}

/// Copies a new order: its status, owner and price (the ticket's, which the order keeps).
pub async fn on_order_created(
    event: OrderCreated,
    orders: Collection<Order>,
) -> Result<(), HandlerError> {
    let fields = doc! {
        "status": event.status.as_str(),
        "userId": event.user_id,
        "price": event.ticket.price,
    };
    apply_replica(&orders, None, event.id, event.version, fields)
        .await?
        .into_handler_result()
}

/// Marks the order cancelled: it can no longer be paid.
pub async fn on_order_cancelled(
    event: OrderCancelled,
    orders: Collection<Order>,
) -> Result<(), HandlerError> {
    let fields = doc! { "status": OrderStatus::Cancelled.as_str() };
    apply_replica(&orders, None, event.id, event.version, fields)
        .await?
        .into_handler_result()
}
