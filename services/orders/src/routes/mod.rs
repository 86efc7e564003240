//! One module per route.

pub mod delete;
pub mod index;
pub mod new;
pub mod show;

use bson::oid::ObjectId;
use common::{AppError, AppResult, UserClaims};

/// The signed-in user's id. Auth only issues ObjectIds; a session carrying anything else cannot
/// own an order and is treated as no session at all.
pub fn user_id(user: &UserClaims) -> AppResult<ObjectId> {
    ObjectId::parse_str(&user.id).map_err(|_| AppError::NotAuthorized)
}

/// The caller's order named by a path id: 404 when there is none (or the id is malformed), 401
/// when it is someone else's. The owner never changes, so this check holds for the whole request.
pub async fn owned_order(
    state: &crate::app::AppState,
    user: &UserClaims,
    raw_id: &str,
) -> AppResult<crate::models::order::Order> {
    let user_id = user_id(user)?;
    let id = common::mongo::path_id(raw_id)?;
    let order = crate::models::order::find(&state.orders, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if order.user_id != user_id {
        return Err(AppError::NotAuthorized);
    }
    Ok(order)
}
