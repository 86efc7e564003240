//! `order:created` → a new order in the replica: status, owner, price (the ticket's, which the
//! order keeps) and the time to pay by.

use bson::doc;
use common::events::{HandlerError, OrderCreated};
use common::version::apply_replica;

use crate::app::AppState;

pub async fn handle(event: OrderCreated, state: AppState) -> Result<(), HandlerError> {
    let fields = doc! {
        "status": event.status.as_str(),
        "userId": event.user_id,
        "price": event.ticket.price,
        "expiresAt": bson::DateTime::from_chrono(event.expires_at),
    };
    apply_replica(&state.orders, None, event.id, event.version, fields)
        .await?
        .into_handler_result()
}
