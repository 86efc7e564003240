//! `POST /api/users/signout` → 200 `{}` and a cookie that clears the session.

use axum::Json;
use axum::extract::State;
use tower_cookies::Cookies;

use crate::app::AppState;

#[utoipa::path(
    post,
    path = "/api/users/signout",
    operation_id = "signOut",
    tag = "users",
    responses(
        (status = 200, description = "Signed out: `{}`, and a cookie that clears the session",
            body = crate::openapi::Empty,
            headers(("set-cookie" = String, description = "The session cookie, cleared"))),
    ),
)]
pub async fn handler(State(state): State<AppState>, cookies: Cookies) -> Json<serde_json::Value> {
    cookies.add(state.keys.cleared_cookie());
    Json(serde_json::json!({}))
}
