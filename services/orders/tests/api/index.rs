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

/// `?limit=&after=` pages one user's orders (never another's), oldest first, with a `Link` to
/// the next page while there is one.
#[tokio::test]
async fn a_users_orders_can_be_paged() {
    let app = TestApp::spawn().await;
    let (_, buyer) = app.sign_in();
    let (_, other) = app.sign_in();
    let mut ids = Vec::new();
    for title in ["a", "b", "c"] {
        let ticket = app.build_ticket(title, 10.0).await;
        ids.push(app.ordered(&buyer, ticket.id).await["id"].clone());
    }
    let theirs = app.build_ticket("theirs", 10.0).await;
    app.ordered(&other, theirs.id).await;

    let first = app.get("/api/orders?limit=2", Some(&buyer)).await;
    let next = first.headers()["link"].to_str().expect("ascii").to_owned();
    let expected = format!(
        "</api/orders?limit=2&after={}>; rel=\"next\"",
        ids[1].as_str().expect("id")
    );
    assert_eq!(next, expected);
    let first: serde_json::Value = first.json().await.expect("json");
    let first_ids: Vec<&serde_json::Value> = first
        .as_array()
        .expect("a list")
        .iter()
        .map(|order| &order["id"])
        .collect();
    assert_eq!(first_ids, [&ids[0], &ids[1]]);

    let path = format!("/api/orders?limit=2&after={}", ids[1].as_str().expect("id"));
    let second = app.get(&path, Some(&buyer)).await;
    assert!(second.headers().get("link").is_none());
    let second: serde_json::Value = second.json().await.expect("json");
    let second_ids: Vec<&serde_json::Value> = second
        .as_array()
        .expect("a list")
        .iter()
        .map(|order| &order["id"])
        .collect();
    assert_eq!(second_ids, [&ids[2]]);
}
