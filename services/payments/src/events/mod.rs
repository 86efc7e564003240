//! The events payments listens to (queue group `payments-service`), one module per subject:
//!
//! - `order:created`, `order:cancelled` keep the order replica under the replica version rule,
//!   so a redelivered event changes nothing and an early one waits for its predecessor; a
//!   cancellation of an order already paid makes its charge's refund due.
//! - `expiration:complete` decides between paid and expired (`Store::expire`) and, when no
//!   payment was accepted in time, publishes `payment:expired` for orders to cancel on.
//!
//! `payment:created` and `payment:refunded` are published through the outbox by the `Store`.

pub mod expiration_complete;
pub mod order_cancelled;
pub mod order_created;

use common::events::Consumers;

use crate::store::Store;

/// Starts a durable consumer for each subject this service listens to.
pub async fn listen(consumers: &mut Consumers, store: &Store) -> anyhow::Result<()> {
    consumers
        .listen(store.clone(), order_created::handle)
        .await?;
    consumers
        .listen(store.clone(), order_cancelled::handle)
        .await?;
    consumers
        .listen(store.clone(), expiration_complete::handle)
        .await?;
    Ok(())
}
