//! The original's listener tests (`order-created-listener`, `order-cancelled-listener`), ported:
//! each replicates the order and acks the message. Plus ordering and redelivery.

use bson::oid::ObjectId;
use common::events::OrderCreated;
use common::testing::order_cancelled;

use crate::helpers::{DEADLINE, TestApp, eventually};

fn order_created(user: ObjectId, price: f64) -> OrderCreated {
    common::testing::order_created(user, ObjectId::new(), price)
}

async fn replicated(app: &TestApp, id: ObjectId, version: i64) -> bson::Document {
    eventually(
        &format!("order {id} at version {version}"),
        DEADLINE,
        || async {
            app.order(id)
                .await
                .filter(|order| common::version::stored_version(order) == Some(version))
        },
    )
    .await
}

#[tokio::test]
async fn order_created_replicates_the_order_info_and_acks() {
    let app = TestApp::spawn().await;
    let user = ObjectId::new();
    let event = order_created(user, 10.0);
    app.publish(&event).await;
    let order = replicated(&app, event.id, 0).await;
    assert_eq!(order.get_str("status").ok(), Some("created"));
    assert_eq!(order.get_object_id("userId").ok(), Some(user));
    assert_eq!(order.get_f64("price").ok(), Some(10.0));
    assert_eq!(
        order
            .get_datetime("expiresAt")
            .ok()
            .map(|at| at.timestamp_millis()),
        Some(event.expires_at.timestamp_millis()),
        "the time to pay by is kept"
    );
    app.wait_acked("payments-service-order-created").await;
}

#[tokio::test]
async fn order_cancelled_updates_the_status_and_acks() {
    let app = TestApp::spawn().await;
    let created = order_created(ObjectId::new(), 10.0);
    app.publish(&created).await;
    replicated(&app, created.id, 0).await;
    app.publish(&order_cancelled(&created)).await;
    let order = replicated(&app, created.id, 1).await;
    assert_eq!(order.get_str("status").ok(), Some("cancelled"));
    app.wait_acked("payments-service-order-cancelled").await;
}

#[tokio::test]
async fn a_cancellation_before_its_creation_waits_for_it() {
    let app = TestApp::spawn().await;
    let created = order_created(ObjectId::new(), 10.0);
    app.publish(&order_cancelled(&created)).await;
    app.publish(&created).await;
    let order = replicated(&app, created.id, 1).await;
    assert_eq!(order.get_str("status").ok(), Some("cancelled"));
}

#[tokio::test]
async fn a_redelivered_creation_changes_nothing() {
    let app = TestApp::spawn().await;
    let created = order_created(ObjectId::new(), 10.0);
    app.publish(&created).await;
    replicated(&app, created.id, 0).await;
    app.publish(&order_cancelled(&created)).await;
    replicated(&app, created.id, 1).await;
    // The same order:created again (a new message id, as a republish after a lost ack).
    app.publish(&created).await;
    app.wait_acked("payments-service-order-created").await;
    let order = app.order(created.id).await.expect("order");
    assert_eq!(order.get_str("status").ok(), Some("cancelled"));
    assert_eq!(common::version::stored_version(&order), Some(1));
}

#[tokio::test]
async fn an_order_paid_through_events_end_to_end() {
    let app = TestApp::spawn().await;
    let user = ObjectId::new();
    let created = order_created(user, 19.99);
    app.publish(&created).await;
    replicated(&app, created.id, 0).await;
    let response = app
        .pay(
            Some(&app.cookie(user)),
            &serde_json::json!({ "token": "tok_visa", "orderId": created.id.to_hex() }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let sent = app.standin.charge_requests().pop().expect("charged");
    assert_eq!(sent.param("amount"), Some("1999"));
}
