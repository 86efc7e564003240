//! `GET /api/orders/:orderId`.

use bson::oid::ObjectId;
use serde_json::json;

use crate::helpers::{TestApp, assert_errors};

#[tokio::test]
async fn fetches_the_order() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 20.0).await;
    let (user_id, cookie) = app.sign_in();
    let order = app.ordered(&cookie, ticket.id).await;
    let id = order["id"].as_str().expect("id");
    let response = app.get(&format!("/api/orders/{id}"), Some(&cookie)).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({
            "id": id,
            "userId": user_id.to_hex(),
            "status": "created",
            "expiresAt": order["expiresAt"],
            "version": 0,
            "ticket": { "id": ticket.id.to_hex(), "title": "concert", "price": 20, "version": 0 }
        })
    );
}

#[tokio::test]
async fn returns_an_error_if_one_user_tries_to_fetch_another_users_order() {
    let app = TestApp::spawn().await;
    let (_, _, stranger, order) = app.ordered_with_another_user().await;
    let id = order["id"].as_str().expect("id");
    let response = app.get(&format!("/api/orders/{id}"), Some(&stranger)).await;
    assert_errors(response, 401, json!([{ "message": "Not authorized" }])).await;
}

#[tokio::test]
async fn an_unknown_or_malformed_id_is_404() {
    let app = TestApp::spawn().await;
    let (_, cookie) = app.sign_in();
    for id in [
        ObjectId::new().to_hex(),
        "nope".to_owned(),
        "5f9d88b9c2b4a1a2b3c4d5e".to_owned(),
        // Not UTF-8 once decoded: no id either, not the extractor's plain-text 400.
        "%FF".to_owned(),
    ] {
        let response = app.get(&format!("/api/orders/{id}"), Some(&cookie)).await;
        assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
    }
}
