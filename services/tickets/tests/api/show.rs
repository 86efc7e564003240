//! `GET /api/tickets/:id`.

use serde_json::json;

use crate::helpers::{TestApp, assert_errors};

#[tokio::test]
async fn returns_a_404_if_the_ticket_is_not_found() {
    let app = TestApp::spawn().await;
    let id = bson::oid::ObjectId::new().to_hex();
    let response = app.get(&format!("/api/tickets/{id}"), None).await;
    assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
}

#[tokio::test]
async fn returns_the_ticket_if_the_ticket_is_found() {
    let app = TestApp::spawn().await;
    let created = app.create_ticket(&app.cookie(), "concert", 20.0).await;
    let shown = app.ticket(created["id"].as_str().expect("id")).await;
    assert_eq!(shown, created);
    assert_eq!(shown["title"], "concert");
    assert_eq!(shown["price"], 20);
}

#[tokio::test]
async fn a_malformed_id_in_the_path_is_a_404() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/tickets/not-an-id",
        "/api/tickets/123",
        "/api/tickets/%FF%FE",
    ] {
        let response = app.get(path, None).await;
        assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
    }
    let response = app
        .put_json(
            "/api/tickets/not-an-id",
            Some(&app.cookie()),
            &json!({ "title": "concert", "price": 10 }),
        )
        .await;
    assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
}
