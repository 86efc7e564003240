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
        routes::create::handler,
        routes::show::handler,
        routes::update::handler,
    ),
    modifiers(&Edges),
    tags((name = "tickets", description = "Tickets for sale (tickets)")),
)]
pub struct ApiDoc;

/// The body of `POST /api/tickets` and `PUT /api/tickets/{id}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TicketFields {
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// Dollars: a number or a numeric string, greater than 0.
    #[schema(exclusive_minimum = 0, maximum = 1000000)]
    price: f64,
}
