//! `GET /api/users/currentuser` → `{"currentUser":{id,email,iat,exp}}` or `{"currentUser":null}`.
//!
//! Read from the session alone, with no database round trip, as in the original: any service can
//! answer "who is this" from the cookie.

use axum::Json;
use common::{CurrentUser, UserClaims};
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
pub struct CurrentUserBody {
    #[serde(rename = "currentUser")]
    pub current_user: Option<UserClaims>,
}

#[utoipa::path(
    get,
    path = "/api/users/currentuser",
    operation_id = "currentUser",
    tag = "users",
    security((), ("session" = [])),
    responses(
        (status = 200, description = "The signed-in user's claims, or `null` without a valid session",
            body = CurrentUserBody),
    ),
)]
pub async fn handler(CurrentUser(user): CurrentUser) -> Json<CurrentUserBody> {
    Json(CurrentUserBody { current_user: user })
}
