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
