//! The checked-in document is the generated one, and it describes every route of the four API
//! services with every status a caller can meet.

use std::collections::BTreeSet;

use serde_json::Value;

fn generated() -> Value {
    serde_json::from_str(&api_doc::render()).expect("the document is JSON")
}

#[test]
fn the_checked_in_document_is_the_generated_one() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(api_doc::CHECKED_IN);
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == api_doc::render(),
        "{} is not what the code describes: run `cargo run -p api-doc` and commit the result",
        api_doc::CHECKED_IN
    );
}

/// The routes as the services' routers serve them (`services/*/src/app.rs`).
const ROUTES: [(&str, &str, &str); 13] = [
    ("post", "/api/users/signup", "signUp"),
    ("post", "/api/users/signin", "signIn"),
    ("post", "/api/users/signout", "signOut"),
    ("get", "/api/users/currentuser", "currentUser"),
    ("get", "/api/tickets", "listTickets"),
    ("post", "/api/tickets", "createTicket"),
    ("get", "/api/tickets/{id}", "getTicket"),
    ("put", "/api/tickets/{id}", "updateTicket"),
    ("get", "/api/orders", "listOrders"),
    ("post", "/api/orders", "createOrder"),
    ("get", "/api/orders/{orderId}", "getOrder"),
    ("delete", "/api/orders/{orderId}", "deleteOrder"),
    ("post", "/api/payments", "createPayment"),
];

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            found.push((method.clone(), path.clone(), operation));
        }
    }
    found
}

#[test]
fn every_route_is_described_once_with_its_operation_id() {
    let doc = generated();
    assert_eq!(doc["openapi"], "3.1.0");
    let described: BTreeSet<(String, String, String)> = operations(&doc)
        .into_iter()
        .map(|(method, path, operation)| {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (method, path, id)
        })
        .collect();
    let expected: BTreeSet<(String, String, String)> = ROUTES
        .iter()
        .map(|(m, p, id)| ((*m).to_owned(), (*p).to_owned(), (*id).to_owned()))
        .collect();
    assert_eq!(described, expected);
}

#[test]
fn every_operation_names_the_errors_the_edges_can_answer_with_the_error_body() {
    let doc = generated();
    for (method, path, operation) in operations(&doc) {
        let responses = operation["responses"].as_object().expect("responses");
        let mut must = vec!["400", "414"];
        if operation.get("requestBody").is_some() {
            must.push("413");
        }
        if method != "get" {
            must.push("403");
        }
        let signed_in_only = path.starts_with("/api/orders")
            || path.starts_with("/api/payments")
            || (path.starts_with("/api/tickets") && method != "get");
        if signed_in_only {
            must.push("401");
            assert_eq!(
                operation["security"],
                serde_json::json!([{"session": []}]),
                "{method} {path}"
            );
        }
        for status in must {
            let response = responses
                .get(status)
                .unwrap_or_else(|| panic!("{method} {path} does not describe {status}"));
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path} {status}"
            );
        }
        let success = responses.keys().filter(|s| s.starts_with('2')).count();
        assert_eq!(success, 1, "{method} {path}: one success status");
    }
}

#[test]
fn the_order_flow_is_linked_for_stateful_testing() {
    let doc = generated();
    let links = |path: &str, method: &str, status: &str| -> BTreeSet<String> {
        doc["paths"][path][method]["responses"][status]["links"]
            .as_object()
            .map(|links| links.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(
        links("/api/tickets", "post", "201"),
        BTreeSet::from([
            "createOrder".into(),
            "getTicket".into(),
            "updateTicket".into()
        ])
    );
    assert_eq!(
        links("/api/orders", "post", "201"),
        BTreeSet::from([
            "createPayment".into(),
            "deleteOrder".into(),
            "getOrder".into()
        ])
    );
    // Spelled as OpenAPI spells a link (`common::openapi::to_json`), naming a real operation.
    let ids: BTreeSet<&str> = ROUTES.iter().map(|(_, _, id)| *id).collect();
    for (path, method) in [("/api/tickets", "post"), ("/api/orders", "post")] {
        let all = doc["paths"][path][method]["responses"]["201"]["links"]
            .as_object()
            .expect("links");
        for (name, link) in all {
            let target = link["operationId"].as_str().unwrap_or_default();
            assert!(ids.contains(target), "{path} link {name}: {link}");
            assert!(link.get("operation_id").is_none(), "{link}");
        }
    }
    assert_eq!(
        doc["paths"]["/api/orders"]["post"]["responses"]["201"]["links"]["createPayment"]["requestBody"],
        serde_json::json!({"orderId": "$response.body#/id", "token": "tok_visa"})
    );
}
