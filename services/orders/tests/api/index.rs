//! `GET /api/orders`.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn fetches_orders_for_a_particular_user() {
    let app = TestApp::spawn().await;
    let one = app.build_ticket("one", 10.0).await;
    let two = app.build_ticket("two", 20.0).await;
    let three = app.build_ticket("three", 30.0).await;
    let (_, user_one) = app.sign_in();
    let (user_two_id, user_two) = app.sign_in();
    app.ordered(&user_one, one.id).await;
    let first = app.ordered(&user_two, two.id).await;
    let second = app.ordered(&user_two, three.id).await;

    let response = app.get("/api/orders", Some(&user_two)).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    // Oldest first, each with its ticket.
    assert_eq!(
        body,
        json!([
            {
                "id": first["id"], "userId": user_two_id.to_hex(), "status": "created",
                "expiresAt": first["expiresAt"], "version": 0,
                "ticket": { "id": two.id.to_hex(), "title": "two", "price": 20, "version": 0 }
            },
            {
                "id": second["id"], "userId": user_two_id.to_hex(), "status": "created",
                "expiresAt": second["expiresAt"], "version": 0,
                "ticket": { "id": three.id.to_hex(), "title": "three", "price": 30, "version": 0 }
            }
        ])
    );
}

#[tokio::test]
async fn a_user_without_orders_gets_an_empty_list() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("one", 10.0).await;
    let (_, someone) = app.sign_in();
    app.ordered(&someone, ticket.id).await;
    let (_, nobody) = app.sign_in();
    let response = app.get("/api/orders", Some(&nobody)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.expect("json"),
        json!([])
    );
}
