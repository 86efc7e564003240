//! What the orders service hears, one module per subject, all in queue group `orders-service`.
//!
//! - `ticket:created`, `ticket:updated` keep the ticket replica, by the version rule (version N
//!   only on N-1; a gap is nakked and comes back; an older or equal version is a duplicate).
//! - `payment:expired` (payments' verdict once `expiration:complete` found no payment) cancels
//!   an unpaid order and publishes `order:cancelled`.
//! - `payment:created` marks an order complete.
//!
//! Every handler is idempotent: a redelivery changes nothing twice and publishes nothing twice,
//! because each decides from the stored state (version, status) inside its write.
//! The consumers (`common::events::Consumers`) ack, nak and park according to the handler's
//! result; see its docs.

pub mod payment_created;
pub mod payment_expired;
pub mod ticket_created;
pub mod ticket_updated;

use common::events::Consumers;

use crate::store::Store;

/// Starts a durable consumer for each subject this service listens to.
pub async fn listen(consumers: &mut Consumers, store: Store) -> anyhow::Result<()> {
    consumers
        .listen(store.clone(), ticket_created::handle)
        .await?;
    consumers
        .listen(store.clone(), ticket_updated::handle)
        .await?;
    consumers
        .listen(store.clone(), payment_expired::handle)
        .await?;
    consumers.listen(store, payment_created::handle).await?;
    Ok(())
}
