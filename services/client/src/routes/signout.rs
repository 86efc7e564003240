//! `GET /auth/signout`: signs out and goes to `/`.
//!
//! The original page posts to `/api/users/signout` from the browser. Here the server posts it as
//! the browser and relays the API's own `Set-Cookie` (the one that clears the session), so a plain
//! link signs out, with or without JavaScript.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::{Api, Forwarded};
use crate::page::PageResult;

pub async fn handler(State(api): State<Api>, from: Forwarded) -> PageResult<Response> {
    let set_cookies = api.post_relay(&from, "/api/users/signout").await?;
    let mut headers = HeaderMap::new();
    for cookie in set_cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    headers.insert(header::LOCATION, header::HeaderValue::from_static("/"));
    Ok((StatusCode::SEE_OTHER, headers).into_response())
}
