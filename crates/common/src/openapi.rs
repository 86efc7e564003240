//! The API's description in OpenAPI 3.1: what every service's document shares, and the merge of
//! the four documents into the one the ingress serves (`GET /api/docs/openapi.json`).
//!
//! Each service derives its own document from its handlers' `#[utoipa::path]` annotations
//! (`src/openapi.rs`), so a route and its description change in the same place. The request
//! bodies are described by types of their own (the handlers read a raw JSON object, to report
//! every bad field at once in the original's messages), which the black-box tests keep honest:
//! schemathesis checks every answer of the running stack against the merged document.
//!
//! What no handler answers itself but every route can — the ingress's refusals of malformed
//! requests, the cross-site check on unsafe methods, the session check — is added to every
//! operation here, by [`Edges`], rather than repeated on each.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{
    Components, ContentBuilder, InfoBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder,
};
use utoipa::{IntoParams, Modify, PartialSchema as _, ToSchema as _};

use crate::error::ErrorBody;

/// The security scheme of routes that need a signed-in user: the session cookie.
pub const SESSION: &str = "session";

/// The ids the API hands out and takes back: MongoDB ObjectIds, 24 lowercase hex digits.
pub const OBJECT_ID_PATTERN: &str = "^[0-9a-f]{24}$";

/// The optional paging of the list routes (`common::paging`), as query parameters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// At most this many items; without it, the whole list (the original's behaviour).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Only the items after this one, by id: the cursor of the `Link: rel="next"` header.
    #[param(pattern = "^[0-9a-f]{24}$")]
    pub after: Option<String>,
}

/// Adds the session cookie's security scheme, the error body's schema, and to every operation
/// the refusals that come from the edges rather than from its handler (each only where the
/// operation does not describe that status itself):
///
/// - 400 and 414 from the ingress, for a request it cannot parse or a URL over its buffer;
/// - 413 on operations with a body over the ingress's 1 MiB;
/// - 403 on unsafe methods sent cross-site (`common::http`'s `Origin`/`Sec-Fetch-Site` check);
/// - 401 on operations that need the session.
pub struct Edges;

impl Modify for Edges {
    fn modify(&self, api: &mut OpenApi) {
        let components = api.components.get_or_insert_with(Components::new);
        components.add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::session::COOKIE_NAME,
                "The session cookie that sign-up and sign-in set (cookie-session's format: \
                 base64 of `{\"jwt\":\"…\"}`).",
            ))),
        );
        components
            .schemas
            .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
        components.schemas.insert(
            crate::error::ErrorItem::name().into_owned(),
            crate::error::ErrorItem::schema(),
        );
        for item in api.paths.paths.values_mut() {
            for (operation, unsafe_method) in operations(item) {
                add_missing(
                    operation,
                    "400",
                    "Malformed request (refused by the ingress)",
                );
                add_missing(operation, "414", "URL too long (refused by the ingress)");
                if operation.request_body.is_some() {
                    add_missing(operation, "413", "Body over 1 MiB (refused by the ingress)");
                }
                if unsafe_method {
                    add_missing(operation, "403", "Sent cross-site: refused");
                }
                let needs_session = operation.security.as_ref().is_some_and(|requirements| {
                    !requirements.is_empty()
                        && !requirements
                            .iter()
                            .any(|requirement| requirement == &Default::default())
                });
                if needs_session {
                    add_missing(operation, "401", "Not signed in, or not the owner");
                }
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = (&mut Operation, bool)> {
    [
        (item.get.as_mut(), false),
        (item.post.as_mut(), true),
        (item.put.as_mut(), true),
        (item.delete.as_mut(), true),
        (item.patch.as_mut(), true),
    ]
    .into_iter()
    .filter_map(|(operation, unsafe_method)| operation.map(|operation| (operation, unsafe_method)))
}

fn add_missing(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(error_response(description)));
}

/// A response with the contract's error body.
fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build(),
        )
        .build()
}

/// The ingress's document: the services' documents in one, under one title and version.
pub fn merge(parts: impl IntoIterator<Item = OpenApi>) -> OpenApi {
    let mut merged = OpenApi::new(
        InfoBuilder::new()
            .title("Ticketing")
            .version(env!("CARGO_PKG_VERSION"))
            .description(Some(
                "The Ticketing API behind the ingress at ticketing.dev: auth (/api/users), \
                 tickets (/api/tickets), orders (/api/orders) and payments (/api/payments). \
                 Every error has the body {\"errors\":[{\"message\":…,\"field\":…}]}.",
            ))
            .build(),
        utoipa::openapi::Paths::new(),
    );
    for part in parts {
        merged.merge(part);
    }
    merged
}

/// The document as JSON, as OpenAPI spells it.
///
/// utoipa 5.5 serializes a response's links with Rust's field names (`operation_id`,
/// `operation_ref`, `request_body`) where OpenAPI says `operationId`, `operationRef`,
/// `requestBody`; tools that follow links (schemathesis' stateful phase) then reject them. The
/// keys are renamed here, the one place the document is turned into JSON.
pub fn to_json(api: &OpenApi) -> serde_json::Value {
    let mut json = serde_json::to_value(api).unwrap_or_default();
    let operations = json["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let links = operation["responses"]
            .as_object_mut()
            .into_iter()
            .flat_map(|responses| responses.values_mut())
            .filter_map(|response| response.get_mut("links")?.as_object_mut())
            .flat_map(|links| links.values_mut())
            .filter_map(serde_json::Value::as_object_mut);
        for link in links {
            for (from, to) in [
                ("operation_id", "operationId"),
                ("operation_ref", "operationRef"),
                ("request_body", "requestBody"),
            ] {
                if let Some(value) = link.remove(from) {
                    link.insert(to.to_owned(), value);
                }
            }
        }
    }
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::OpenApi as _;

    #[utoipa::path(get, path = "/open", responses((status = 200, description = "ok")))]
    #[allow(dead_code)]
    async fn open() {}

    #[utoipa::path(
        post,
        path = "/closed",
        request_body = String,
        security(("session" = [])),
        responses((status = 201, description = "made",
            links(("again" = (operation_id = "open", request_body = json!({"x": "$response.body#/id"})))))),
    )]
    #[allow(dead_code)]
    async fn closed() {}

    #[derive(utoipa::OpenApi)]
    #[openapi(paths(open, closed), modifiers(&Edges))]
    struct Doc;

    fn statuses(api: &OpenApi, path: &str) -> Vec<String> {
        let item = &api.paths.paths[path];
        let operation = item.get.as_ref().or(item.post.as_ref());
        operation
            .map(|operation| operation.responses.responses.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn edges_add_the_refusals_each_operation_can_meet() {
        let api = merge([Doc::openapi()]);
        assert_eq!(statuses(&api, "/open"), ["200", "400", "414"]);
        assert_eq!(
            statuses(&api, "/closed"),
            ["201", "400", "401", "403", "413", "414"]
        );
        let json = to_json(&api);
        assert_eq!(json["openapi"], "3.1.0");
        assert_eq!(
            json["components"]["securitySchemes"][SESSION],
            serde_json::json!({"type":"apiKey","in":"cookie","name":"session",
                "description": json["components"]["securitySchemes"][SESSION]["description"]})
        );
        assert_eq!(
            json["paths"]["/closed"]["post"]["responses"]["401"]["content"]["application/json"]["schema"],
            serde_json::json!({"$ref":"#/components/schemas/ErrorBody"})
        );
        assert_eq!(
            json["paths"]["/closed"]["post"]["responses"]["201"]["links"]["again"],
            serde_json::json!({"operationId": "open", "requestBody": {"x": "$response.body#/id"}})
        );
    }
}
