//! `GET /api/users/currentuser` → `{"currentUser":{id,email,iat,exp}}` or `{"currentUser":null}`.
//!
//! Read from the session alone, with no database round trip, as in the original: any service can
//! answer "who is this" from the cookie.

use axum::Json;
use common::{CurrentUser, UserClaims};
use serde::Serialize;

#[derive(Serialize)]
pub struct CurrentUserBody {
    #[serde(rename = "currentUser")]
    pub current_user: Option<UserClaims>,
}

pub async fn handler(CurrentUser(user): CurrentUser) -> Json<CurrentUserBody> {
    Json(CurrentUserBody { current_user: user })
}
