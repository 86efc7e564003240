//! The event listeners, driven through a real JetStream: events are published into the stream
//! as the other services publish them, and what the service stores, acks and publishes is read
//! back.

use bson::oid::ObjectId;
use common::events::{
    OrderStatus, PaymentCreated, PaymentExpired, Subject, TicketCreated, TicketUpdated,
};
use orders::models::ticket::Ticket;
use serde_json::json;

use common::testing::ticket_created;

use crate::helpers::{DEADLINE, TestApp, eventually};

fn ticket_updated(ticket: &Ticket, version: i64, title: &str, price: f64) -> TicketUpdated {
    common::testing::ticket_updated(ticket.id, version, title, price)
}

/// An order for a fresh ticket, created through the API; returns its id.
async fn order_through_the_api(app: &TestApp) -> (ObjectId, Ticket) {
    let (ticket, _, order) = app.an_order().await;
    let id = ObjectId::parse_str(order["id"].as_str().expect("id")).expect("hex");
    (id, ticket)
}

// --- ticket:created -------------------------------------------------------------------------

#[tokio::test]
async fn ticket_created_creates_and_saves_a_ticket() {
    let app = TestApp::spawn().await;
    let event = ticket_created("concert", 10.0);
    app.publish(&event).await;
    let stored = app.wait_ticket_version(event.id, 0).await;
    assert_eq!(
        stored,
        Ticket {
            id: event.id,
            title: "concert".to_owned(),
            price: 10.0,
            version: 0
        }
    );
}

#[tokio::test]
async fn ticket_created_acks_the_message() {
    let app = TestApp::spawn().await;
    let sequence = app.publish(&ticket_created("concert", 10.0)).await;
    app.wait_handled(1).await;
    let consumer = app.idle_consumer(Subject::TicketCreated).await;
    assert_eq!(consumer.ack_floor.stream_sequence, sequence);
    assert_eq!(consumer.num_redelivered, 0);
}

#[tokio::test]
async fn a_redelivered_ticket_created_changes_nothing() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 10.0).await;
    app.publish(&ticket_updated(&ticket, 1, "updated", 15.0))
        .await;
    app.wait_ticket_version(ticket.id, 1).await;
    app.publish(&TicketCreated {
        id: ticket.id,
        ..ticket_created("concert", 10.0)
    })
    .await;
    app.wait_handled(2).await;
    app.idle_consumer(Subject::TicketCreated).await;
    let stored = app.stored_ticket(ticket.id).await.expect("stored");
    assert_eq!((stored.title.as_str(), stored.version), ("updated", 1));
}

// --- ticket:updated -------------------------------------------------------------------------

#[tokio::test]
async fn ticket_updated_finds_updates_and_saves_a_ticket() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 20.0).await;
    app.publish(&ticket_updated(&ticket, 1, "new concert", 999.0))
        .await;
    let stored = app.wait_ticket_version(ticket.id, 1).await;
    assert_eq!(
        stored,
        Ticket {
            id: ticket.id,
            title: "new concert".to_owned(),
            price: 999.0,
            version: 1
        }
    );
}

#[tokio::test]
async fn ticket_updated_acks_the_message() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 20.0).await;
    let sequence = app
        .publish(&ticket_updated(&ticket, 1, "new concert", 999.0))
        .await;
    app.wait_handled(1).await;
    let consumer = app.idle_consumer(Subject::TicketUpdated).await;
    assert_eq!(consumer.ack_floor.stream_sequence, sequence);
}

#[tokio::test]
async fn ticket_updated_does_not_ack_an_event_with_a_skipped_version() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 20.0).await;
    let sequence = app
        .publish(&ticket_updated(&ticket, 2, "too early", 30.0))
        .await;
    // Nakked and delivered again, at least twice, and never acked.
    let stats = app.stats.clone();
    eventually("the early event to be retried", DEADLINE, || {
        let retried = stats.retried();
        async move { (retried >= 2).then_some(()) }
    })
    .await;
    assert_eq!(app.stats.handled(), 0);
    let consumer = app
        .nats
        .consumer_info(&common::events::QueueGroup::ORDERS.durable_name(Subject::TicketUpdated))
        .await
        .expect("consumer exists");
    assert!(
        consumer.ack_floor.stream_sequence < sequence,
        "the event was acked: {consumer:?}"
    );
    assert!(consumer.delivered.stream_sequence >= sequence);
    let stored = app.stored_ticket(ticket.id).await.expect("stored");
    assert_eq!(stored, ticket, "the replica is untouched");

    // Once the missing version arrives, the nakked one comes back and applies.
    app.publish(&ticket_updated(&ticket, 1, "in between", 25.0))
        .await;
    let stored = app.wait_ticket_version(ticket.id, 2).await;
    assert_eq!((stored.title.as_str(), stored.price), ("too early", 30.0));
}

#[tokio::test]
async fn ticket_updates_delivered_out_of_order_converge() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("v0", 10.0).await;
    for version in [3, 1, 2] {
        app.publish(&ticket_updated(
            &ticket,
            version,
            &format!("v{version}"),
            10.0 + version as f64,
        ))
        .await;
    }
    app.wait_ticket_version(ticket.id, 3).await;
    let consumer = app.idle_consumer(Subject::TicketUpdated).await;
    assert_eq!(consumer.num_pending, 0);
    assert_eq!(
        app.stored_ticket(ticket.id).await,
        Some(Ticket {
            id: ticket.id,
            title: "v3".to_owned(),
            price: 13.0,
            version: 3
        })
    );
}

// --- payment:expired --------------------------------------------------------------------------

#[tokio::test]
async fn payment_expired_updates_the_order_status_to_cancelled() {
    let app = TestApp::spawn().await;
    let (order_id, _) = order_through_the_api(&app).await;
    app.publish(&PaymentExpired { order_id }).await;
    let stored = app
        .wait_order(order_id, "the order to be cancelled", |order| {
            order.status == OrderStatus::Cancelled
        })
        .await;
    assert_eq!(stored.version, 1);
}

#[tokio::test]
async fn payment_expired_emits_an_order_cancelled_event() {
    let app = TestApp::spawn().await;
    let (order_id, ticket) = order_through_the_api(&app).await;
    app.publish(&PaymentExpired { order_id }).await;
    let events = app.wait_published(Subject::OrderCancelled, 1).await;
    assert_eq!(
        events[0].body,
        json!({ "id": order_id.to_hex(), "version": 1, "ticket": { "id": ticket.id.to_hex() } })
    );
}

#[tokio::test]
async fn payment_expired_acks_the_message() {
    let app = TestApp::spawn().await;
    let (order_id, _) = order_through_the_api(&app).await;
    let sequence = app.publish(&PaymentExpired { order_id }).await;
    app.wait_handled(1).await;
    let consumer = app.idle_consumer(Subject::PaymentExpired).await;
    assert_eq!(consumer.ack_floor.stream_sequence, sequence);
}

#[tokio::test]
async fn payment_expired_leaves_a_complete_order_alone() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 20.0).await;
    let order = app
        .insert_order(ObjectId::new(), ticket.id, OrderStatus::Complete)
        .await;
    app.publish(&PaymentExpired { order_id: order.id }).await;
    app.wait_handled(1).await;
    app.idle_consumer(Subject::PaymentExpired).await;
    assert_eq!(app.stored_order(order.id).await, Some(order));
    assert_eq!(app.outbox_entries(Subject::OrderCancelled).await, 0);
    assert!(app.published(Subject::OrderCancelled).await.is_empty());
}

#[tokio::test]
async fn a_redelivered_payment_expired_publishes_one_order_cancelled() {
    let app = TestApp::spawn().await;
    let (order_id, ticket) = order_through_the_api(&app).await;
    // Two copies under different ids, so JetStream stores and delivers both.
    app.publish(&PaymentExpired { order_id }).await;
    app.publish(&PaymentExpired { order_id }).await;
    app.wait_handled(2).await;
    app.idle_consumer(Subject::PaymentExpired).await;
    let entries = app.outbox_entries(Subject::OrderCancelled).await;
    assert!(entries <= 1, "{entries} entries for one cancellation");
    app.wait_published(Subject::OrderCancelled, 1).await;
    assert_eq!(
        app.published(Subject::OrderCancelled).await,
        vec![
            json!({ "id": order_id.to_hex(), "version": 1, "ticket": { "id": ticket.id.to_hex() } })
        ]
    );
    let stored = app.stored_order(order_id).await.expect("stored");
    assert_eq!((stored.status, stored.version), (OrderStatus::Cancelled, 1));
}

// --- payment:created ------------------------------------------------------------------------

#[tokio::test]
async fn payment_created_completes_the_order_and_a_later_payment_expired_leaves_it_complete() {
    let app = TestApp::spawn().await;
    let (order_id, _) = order_through_the_api(&app).await;
    let payment = PaymentCreated {
        id: ObjectId::new(),
        order_id,
        stripe_id: "ch_123".to_owned(),
    };
    app.publish(&payment).await;
    let stored = app
        .wait_order(order_id, "the order to be complete", |order| {
            order.status == OrderStatus::Complete
        })
        .await;
    assert_eq!(stored.version, 1);

    // A redelivered payment changes nothing.
    app.publish(&payment).await;
    app.publish(&PaymentExpired { order_id }).await;
    app.wait_handled(3).await;
    app.idle_consumer(Subject::PaymentExpired).await;
    app.idle_consumer(Subject::PaymentCreated).await;
    assert_eq!(app.stored_order(order_id).await, Some(stored));
    assert_eq!(app.outbox_entries(Subject::OrderCancelled).await, 0);
    assert!(app.published(Subject::OrderCancelled).await.is_empty());
}

/// Issue 11, case 2: the timer alone cancels nothing; only payments' verdict does. Here a
/// payment accepted in time reaches orders after `expiration:complete` (NATS was down, say):
/// the order ends complete, and no `order:cancelled` is ever staged.
#[tokio::test]
async fn expiration_complete_alone_never_cancels_a_paid_order() {
    let app = TestApp::spawn().await;
    let (order_id, _) = order_through_the_api(&app).await;
    app.publish(&common::events::ExpirationComplete { order_id })
        .await;
    app.publish(&PaymentCreated {
        id: ObjectId::new(),
        order_id,
        stripe_id: "ch_in_time".to_owned(),
    })
    .await;
    let stored = app
        .wait_order(order_id, "the order to be complete", |order| {
            order.status == OrderStatus::Complete
        })
        .await;
    assert_eq!(stored.version, 1);
    app.idle_consumer(Subject::PaymentCreated).await;
    assert_eq!(app.outbox_entries(Subject::OrderCancelled).await, 0);
    assert!(app.published(Subject::OrderCancelled).await.is_empty());
}

#[tokio::test]
async fn payment_for_an_already_cancelled_order_leaves_it_cancelled() {
    let app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 20.0).await;
    let order = app
        .insert_order(ObjectId::new(), ticket.id, OrderStatus::Cancelled)
        .await;
    app.publish(&PaymentCreated {
        id: ObjectId::new(),
        order_id: order.id,
        stripe_id: "ch_late".to_owned(),
    })
    .await;
    app.wait_handled(1).await;
    app.idle_consumer(Subject::PaymentCreated).await;
    assert_eq!(app.stored_order(order.id).await, Some(order));
}

#[tokio::test]
async fn a_body_that_does_not_parse_is_terminated_not_retried() {
    let app = TestApp::spawn().await;
    app.nats
        .publish_raw(
            Subject::PaymentExpired.as_str(),
            "bad-1",
            b"{\"orderId\":\"nope\"}",
        )
        .await;
    let stats = app.stats.clone();
    eventually("the body to be terminated", DEADLINE, || {
        let terminated = stats.terminated();
        async move { (terminated >= 1).then_some(()) }
    })
    .await;
    app.idle_consumer(Subject::PaymentExpired).await;
    assert_eq!(app.stats.retried(), 0);
}
