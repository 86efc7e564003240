//! The API's JSON as the pages read it (only the fields they show; unknown fields are ignored so
//! the services may grow without breaking the client).

use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct CurrentUser {
    pub id: String,
    pub email: String,
}

#[derive(Debug, Deserialize)]
pub struct CurrentUserBody {
    #[serde(rename = "currentUser")]
    pub current_user: Option<CurrentUser>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    pub id: String,
    pub title: String,
    pub price: f64,
    #[serde(default)]
    pub order_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderTicket {
    pub id: String,
    pub title: String,
    pub price: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: String,
    pub status: String,
    pub expires_at: DateTime<Utc>,
    pub ticket: OrderTicket,
}

/// A price as the pages show it: always two decimals, as the new-ticket form formats it.
pub fn format_price(price: f64) -> String {
    format!("{price:.2}")
}

/// Whether `id` can be a MongoDB ObjectId. Pages check path ids before calling the API, so a
/// crafted path (`..%2F`, query strings) never reaches it.
pub fn is_object_id(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The document id in a page's path, if it can be one ([`is_object_id`]). A malformed id, or a
/// path that does not even decode (`%FF`), names nothing: the page answers with its 404 page,
/// never with the extractor's plain-text 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageId(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PageId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let id = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .ok()
            .map(|axum::extract::Path(id)| id)
            .filter(|id| is_object_id(id));
        Ok(Self(id))
    }
}
