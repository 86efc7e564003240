//! The `orders` replica: what payments needs to know of an order, copied from the orders
//! service's events under the replica version rule (`common::version`), and the state of paying
//! for it, which is this service's own.
//!
//! Fields from events: `status`, `userId`, `price` and `expiresAt`. Fields of our own, which
//! applying an event leaves alone:
//!
//! - `attempt`: the payment attempt in progress — written *before* Stripe is called, so a charge
//!   whose outcome we never heard (a crash, a lost answer) is found again and settled by the
//!   reconciler (`crate::reconciler`). At most one per order: a second card waits until the
//!   first attempt has ended, so two cards cannot both be charged.
//! - `paymentId`: set in the transaction that records the payment (an order is paid at most once).
//! - `expiryDue`: `expiration:complete` was heard while an attempt was in flight; the verdict
//!   waits for the attempt's outcome.
//! - `expired`: the verdict `payment:expired` was staged; the order can never be paid again.
//!
//! Every decision between paying and expiring is a conditional write of this one document, so
//! MongoDB orders them: an attempt is taken only while `expired` is unset and `expiresAt` is in
//! the future, and the verdict is reached only while no attempt is in flight.

use std::time::Duration;

use bson::oid::ObjectId;
use bson::{DateTime, doc};
use common::events::OrderStatus;
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Collection, IndexModel};
use serde::{Deserialize, Serialize};

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
    /// When the order stops being payable (`order:created`'s `expiresAt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<ObjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<Attempt>,
    #[serde(default)]
    pub expiry_due: bool,
    #[serde(default)]
    pub expired: bool,
}

/// A payment attempt whose outcome is not recorded yet: what to send Stripe again to learn it.
///
/// The card token is kept so the reconciler can repeat the exact request (Stripe's idempotency
/// key only replays a request with the same parameters). A token is single-use and short-lived,
/// not card data; it is removed with the attempt and never logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// Stripe's idempotency key, `charges::idempotency_key(order, token)`.
    pub key: String,
    pub token: String,
    pub amount_cents: i64,
    pub started_at: DateTime,
    /// Until when the request (or reconciler) working on it owns it.
    pub lease_until: DateTime,
}

impl Order {
    pub const COLLECTION: &'static str = "orders";

    /// Whether `now` is past the time to pay.
    pub fn is_past_due(&self, now: DateTime) -> bool {
        self.expired || self.expires_at.is_some_and(|expires| expires <= now)
    }
}

impl Attempt {
    pub fn new(
        key: String,
        token: String,
        amount_cents: i64,
        now: DateTime,
        lease: Duration,
    ) -> Self {
        Self {
            key,
            token,
            amount_cents,
            started_at: now,
            lease_until: later(now, lease),
        }
    }
}

/// `now` plus `span`.
pub fn later(now: DateTime, span: Duration) -> DateTime {
    let span = i64::try_from(span.as_millis()).unwrap_or(i64::MAX);
    DateTime::from_millis(now.timestamp_millis().saturating_add(span))
}

/// Serves the reconciler's search for attempts whose lease lapsed.
pub async fn ensure_indexes(orders: &Collection<Order>) -> mongodb::error::Result<()> {
    let index = IndexModel::builder()
        .keys(doc! { "attempt.leaseUntil": 1 })
        .options(
            IndexOptions::builder()
                .name("attempt_lease".to_owned())
                .sparse(true)
                .build(),
        )
        .build();
    orders.create_index(index).await?;
    Ok(())
}

pub async fn find(
    orders: &Collection<Order>,
    id: ObjectId,
) -> mongodb::error::Result<Option<Order>> {
    orders.find_one(doc! { "_id": id }).await
}

/// Takes the order for `attempt`: only if it is unpaid, not cancelled, not expired, its time to
/// pay has not run out by `now`, and no other attempt is in flight. An attempt with the same key
/// (a retry of the same request: Stripe answers it from its idempotency store) takes it again
/// with a new lease. Returns whether the attempt is ours.
pub async fn take_for_attempt(
    orders: &Collection<Order>,
    id: ObjectId,
    attempt: &Attempt,
    now: DateTime,
) -> mongodb::error::Result<bool> {
    let attempt_doc = bson::to_document(attempt).map_err(mongodb::error::Error::custom)?;
    let result = orders
        .update_one(
            doc! {
                "_id": id,
                "paymentId": null,
                "status": { "$ne": OrderStatus::Cancelled.as_str() },
                "expired": { "$ne": true },
                "$and": [
                    // Replicas written before `expiresAt` was kept expire by the verdict only.
                    { "$or": [ { "expiresAt": null }, { "expiresAt": { "$gt": now } } ] },
                    { "$or": [ { "attempt": null }, { "attempt.key": &attempt.key } ] },
                ],
            },
            doc! { "$set": { "attempt": attempt_doc } },
        )
        .await?;
    Ok(result.matched_count == 1)
}

/// Hands the reconciler one attempt whose lease lapsed before `now`, leased to it afresh.
pub async fn take_lapsed_attempt(
    orders: &Collection<Order>,
    now: DateTime,
    lease: Duration,
) -> mongodb::error::Result<Option<Order>> {
    orders
        .find_one_and_update(
            doc! { "attempt.leaseUntil": { "$lt": now } },
            doc! { "$set": { "attempt.leaseUntil": later(now, lease) } },
        )
        .return_document(ReturnDocument::After)
        .await
}
