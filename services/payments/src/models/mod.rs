//! The payments database: the order replica, the payments, and the refunds of charges that did
//! not become a payment.

pub mod order;
pub mod payment;
pub mod refund;

use crate::app::AppState;

pub async fn ensure_indexes(state: &AppState) -> mongodb::error::Result<()> {
    payment::ensure_indexes(&state.payments).await?;
    order::ensure_indexes(&state.orders).await?;
    refund::ensure_indexes(&state.refunds).await
}
