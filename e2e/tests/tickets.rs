//! Tickets through the ingress, and their events in the stream.

use e2e::User;
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::http::assert_errors;

#[tokio::test]
async fn a_ticket_created_with_curl_is_listed_and_updatable_by_its_owner_only() {
    let seller = User::sign_up().await;
    let title = format!("concert {}", seller.id);
    let response = seller
        .post("/api/tickets", &json!({ "title": title, "price": "20.00" }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let ticket: Value = response.json().await.expect("json");
    let id = ticket["id"].as_str().expect("id").to_owned();
    assert_eq!(
        ticket,
        json!({ "id": id, "title": title, "price": 20, "userId": seller.id, "version": 0 })
    );

    let listed: Value = seller.get("/api/tickets").await.json().await.expect("json");
    let found = listed
        .as_array()
        .expect("a list")
        .iter()
        .find(|t| t["id"] == id.as_str())
        .cloned();
    assert_eq!(found, Some(ticket.clone()));

    // Its ticket:created event is in the stream with the original's body.
    let nats = e2e::stack_nats().await;
    let event = test_support::http::eventually(
        "ticket:created in the stack's stream",
        std::time::Duration::from_secs(10),
        || async {
            test_support::nats::stored_events(&nats, "ticket:created")
                .await
                .into_iter()
                .find(|event| event.body["id"] == id.as_str())
        },
    )
    .await;
    assert_eq!(
        event.body,
        json!({ "id": id, "version": 0, "title": title, "price": 20, "userId": seller.id })
    );

    let stranger = User::sign_up().await;
    let response = stranger
        .put(
            &format!("/api/tickets/{id}"),
            &json!({ "title": "mine now", "price": 1 }),
        )
        .await;
    assert_errors(response, 401, json!([{ "message": "Not authorized" }])).await;

    let response = seller
        .put(
            &format!("/api/tickets/{id}"),
            &json!({ "title": title, "price": 25.5 }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.expect("json");
    assert_eq!(updated["version"], 1);
    assert_eq!(updated["price"], 25.5);
}

#[tokio::test]
async fn creating_a_ticket_requires_a_session_and_valid_input() {
    let anonymous = User {
        http: test_support::http::client(),
        cookie: None,
        id: String::new(),
        email: String::new(),
    };
    let response = anonymous
        .post("/api/tickets", &json!({ "title": "t", "price": 10 }))
        .await;
    assert_errors(response, 401, json!([{ "message": "Not authorized" }])).await;
    let seller = User::sign_up().await;
    let response = seller
        .post("/api/tickets", &json!({ "title": "", "price": -10 }))
        .await;
    assert_errors(
        response,
        400,
        json!([
            { "message": "Title is required", "field": "title" },
            { "message": "Price must be greater than 0", "field": "price" }
        ]),
    )
    .await;
    let response = seller.get("/api/tickets/not-an-id").await;
    assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
}
