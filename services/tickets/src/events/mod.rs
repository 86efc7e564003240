//! What tickets does on other services' events, one module per subject, in queue group
//! `tickets-service`: an order reserves its ticket, a cancelled order releases it. Both publish
//! `ticket:updated` (through the outbox), so orders' replica learns the new version.

pub mod order_cancelled;
pub mod order_created;

use common::events::Consumers;

use crate::store::Store;

/// Starts the consumers `tickets-service-order-created` and `tickets-service-order-cancelled`.
pub async fn listen(consumers: &mut Consumers, store: Store) -> anyhow::Result<()> {
    consumers
        .listen(store.clone(), order_created::handle)
        .await?;
    consumers.listen(store, order_cancelled::handle).await?;
    Ok(())
}
