//! `GET /auth/signup`: the sign-up form (`app.js` posts it to `/api/users/signup`, then goes to `/`).

use axum::extract::State;

use crate::api::{Api, Forwarded};
use crate::page::PageResult;
use crate::views::{self, Nav};

pub async fn handler(State(api): State<Api>, from: Forwarded) -> PageResult {
    let user = api.current_user(&from).await?;
    Ok(views::page(
        "Sign Up",
        &Nav::from(&user),
        views::auth_form("Sign Up", "/api/users/signup", "new-password"),
    ))
}
