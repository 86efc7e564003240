//! `POST /api/users/signup {email,password}` → 201 `{id,email}` and the session cookie.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bson::oid::ObjectId;
use common::http::ClientAddress;
use common::validation::{Validator, field};
use common::{AppError, AppResult, JsonBody, JsonObject};
use tower_cookies::Cookies;

use crate::app::AppState;
use crate::models::user::{User, UserView};
use crate::password;

pub const EMAIL_INVALID: &str = "Email must be valid";
pub const PASSWORD_INVALID: &str = "Password must be between 4 and 20 characters";

#[utoipa::path(
    post,
    path = "/api/users/signup",
    operation_id = "signUp",
    tag = "users",
    request_body = crate::openapi::SignUp,
    responses(
        (status = 201, description = "Signed up and signed in", body = UserView,
            headers(("set-cookie" = String, description = "The session cookie"))),
        (status = 400, description = "A field is invalid (one entry per field), or `Email in use`",
            body = common::ErrorBody),
        (status = 429, description = "Too many sign-ups from this address; see `Retry-After`",
            body = common::ErrorBody,
            headers(("retry-after" = u64, description = "Seconds until a retry may pass"))),
    ),
)]
pub async fn handler(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    cookies: Cookies,
    JsonBody(body): JsonBody<JsonObject>,
) -> AppResult<(StatusCode, Json<UserView>)> {
    state.limits.address(client)?;
    let mut v = Validator::new();
    let email = v.email("email", field(&body, "email"), EMAIL_INVALID);
    let password = v.trimmed_string(
        "password",
        field(&body, "password"),
        PASSWORD_INVALID,
        |p| (4..=20).contains(&p.chars().count()),
    );
    let (email, password) = v.finish((email, password))?;

    // A cheap early answer for the common case; the unique index decides races.
    if crate::models::user::find_by_email(&state.users, &email)
        .await?
        .is_some()
    {
        return Err(AppError::bad_request("Email in use"));
    }
    let user = User {
        id: ObjectId::new(),
        email,
        password: password::hash(password).await?,
    };
    match state.users.insert_one(&user).await {
        Ok(_) => {}
        Err(error) if common::mongo::is_duplicate_key(&error) => {
            return Err(AppError::bad_request("Email in use"));
        }
        Err(error) => return Err(error.into()),
    }

    let token = state.keys.issue(&user.id.to_hex(), &user.email)?;
    cookies.add(state.keys.cookie(&token));
    tracing::info!(user = %user.id, "user signed up");
    Ok((StatusCode::CREATED, Json(user.view())))
}
