//! `POST /api/orders`: the original's four tests, then validation, expiry and the race.

use std::time::Duration;

use bson::doc;
use bson::oid::ObjectId;
use chrono::{DateTime, Utc};
use common::events::{OrderStatus, Subject};
use serde_json::json;

use crate::helpers::{TestApp, assert_errors};

fn parse_instant(text: &serde_json::Value) -> DateTime<Utc> {
    let text = text.as_str().expect("expiresAt is a string");
    // RFC 3339 in UTC with milliseconds, as JavaScript's toISOString writes it.
    assert_eq!(text.len(), 24, "{text}");
    assert!(text.ends_with('Z'), "{text}");
    DateTime::parse_from_rfc3339(text)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn returns_an_error_if_the_ticket_does_not_exist() {
    let app = TestApp::spawn().await;
    let (_, cookie) = app.sign_in();
    let response = app.order(&cookie, ObjectId::new()).await;
    assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
    assert_eq!(
        app.orders().count_documents(doc! {}).await.expect("count"),
        0
    );
}

#[tokio::test]
async fn returns_an_error_if_the_ticket_is_already_reserved() {
    let app = TestApp::spawn().await;
    let (_, cookie) = app.sign_in();
    // Every status but `cancelled` holds the ticket.
    for status in [
        OrderStatus::Created,
        OrderStatus::AwaitingPayment,
        OrderStatus::Complete,
    ] {
        let ticket = app.build_ticket("concert", 20.0).await;
        app.insert_order(ObjectId::new(), ticket.id, status).await;
        let response = app.order(&cookie, ticket.id).await;
        assert_errors(
            response,
            400,
            json!([{ "message": "Ticket is already reserved" }]),
        )
        .await;
    }
    assert!(app.published(Subject::OrderCreated).await.is_empty());
}

#[tokio::test]
async fn reserves_a_ticket() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 20.0).await;
    let (user_id, cookie) = app.sign_in();
    let before = Utc::now();
    let response = app.order(&cookie, ticket.id).await;
    let after = Utc::now();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.expect("json");

    let id = body["id"].as_str().expect("id").to_owned();
    let expires_at = parse_instant(&body["expiresAt"]);
    let window = chrono::Duration::seconds(15 * 60);
    assert!(
        expires_at >= before + window - chrono::Duration::milliseconds(1)
            && expires_at <= after + window,
        "expiresAt {expires_at} is not 15 minutes after the request"
    );
    assert_eq!(
        body,
        json!({
            "id": id,
            "userId": user_id.to_hex(),
            "status": "created",
            "expiresAt": body["expiresAt"],
            "version": 0,
            "ticket": { "id": ticket.id.to_hex(), "title": "concert", "price": 20, "version": 0 }
        })
    );

    let stored = app
        .stored_order(ObjectId::parse_str(&id).expect("hex id"))
        .await
        .expect("order stored");
    assert_eq!(
        (
            stored.status,
            stored.version,
            stored.ticket_id,
            stored.user_id
        ),
        (OrderStatus::Created, 0, ticket.id, user_id)
    );
    assert_eq!(stored.expires_at.to_chrono(), expires_at);
}

#[tokio::test]
async fn emits_an_order_created_event() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 20.5).await;
    let (user_id, cookie) = app.sign_in();
    let order = app.ordered(&cookie, ticket.id).await;
    let events = app.wait_published(Subject::OrderCreated, 1).await;
    assert_eq!(events.len(), 1);
    assert!(events[0].msg_id.is_some(), "published with a Nats-Msg-Id");
    assert_eq!(
        events[0].body,
        json!({
            "id": order["id"],
            "version": 0,
            "status": "created",
            "userId": user_id.to_hex(),
            "expiresAt": order["expiresAt"],
            "ticket": { "id": ticket.id.to_hex(), "price": 20.5 }
        })
    );
}

#[tokio::test]
async fn a_malformed_ticket_id_is_a_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let (_, cookie) = app.sign_in();
    for body in [
        json!({}),
        json!({ "ticketId": null }),
        json!({ "ticketId": "" }),
        json!({ "ticketId": "not-an-id" }),
        json!({ "ticketId": "5f9d88b9c2b4a1a2b3c4d5e" }),
        json!({ "ticketId": 12 }),
        json!({ "ticketId": { "$oid": "5f9d88b9c2b4a1a2b3c4d5e6" } }),
    ] {
        let response = app.post_order(Some(&cookie), &body).await;
        assert_errors(
            response,
            400,
            json!([{ "message": "TicketId must be provided", "field": "ticketId" }]),
        )
        .await;
    }
}

#[tokio::test]
async fn expires_at_follows_the_configured_window() {
    let app = TestApp::spawn_with_window(Duration::from_secs(6)).await;
    let ticket = app.build_ticket("concert", 20.0).await;
    let (_, cookie) = app.sign_in();
    let before = Utc::now();
    let order = app.ordered(&cookie, ticket.id).await;
    let after = Utc::now();
    let expires_at = parse_instant(&order["expiresAt"]);
    let window = chrono::Duration::seconds(6);
    assert!(
        expires_at >= before + window - chrono::Duration::milliseconds(1)
            && expires_at <= after + window,
        "{expires_at} is not 6 s after the request"
    );
}

#[tokio::test]
async fn a_cancelled_order_does_not_hold_its_ticket() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 20.0).await;
    app.insert_order(ObjectId::new(), ticket.id, OrderStatus::Cancelled)
        .await;
    let (_, cookie) = app.sign_in();
    let order = app.ordered(&cookie, ticket.id).await;
    assert_eq!(order["status"], "created");
}

#[tokio::test]
async fn concurrent_orders_for_one_ticket_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 20.0).await;
    let users: Vec<_> = (0..8).map(|_| app.sign_in()).collect();
    let attempts = users.iter().map(|(_, cookie)| app.order(cookie, ticket.id));
    let responses = futures::future::join_all(attempts).await;
    let created = responses.iter().filter(|r| r.status() == 201).count();
    assert_eq!(created, 1, "exactly one order wins");
    for response in responses.into_iter().filter(|r| r.status() != 201) {
        assert_errors(
            response,
            400,
            json!([{ "message": "Ticket is already reserved" }]),
        )
        .await;
    }
    let stored = app
        .orders()
        .count_documents(doc! { "ticketId": ticket.id })
        .await
        .expect("count");
    assert_eq!(stored, 1);
    // The losers' inserts failed whole: their events were never written anywhere.
    app.wait_published(Subject::OrderCreated, 1).await;
    assert_eq!(app.published(Subject::OrderCreated).await.len(), 1);
    let entries = app.outbox_entries(Subject::OrderCreated).await;
    assert!(entries <= 1, "{entries} entries for one order");
}

#[tokio::test]
async fn the_database_itself_refuses_a_second_active_order_for_a_ticket() {
    // Not the route's check: the partial unique index, so any writer is held to the rule.
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 20.0).await;
    app.insert_order(ObjectId::new(), ticket.id, OrderStatus::Created)
        .await;
    let second =
        orders::models::order::Order::new(ObjectId::new(), ticket.id, Duration::from_secs(60));
    let error = app
        .orders()
        .insert_one(&second)
        .await
        .expect_err("a second active order is refused");
    assert!(common::mongo::is_duplicate_key(&error), "{error}");
    // A cancelled one is not in the index.
    let cancelled = orders::models::order::Order {
        status: OrderStatus::Cancelled,
        ..second
    };
    app.orders()
        .insert_one(&cancelled)
        .await
        .expect("cancelled orders are not constrained");
}
