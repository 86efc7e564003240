//! The service's part of the API's OpenAPI document (merged by `common::openapi::merge`), and
//! the request body it describes: the handler reads a raw JSON object, to report every bad
//! field at once, so this type exists for the description alone.

use common::openapi::Edges;
use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    paths(routes::create_payment::handler),
    modifiers(&Edges),
    tags((name = "payments", description = "Paying for an order (payments)")),
)]
pub struct ApiDoc;

/// `POST /api/payments`'s body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NewPayment {
    /// A Stripe card token or source id (`tok_visa` in test mode).
    #[schema(min_length = 1, max_length = 255)]
    token: String,
    /// The order to pay, as `POST /api/orders` answered it.
    #[schema(rename = "orderId", pattern = "^[0-9a-f]{24}$")]
    order_id: String,
}
