//! `POST /auth/signout` (the header's Sign Out button): signs out and goes to `/`.
//! `GET /auth/signout` only asks (a page with that button): a link someone else put somewhere
//! must not sign the user out.
//!
//! The original page posts to `/api/users/signout` from the browser. Here the server posts it as
//! the browser and relays the API's own `Set-Cookie` (the one that clears the session), so the
//! form signs out with or without JavaScript.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use maud::html;

use crate::api::{Api, Forwarded};
use crate::page::PageResult;
use crate::views::{self, Nav};

/// `GET /auth/signout`: whether to sign out, with the button that does.
pub async fn confirm(State(api): State<Api>, from: Forwarded) -> PageResult {
    let user = api.current_user(&from).await?;
    Ok(views::page(
        "Sign Out",
        &Nav::from(&user),
        html! {
            h1 { "Sign out?" }
            (views::sign_out_button())
        },
    ))
}

pub async fn handler(State(api): State<Api>, from: Forwarded) -> PageResult<Response> {
    let set_cookies = api.post_relay(&from, "/api/users/signout").await?;
    let mut headers = HeaderMap::new();
    for cookie in set_cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    headers.insert(header::LOCATION, header::HeaderValue::from_static("/"));
    Ok((StatusCode::SEE_OTHER, headers).into_response())
}
