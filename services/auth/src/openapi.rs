//! The service's part of the API's OpenAPI document (merged by `common::openapi::merge`), and
//! the request bodies it describes: the handlers read raw JSON objects, to report every bad
//! field at once, so these types exist for the description alone.

use common::openapi::Edges;
use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::signup::handler,
        routes::signin::handler,
        routes::signout::handler,
        routes::current_user::handler,
    ),
    modifiers(&Edges),
    tags((name = "users", description = "Accounts and the session (auth)")),
)]
pub struct ApiDoc;

/// `POST /api/users/signup`'s body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SignUp {
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// Trimmed before it is counted.
    #[schema(min_length = 4, max_length = 20)]
    password: String,
}

/// `POST /api/users/signin`'s body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SignIn {
    #[schema(format = Email, max_length = 254)]
    email: String,
    #[schema(min_length = 1)]
    password: String,
}

/// An empty JSON object, `{}`.
#[derive(utoipa::ToSchema)]
#[schema(max_properties = 0)]
pub struct Empty {}
