//! A JSON body extractor whose rejections speak the contract's error body.
//!
//! axum's own `Json` answers malformed input with plain text; clients of this system always get
//! `{"errors":[…]}`. Route bodies declare their fields as loosely typed (`Option<serde_json::Value>`)
//! and validate them with [`crate::validation`], so a wrong type is reported against its field
//! rather than as an opaque parse failure.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::AppError;

#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

/// A request body that must be a JSON object; its fields are then validated one by one.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(AppError::BadRequest(rejection_message(&rejection))),
        }
    }
}

fn rejection_message(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "Expected request with `Content-Type: application/json`".to_owned()
        }
        JsonRejection::JsonSyntaxError(_) => "Request body is not valid JSON".to_owned(),
        JsonRejection::JsonDataError(_) => "Request body must be a JSON object".to_owned(),
        JsonRejection::BytesRejection(_) => "Request body could not be read".to_owned(),
        _ => "Invalid request body".to_owned(),
    }
}
