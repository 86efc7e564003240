//! The `payments` collection: one document per paid order.

use bson::oid::ObjectId;
use bson::{DateTime, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub order_id: ObjectId,
    /// The Stripe charge, `ch_…`.
    pub stripe_id: String,
    pub created_at: DateTime,
}

/// What the API shows of a payment: `{id, orderId, stripeId}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Payment)]
pub struct PaymentView {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    pub id: String,
    #[schema(pattern = "^[0-9a-f]{24}$")]
    pub order_id: String,
    /// The Stripe charge's id.
    pub stripe_id: String,
}

impl Payment {
    pub const COLLECTION: &'static str = "payments";

    pub fn new(order_id: ObjectId, stripe_id: String) -> Self {
        Self {
            id: ObjectId::new(),
            order_id,
            stripe_id,
            created_at: DateTime::now(),
        }
    }

    pub fn view(&self) -> PaymentView {
        PaymentView {
            id: self.id.to_hex(),
            order_id: self.order_id.to_hex(),
            stripe_id: self.stripe_id.clone(),
        }
    }
}

/// One payment per order, whatever the timing of concurrent requests: the second insert fails
/// with a duplicate key and its transaction (and event) is rolled back.
pub async fn ensure_indexes(payments: &Collection<Payment>) -> mongodb::error::Result<()> {
    let index = IndexModel::builder()
        .keys(doc! { "orderId": 1 })
        .options(
            IndexOptions::builder()
                .unique(true)
                .name("order_unique".to_owned())
                .build(),
        )
        .build();
    payments.create_index(index).await?;
    Ok(())
}
