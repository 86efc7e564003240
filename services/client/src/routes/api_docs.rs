//! `GET /api/docs`: the API's operations, read from its OpenAPI document (`assets::OPENAPI`),
//! as one table — method, path, what it does, what it answers. A glance for a reader with a
//! browser; the document itself (`/api/docs/openapi.json`) is what tools and viewers read.

use maud::{Markup, html};
use serde_json::Value;

use crate::assets::OPENAPI;
use crate::views::{Nav, page};

/// The page needs no session: it describes, it does not act.
pub async fn handler() -> Markup {
    let document: Value = serde_json::from_slice(OPENAPI.body).unwrap_or_default();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            operations.push((method.to_uppercase(), path.as_str(), operation));
        }
    }
    let main = html! {
        h1 { "The Ticketing API" }
        p {
            "Every operation of the API behind this address. The full description (bodies, \
             schemas, headers) is the OpenAPI 3.1 document at "
            a href="/api/docs/openapi.json" { "/api/docs/openapi.json" }
            ". Every error has the body "
            code { r#"{"errors":[{"message":…,"field":…}]}"# } "."
        }
        table.table {
            thead { tr { th { "method" } th { "path" } th { "operation" } th { "answers" } } }
            tbody {
                @for (method, path, operation) in &operations {
                    tr {
                        td { code { (method) } }
                        td { code { (path) } }
                        td {
                            (operation["operationId"].as_str().unwrap_or_default())
                            @if signed_in_only(operation) { " (signed in)" }
                        }
                        td {
                            @for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                                span title=(response["description"].as_str().unwrap_or_default()) { (status) " " }
                            }
                        }
                    }
                }
            }
        }
    };
    page("API", &Nav::Unknown, main)
}

/// Whether the operation needs the session: it names a security requirement, and none of its
/// requirements is the empty one (which makes the session optional).
fn signed_in_only(operation: &Value) -> bool {
    operation["security"]
        .as_array()
        .is_some_and(|requirements| {
            !requirements.is_empty()
                && !requirements
                    .iter()
                    .any(|requirement| requirement.as_object().is_some_and(|r| r.is_empty()))
        })
}
