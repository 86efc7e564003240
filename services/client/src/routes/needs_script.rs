//! `POST` to a form page: what a browser without JavaScript sends when a form is submitted. The
//! forms post JSON to the API through `app.js`; without it, say so instead of a bare 405.

use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::views::{self, Nav};

pub async fn handler() -> impl IntoResponse {
    (
        StatusCode::BAD_REQUEST,
        views::problem(
            "JavaScript needed",
            "This form sends its data with a little JavaScript. Please turn JavaScript on and try again.",
            &[],
            &Nav::Unknown,
        ),
    )
}
