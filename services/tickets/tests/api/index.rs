//! `GET /api/tickets`.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn can_fetch_a_list_of_tickets() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    let mut created = Vec::new();
    for (title, price) in [("first", 10.0), ("second", 20.0), ("third", 30.5)] {
        created.push(app.create_ticket(&cookie, title, price).await);
    }

    let response = app.get("/api/tickets", None).await;
    assert_eq!(response.status(), 200);
    let listed: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(listed, json!(created), "all of them, oldest first");
}

#[tokio::test]
async fn reserved_tickets_are_not_listed() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    let reserved = app.create_ticket(&cookie, "reserved", 10.0).await;
    let free = app.create_ticket(&cookie, "free", 20.0).await;
    app.reserve(&reserved).await;

    let listed: serde_json::Value = app
        .get("/api/tickets", None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed, json!([free]));
}
