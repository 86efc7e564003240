//! The payments database: the order replica, the payments, and the refunds of charges that did
//! not become a payment.

pub mod order;
pub mod payment;
pub mod refund;

use mongodb::Database;

/// The indexes every collection of the payments database relies on.
pub async fn ensure_indexes(database: &Database) -> mongodb::error::Result<()> {
    payment::ensure_indexes(&database.collection(payment::Payment::COLLECTION)).await?;
    order::ensure_indexes(&database.collection(order::Order::COLLECTION)).await?;
    refund::ensure_indexes(&database.collection(refund::Refund::COLLECTION)).await
}
