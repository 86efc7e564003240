//! The service's part of the API's OpenAPI document (merged by `common::openapi::merge`), and
//! the request body it describes: the handlers read raw JSON objects, to report every bad
//! field at once, so this type exists for the description alone.

use common::openapi::Edges;
use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::index::handler,
        routes::new::handler,
        routes::show::handler,
        routes::delete::handler,
    ),
    modifiers(&Edges),
    tags((name = "orders", description = "Reserving a ticket by ordering it (orders)")),
)]
pub struct ApiDoc;

/// `POST /api/orders`'s body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NewOrder {
    /// The ticket to reserve, as `POST /api/tickets` answered it.
    #[schema(rename = "ticketId", pattern = "^[0-9a-f]{24}$")]
    ticket_id: String,
}
