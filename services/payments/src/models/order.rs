//! The `orders` replica: what payments needs to know of an order, copied from the orders
//! service's events under the replica version rule (`common::version`).
//!
//! Two fields are this service's own and never come from events, so applying an event leaves
//! them alone: `paymentId`, set in the transaction that records the payment (an order is paid at
//! most once), and `claim`, the short lease a payment attempt holds on the order while it talks to
//! Stripe, so that two attempts with *different* cards cannot both charge.

use std::time::Duration;

use bson::oid::ObjectId;
use bson::{DateTime, doc};
use common::events::OrderStatus;
use mongodb::Collection;
use serde::{Deserialize, Serialize};

/// How long a payment attempt holds its claim. Longer than a Stripe call with its retries can
/// take (see `charges::ATTEMPT_TIMEOUT`), so a live attempt never loses it; short enough that a
/// crashed attempt does not block the order for long.
pub const CLAIM_LEASE: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub version: i64,
    pub status: OrderStatus,
    pub user_id: ObjectId,
    /// The ticket's price in dollars, as the event carries it.
    pub price: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<ObjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
}

/// A payment attempt in progress: its Stripe idempotency key and when its lease ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub key: String,
    pub until: DateTime,
}

impl Order {
    pub const COLLECTION: &'static str = "orders";
}

pub async fn find(
    orders: &Collection<Order>,
    id: ObjectId,
) -> mongodb::error::Result<Option<Order>> {
    orders.find_one(doc! { "_id": id }).await
}

/// Takes the order for a payment attempt keyed `key`: only if it is unpaid, not cancelled, and
/// nobody else holds a live claim. The same key may take it again (a retry of the same request
/// is safe: Stripe answers it from its idempotency store). Returns whether the claim is ours.
pub async fn claim(
    orders: &Collection<Order>,
    id: ObjectId,
    key: &str,
) -> mongodb::error::Result<bool> {
    let now = DateTime::now();
    let until = DateTime::from_millis(
        now.timestamp_millis()
            .saturating_add(i64::try_from(CLAIM_LEASE.as_millis()).unwrap_or(i64::MAX)),
    );
    let result = orders
        .update_one(
            doc! {
                "_id": id,
                "paymentId": null,
                "status": { "$ne": OrderStatus::Cancelled.as_str() },
                "$or": [
                    { "claim": null },
                    { "claim.until": { "$lt": now } },
                    { "claim.key": key },
                ],
            },
            doc! { "$set": { "claim": { "key": key, "until": until } } },
        )
        .await?;
    Ok(result.matched_count == 1)
}

/// Gives up a claim after an attempt that charged nothing (declined, or Stripe unreachable).
pub async fn release(
    orders: &Collection<Order>,
    id: ObjectId,
    key: &str,
) -> mongodb::error::Result<()> {
    orders
        .update_one(
            doc! { "_id": id, "claim.key": key },
            doc! { "$unset": { "claim": "" } },
        )
        .await?;
    Ok(())
}
