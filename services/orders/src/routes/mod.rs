//! One module per route.

pub mod delete;
pub mod index;
pub mod new;
pub mod show;

use common::{AppError, AppResult, RequireUser};

/// The caller's order named by a path id: 404 when there is none (or the id is malformed), 401
/// when it is someone else's. The owner never changes, so this check holds for the whole request.
pub async fn owned_order(
    state: &crate::app::AppState,
    user: &RequireUser,
    id: bson::oid::ObjectId,
) -> AppResult<crate::models::order::Order> {
    let order = crate::models::order::find(&state.store.orders, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if order.user_id != user.id {
        return Err(AppError::NotAuthorized);
    }
    Ok(order)
}
