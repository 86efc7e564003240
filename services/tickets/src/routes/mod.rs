//! One module per route, and the ticket fields create and update share.

pub mod create;
pub mod index;
pub mod show;
pub mod update;

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use bson::oid::ObjectId;
use common::validation::{Validator, field};
use common::{AppError, JsonObject};

pub const TITLE_REQUIRED: &str = "Title is required";
pub const PRICE_INVALID: &str = "Price must be greater than 0";

/// `title` (non-empty) and `price` (a number or numeric string, > 0), every error at once.
pub fn ticket_fields(body: &JsonObject) -> Result<(String, f64), AppError> {
    let mut v = Validator::new();
    let title = v.required_string("title", field(body, "title"), TITLE_REQUIRED);
    let price = v.positive_number("price", field(body, "price"), PRICE_INVALID);
    v.finish()?;
    match (title, price) {
        (Some(title), Some(price)) => Ok((title, price)),
        _ => Err(AppError::internal(anyhow::anyhow!(
            "validated fields missing"
        ))),
    }
}

/// The ticket id in the path; anything that is not an ObjectId names no ticket: 404.
pub fn ticket_id(path: Result<Path<String>, PathRejection>) -> Result<ObjectId, AppError> {
    let Path(raw) = path.map_err(|_| AppError::NotFound)?;
    common::mongo::path_id(&raw)
}

/// The signed-in user's id; a session whose id is not an ObjectId was not issued by auth.
pub fn user_id(claims: &common::UserClaims) -> Result<ObjectId, AppError> {
    ObjectId::parse_str(&claims.id).map_err(|_| AppError::NotAuthorized)
}
