//! `order:created` → a new order in the replica: status, owner, price (the ticket's, which the
//! order keeps) and the time to pay by.

use bson::doc;
use common::events::{HandlerError, OrderCreated};
use common::version::apply_replica;

use crate::store::Store;

pub async fn handle(event: OrderCreated, store: Store) -> Result<(), HandlerError> {
    let fields = doc! {
        "status": event.status.as_str(),
        "userId": event.user_id,
        "price": event.ticket.price,
        "expiresAt": bson::DateTime::from_chrono(event.expires_at),
    };
    apply_replica(&store.orders, None, event.id, event.version, fields)
        .await?
        .into_handler_result()
}
