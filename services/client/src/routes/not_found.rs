//! Any other address: the 404 page, with the visitor's header when the API can tell.

use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::api::{Api, Forwarded};
use crate::page::not_found_page;
use crate::views::Nav;

pub async fn handler(api: Api, from: Forwarded) -> impl IntoResponse {
    let nav = match api.current_user(&from).await {
        Ok(user) => Nav::from(&user),
        Err(_) => Nav::Unknown,
    };
    (StatusCode::NOT_FOUND, not_found_page(&nav))
}

/// The 404 page without asking the API (unknown static files).
pub fn bare() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, not_found_page(&Nav::Unknown))
}
