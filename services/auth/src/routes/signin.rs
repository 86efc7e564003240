//! `POST /api/users/signin {email,password}` → 200 `{id,email}` and the session cookie.
//!
//! An unknown email and a wrong password get the same answer, `Invalid credentials`, and take the
//! same time (see `password::verify`), so the route does not reveal which accounts exist.

use axum::Json;
use axum::extract::State;
use common::http::ClientAddress;
use common::validation::{Validator, field};
use common::{AppError, AppResult, JsonBody, JsonObject};
use tower_cookies::Cookies;

use crate::app::AppState;
use crate::models::user::{UserView, find_by_email};
use crate::password;
use crate::routes::signup::EMAIL_INVALID;

pub const PASSWORD_MISSING: &str = "You must supply a password";
pub const INVALID_CREDENTIALS: &str = "Invalid credentials";

#[utoipa::path(
    post,
    path = "/api/users/signin",
    operation_id = "signIn",
    tag = "users",
    request_body = crate::openapi::SignIn,
    responses(
        (status = 200, description = "Signed in", body = UserView,
            headers(("set-cookie" = String, description = "The session cookie"))),
        (status = 400, description = "A field is invalid, or `Invalid credentials`",
            body = common::ErrorBody),
        (status = 429, description = "Too many attempts for this account or from this address; \
            see `Retry-After`",
            body = common::ErrorBody,
            headers(("retry-after" = u64, description = "Seconds until a retry may pass"))),
    ),
)]
pub async fn handler(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    cookies: Cookies,
    JsonBody(body): JsonBody<JsonObject>,
) -> AppResult<Json<UserView>> {
    state.limits.address(client)?;
    let mut v = Validator::new();
    let email = v.email("email", field(&body, "email"), EMAIL_INVALID);
    let password = v.required_string("password", field(&body, "password"), PASSWORD_MISSING);
    let (email, password) = v.finish((email, password))?;
    // Before the hash: a limited account costs nothing.
    state.limits.account(&email)?;

    let user = find_by_email(&state.users, &email).await?;
    let stored = user.as_ref().map(|user| user.password.clone());
    let user = match (password::verify(password, stored).await?, user) {
        (true, Some(user)) => user,
        _ => return Err(AppError::bad_request(INVALID_CREDENTIALS)),
    };

    let token = state.keys.issue(&user.id.to_hex(), &user.email)?;
    cookies.add(state.keys.cookie(&token));
    Ok(Json(user.view()))
}
