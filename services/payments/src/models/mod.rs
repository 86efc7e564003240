//! The payments database: the order replica and the payments.

pub mod order;
pub mod payment;

use crate::app::AppState;

pub async fn ensure_indexes(state: &AppState) -> mongodb::error::Result<()> {
    payment::ensure_indexes(&state.payments).await
}
