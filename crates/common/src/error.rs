//! The one error type every HTTP service returns.
//!
//! It renders the contract's body, `{"errors":[{"message":"…","field":"…"}]}`, so a client of the
//! original system cannot tell the difference. Unexpected failures are logged with their cause and
//! answered with a bare `Something went wrong`: internals never leak to a caller.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One entry of the contract's error list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorItem {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
}

impl ErrorItem {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field: Some(field.into()),
        }
    }
}

/// The contract's error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// One entry per bad field, all reported at once.
    #[error("request validation failed")]
    Validation(Vec<ErrorItem>),
    /// A business rule said no (`BadRequestError` in the original).
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("not authorized")]
    NotAuthorized,
    /// Refused whoever asks (403), e.g. a state-changing request from another site.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// Too many requests of this kind, from this client or for this account (429, with
    /// `Retry-After` in whole seconds).
    #[error("too many requests; retry after {0:?}")]
    TooManyRequests(std::time::Duration),
    /// The route exists, the method does not (405; the router adds `Allow`).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The resource kept changing under the request, which may simply be sent again (409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything unexpected; the cause goes to the log only.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotAuthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> ErrorBody {
        let errors = match self {
            Self::Validation(items) => items.clone(),
            Self::BadRequest(message) | Self::Conflict(message) | Self::Forbidden(message) => {
                vec![ErrorItem {
                    message: message.clone(),
                    field: None,
                }]
            }
            Self::NotAuthorized => vec![plain("Not authorized")],
            Self::NotFound => vec![plain("Not Found")],
            Self::MethodNotAllowed => vec![plain("Method Not Allowed")],
            Self::TooManyRequests(wait) => vec![ErrorItem {
                message: format!(
                    "Too many attempts; try again in {} seconds",
                    retry_after_seconds(*wait)
                ),
                field: None,
            }],
            Self::Internal(_) => vec![plain("Something went wrong")],
        };
        ErrorBody { errors }
    }
}

fn plain(message: &str) -> ErrorItem {
    ErrorItem {
        message: message.to_owned(),
        field: None,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            // `{:#}`: the cause and its sources on one line (`Debug` would add a multi-line
            // backtrace whenever RUST_BACKTRACE is set).
            tracing::error!(error = %format_args!("{cause:#}"), "request failed unexpectedly");
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Self::TooManyRequests(wait) = &self
            && let Ok(value) =
                axum::http::HeaderValue::from_str(&retry_after_seconds(*wait).to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

/// Whole seconds, rounded up, at least one: what `Retry-After` says.
fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.as_secs() == 0))
}

impl From<mongodb::error::Error> for AppError {
    fn from(error: mongodb::error::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<bson::de::Error> for AppError {
    fn from(error: bson::de::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<bson::ser::Error> for AppError {
    fn from(error: bson::ser::Error) -> Self {
        Self::Internal(error.into())
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Router fallback: an unknown route is a 404 with the contract's body.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

/// Method fallback: a known route asked with a method it does not answer is a 405 with the
/// contract's body (axum adds the `Allow` header listing the methods it does answer).
pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_body_lists_every_field() {
        let error = AppError::Validation(vec![
            ErrorItem::field("email", "Email must be valid"),
            ErrorItem::field("password", "Password must be between 4 and 20 characters"),
        ]);
        let json = serde_json::to_value(error.body()).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"errors":[
                {"message":"Email must be valid","field":"email"},
                {"message":"Password must be between 4 and 20 characters","field":"password"}
            ]})
        );
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn internal_error_hides_its_cause() {
        let error = AppError::internal(anyhow::anyhow!("database password is hunter2"));
        let json = serde_json::to_value(error.body()).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"errors":[{"message":"Something went wrong"}]})
        );
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn plain_errors_have_contract_messages() {
        for (error, status, message) in [
            (AppError::NotAuthorized, 401, "Not authorized"),
            (AppError::NotFound, 404, "Not Found"),
            (AppError::bad_request("Email in use"), 400, "Email in use"),
        ] {
            assert_eq!(error.status().as_u16(), status);
            let json = serde_json::to_value(error.body()).expect("serialises");
            assert_eq!(json, serde_json::json!({"errors":[{"message":message}]}));
        }
    }
}
