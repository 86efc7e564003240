//! The `refunds` collection: every charge that did not become an order's payment, and what
//! became of it. Keyed by the charge id, so a charge is refunded at most once however many
//! times its refund is asked for.
//!
//! A charge ends in exactly one recorded outcome: the payment of its order (`payments`) or a
//! refund here. A refund is *due* when written and *done* once Stripe refunded it
//! (`refundedAt`); the reconciler works through due ones, each under a short lease so replicas
//! do not refund in parallel (Stripe's idempotency key `refund-<charge>` would make a parallel
//! refund the same refund anyway).

use std::time::Duration;

use bson::oid::ObjectId;
use bson::{DateTime, doc};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{ClientSession, Collection, IndexModel};
use serde::{Deserialize, Serialize};

/// How long one refund call may own a due refund before another try may take it.
pub const REFUND_LEASE: Duration = Duration::from_secs(60);

/// Why a charge is refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The order was cancelled before or after the charge.
    OrderCancelled,
    /// The order was paid by another charge.
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// The charge, `ch_…`.
    #[serde(rename = "_id")]
    pub charge_id: String,
    pub order_id: ObjectId,
    pub reason: Reason,
    pub created_at: DateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime>,
    /// Stripe's refund, `re_…` (absent when the charge had been refunded by other means).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<DateTime>,
    /// Why the last refund call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Refund {
    pub const COLLECTION: &'static str = "refunds";
}

/// Serves the reconciler's search for due refunds.
pub async fn ensure_indexes(refunds: &Collection<Refund>) -> mongodb::error::Result<()> {
    let index = IndexModel::builder()
        .keys(doc! { "refundedAt": 1, "leaseUntil": 1 })
        .options(IndexOptions::builder().name("due".to_owned()).build())
        .build();
    refunds.create_index(index).await?;
    Ok(())
}

/// Makes the refund of `charge_id` due, unless it is known already (idempotent), inside the
/// caller's transaction.
pub async fn make_due(
    refunds: &Collection<Refund>,
    session: &mut ClientSession,
    charge_id: &str,
    order_id: ObjectId,
    reason: Reason,
) -> mongodb::error::Result<()> {
    let reason = bson::to_bson(&reason).map_err(mongodb::error::Error::custom)?;
    refunds
        .update_one(
            doc! { "_id": charge_id },
            doc! { "$setOnInsert": {
                "orderId": order_id,
                "reason": reason,
                "createdAt": DateTime::now(),
            } },
        )
        .upsert(true)
        .session(session)
        .await?;
    Ok(())
}

/// Hands out one due refund whose lease (if any) lapsed, leased afresh.
pub async fn take_due(refunds: &Collection<Refund>) -> mongodb::error::Result<Option<Refund>> {
    let now = DateTime::now();
    refunds
        .find_one_and_update(
            doc! {
                "refundedAt": null,
                "$or": [ { "leaseUntil": null }, { "leaseUntil": { "$lt": now } } ],
            },
            doc! { "$set": { "leaseUntil": super::order::later(now, REFUND_LEASE) } },
        )
        .return_document(ReturnDocument::After)
        .await
}

/// Notes why a refund call failed; the refund stays due and is tried again once its lease lapses.
pub async fn note_failure(
    refunds: &Collection<Refund>,
    charge_id: &str,
    error: &str,
) -> mongodb::error::Result<()> {
    refunds
        .update_one(
            doc! { "_id": charge_id },
            doc! { "$set": { "lastError": error } },
        )
        .await?;
    Ok(())
}
