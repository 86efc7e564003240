//! `DELETE /api/orders/:orderId`.

use bson::oid::ObjectId;
use common::events::{OrderStatus, Subject};
use serde_json::json;

use crate::helpers::{TestApp, assert_errors, order_path};

fn oid(value: &serde_json::Value) -> ObjectId {
    ObjectId::parse_str(value.as_str().expect("id string")).expect("hex id")
}

#[tokio::test]
async fn marks_an_order_as_cancelled() {
    let app = TestApp::spawn().await;
    let (_, cookie, order) = app.an_order().await;
    let path = order_path(&order);

    let response = app.delete(&path, Some(&cookie)).await;
    assert_eq!(response.status(), 204);
    assert_eq!(response.text().await.expect("body"), "");

    let shown: serde_json::Value = app
        .get(&path, Some(&cookie))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["status"], "cancelled");
    assert_eq!(shown["version"], 1);
    let stored = app.stored_order(oid(&order["id"])).await.expect("stored");
    assert_eq!((stored.status, stored.version), (OrderStatus::Cancelled, 1));
}

#[tokio::test]
async fn emits_an_order_cancelled_event() {
    let app = TestApp::spawn().await;
    let (ticket, cookie, order) = app.an_order().await;
    let path = order_path(&order);
    assert_eq!(app.delete(&path, Some(&cookie)).await.status(), 204);
    let events = app.wait_published(Subject::OrderCancelled, 1).await;
    assert_eq!(
        events[0].body,
        json!({ "id": order["id"], "version": 1, "ticket": { "id": ticket.id.to_hex() } })
    );
}

#[tokio::test]
async fn cancelling_twice_publishes_one_event() {
    let app = TestApp::spawn().await;
    let (ticket, cookie, order) = app.an_order().await;
    let path = order_path(&order);
    assert_eq!(app.delete(&path, Some(&cookie)).await.status(), 204);
    assert_eq!(app.delete(&path, Some(&cookie)).await.status(), 204);

    // One entry at most is all there ever is to publish (it leaves the order once published).
    let entries = app.outbox_entries(Subject::OrderCancelled).await;
    assert!(entries <= 1, "{entries} entries for one cancellation");
    app.wait_published(Subject::OrderCancelled, 1).await;
    assert_eq!(
        app.published(Subject::OrderCancelled).await,
        vec![json!({ "id": order["id"], "version": 1, "ticket": { "id": ticket.id.to_hex() } })]
    );
    let stored = app.stored_order(oid(&order["id"])).await.expect("stored");
    assert_eq!((stored.status, stored.version), (OrderStatus::Cancelled, 1));
}

#[tokio::test]
async fn a_completed_order_cannot_be_cancelled() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 20.0).await;
    let (user_id, cookie) = app.sign_in();
    let order = app
        .insert_order(user_id, ticket.id, OrderStatus::Complete)
        .await;
    let response = app
        .delete(&format!("/api/orders/{}", order.id.to_hex()), Some(&cookie))
        .await;
    assert_errors(
        response,
        400,
        json!([{ "message": "Cannot cancel a completed order" }]),
    )
    .await;
    assert_eq!(app.stored_order(order.id).await, Some(order));
    assert_eq!(app.outbox_entries(Subject::OrderCancelled).await, 0);
}

#[tokio::test]
async fn someone_elses_unknown_or_malformed_orders_are_refused() {
    let app = TestApp::spawn().await;
    let (_, owner, stranger, order) = app.ordered_with_another_user().await;
    let path = order_path(&order);
    let response = app.delete(&path, Some(&stranger)).await;
    assert_errors(response, 401, json!([{ "message": "Not authorized" }])).await;
    assert_eq!(
        app.stored_order(oid(&order["id"]))
            .await
            .expect("stored")
            .status,
        OrderStatus::Created
    );
    for id in [ObjectId::new().to_hex(), "nope".to_owned()] {
        let response = app.delete(&format!("/api/orders/{id}"), Some(&owner)).await;
        assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
    }
    assert_eq!(app.outbox_entries(Subject::OrderCancelled).await, 0);
}

#[tokio::test]
async fn a_cancelled_order_frees_its_ticket_for_the_next_buyer() {
    let app = TestApp::spawn().await;
    let (ticket, first, second, order) = app.ordered_with_another_user().await;
    assert_eq!(app.order(&second, ticket.id).await.status(), 400);
    let path = order_path(&order);
    assert_eq!(app.delete(&path, Some(&first)).await.status(), 204);
    let again = app.ordered(&second, ticket.id).await;
    assert_eq!(again["status"], "created");
}
