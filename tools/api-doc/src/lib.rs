//! The API's OpenAPI 3.1 document: the four API services' parts (each service's
//! `openapi::ApiDoc`, generated from the annotations on its route handlers) merged into the one
//! document the ingress serves.
//!
//! The document is checked in at [`CHECKED_IN`], where the client compiles it in and serves it
//! at `GET /api/docs/openapi.json`, and where a change to it shows in review. This crate's test
//! fails when the checked-in file is not what the code generates; `cargo run -p api-doc`
//! writes it anew.

use utoipa::OpenApi as _;

/// Where the document is checked in, relative to the workspace root.
pub const CHECKED_IN: &str = "services/client/static/openapi.json";

/// The merged document.
pub fn document() -> utoipa::openapi::OpenApi {
    common::openapi::merge([
        auth::openapi::ApiDoc::openapi(),
        tickets::openapi::ApiDoc::openapi(),
        orders::openapi::ApiDoc::openapi(),
        payments::openapi::ApiDoc::openapi(),
    ])
}

/// The document as it is checked in: pretty JSON, ending in a newline.
pub fn render() -> String {
    let mut json = serde_json::to_string_pretty(&common::openapi::to_json(&document()))
        .expect("JSON values always serialize");
    json.push('\n');
    json
}
