//! `POST /api/tickets`.

use serde_json::json;

use crate::helpers::{TestApp, assert_errors};

fn title_error() -> serde_json::Value {
    json!({ "message": "Title is required", "field": "title" })
}

fn price_error() -> serde_json::Value {
    json!({ "message": "Price must be greater than 0", "field": "price" })
}

#[tokio::test]
async fn has_a_route_handler_listening_for_post_requests() {
    let app = TestApp::spawn().await;
    let response = app.post_json("/api/tickets", None, &json!({})).await;
    assert_ne!(response.status(), 404);
}

#[tokio::test]
async fn can_only_be_accessed_if_the_user_is_signed_in() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json(
            "/api/tickets",
            None,
            &json!({ "title": "concert", "price": 10 }),
        )
        .await;
    assert_errors(response, 401, json!([{ "message": "Not authorized" }])).await;

    let forged = common::SessionKeys::new("another-key", false)
        .cookie_header(&bson::oid::ObjectId::new().to_hex(), "a@b.co")
        .expect("signs");
    let response = app
        .post_json(
            "/api/tickets",
            Some(&forged),
            &json!({ "title": "concert", "price": 10 }),
        )
        .await;
    assert_errors(response, 401, json!([{ "message": "Not authorized" }])).await;
}

#[tokio::test]
async fn returns_a_status_other_than_401_if_the_user_is_signed_in() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json("/api/tickets", Some(&app.cookie()), &json!({}))
        .await;
    assert_ne!(response.status(), 401);
    assert_errors(response, 400, json!([title_error(), price_error()])).await;
}

#[tokio::test]
async fn returns_an_error_if_an_invalid_title_is_provided() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    for body in [
        json!({ "title": "", "price": 10 }),
        json!({ "title": "   ", "price": 10 }),
        json!({ "price": 10 }),
        json!({ "title": 42, "price": 10 }),
    ] {
        let response = app.post_json("/api/tickets", Some(&cookie), &body).await;
        assert_errors(response, 400, json!([title_error()])).await;
    }
}

#[tokio::test]
async fn returns_an_error_if_an_invalid_price_is_provided() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    for body in [
        json!({ "title": "concert", "price": -10 }),
        json!({ "title": "concert", "price": 0 }),
        json!({ "title": "concert", "price": "ten" }),
        json!({ "title": "concert" }),
    ] {
        let response = app.post_json("/api/tickets", Some(&cookie), &body).await;
        assert_errors(response, 400, json!([price_error()])).await;
    }
}

#[tokio::test]
async fn creates_a_ticket_with_valid_inputs() {
    let app = TestApp::spawn().await;
    let user_id = bson::oid::ObjectId::new();
    let cookie = app.cookie_for(user_id);
    assert_eq!(
        tickets::models::ticket::list_available(&app.store().tickets, &Default::default())
            .await
            .expect("lists")
            .len(),
        0
    );

    let response = app
        .post_json(
            "/api/tickets",
            Some(&cookie),
            &json!({ "title": "concert", "price": 20 }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let ticket: serde_json::Value = response.json().await.expect("JSON");
    let id = ticket["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        ticket,
        json!({ "id": id, "title": "concert", "price": 20, "userId": user_id.to_hex(), "version": 0 })
    );

    let stored = tickets::models::ticket::list_available(&app.store().tickets, &Default::default())
        .await
        .expect("lists");
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].title.as_str(), stored[0].price),
        ("concert", 20.0)
    );
}

#[tokio::test]
async fn publishes_an_event() {
    let app = TestApp::spawn().await;
    let user_id = bson::oid::ObjectId::new();
    let ticket = app
        .create_ticket(&app.cookie_for(user_id), "concert", 20.5)
        .await;

    let events = app.nats.published("ticket:created").await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].body,
        json!({ "id": ticket["id"], "version": 0, "title": "concert", "price": 20.5, "userId": user_id.to_hex() })
    );
}

#[tokio::test]
async fn accepts_a_price_given_as_a_numeric_string() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json(
            "/api/tickets",
            Some(&app.cookie()),
            &json!({ "title": "concert", "price": "20.00" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let ticket: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(ticket["price"], json!(20));
    assert_eq!(
        app.nats.bodies("ticket:created").await[0]["price"],
        json!(20)
    );
}

/// Issue 11, cases 5 and 6: a title or price that would make an unpublishable event or an
/// amount no card can be charged is refused where it enters, and nothing is stored or staged.
#[tokio::test]
async fn refuses_titles_and_prices_beyond_their_bounds_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    let too_long = "é".repeat(201);
    for (body, errors) in [
        (
            json!({ "title": "x".repeat(1 << 20), "price": 10 }),
            json!([{ "message": "Title must be at most 200 characters", "field": "title" }]),
        ),
        (
            json!({ "title": too_long, "price": 1e17 }),
            json!([
                { "message": "Title must be at most 200 characters", "field": "title" },
                { "message": "Price must be at most 1000000", "field": "price" }
            ]),
        ),
        (
            json!({ "title": "concert", "price": "1e300" }),
            json!([{ "message": "Price must be at most 1000000", "field": "price" }]),
        ),
    ] {
        let response = app.post_json("/api/tickets", Some(&cookie), &body).await;
        assert_errors(response, 400, errors).await;
    }
    assert_eq!(
        app.get("/api/tickets", None)
            .await
            .json::<serde_json::Value>()
            .await
            .expect("JSON"),
        json!([])
    );
    let staged = app.store().outbox.pending().await;
    assert_eq!(staged.expect("counts"), 0, "no event staged");

    // The bounds themselves are accepted: 200 characters (not bytes), a million dollars.
    let title = "é".repeat(200);
    let ticket = app.create_ticket(&cookie, &title, 1_000_000.0).await;
    assert_eq!(ticket["title"], title.as_str());
    assert_eq!(ticket["price"], 1_000_000);
}
