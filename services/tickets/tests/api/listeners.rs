//! The `order:created` and `order:cancelled` listeners.

use serde_json::json;

use crate::helpers::{
    DEADLINE, ORDER_CANCELLED_CONSUMER, ORDER_CREATED_CONSUMER, TestApp, eventually,
    order_cancelled, order_created,
};

/// A ticket and an `order:created` for it, published.
async fn setup_reserved() -> (
    TestApp,
    serde_json::Value,
    common::events::OrderCreated,
    u64,
) {
    let app = TestApp::spawn().await;
    let ticket = app.create_ticket(&app.cookie(), "concert", 99.0).await;
    let order = order_created(&ticket);
    let published = app.publish(&order).await;
    (app, ticket, order, published.sequence)
}

#[tokio::test]
async fn order_created_sets_the_order_id_of_the_ticket() {
    let (app, ticket, order, _) = setup_reserved().await;
    let id = ticket["id"].as_str().expect("id");
    let order_id = order.id.to_hex();

    let reserved = eventually("the ticket to be reserved", DEADLINE, || async {
        let now = app.ticket(id).await;
        (now["orderId"] == order_id.as_str()).then_some(now)
    })
    .await;
    assert_eq!(
        reserved,
        json!({
            "id": id, "title": "concert", "price": 99, "userId": ticket["userId"],
            "version": 1, "orderId": order_id
        })
    );
}

#[tokio::test]
async fn order_created_acks_the_message() {
    let (app, _, _, sequence) = setup_reserved().await;
    let info = app
        .nats
        .wait_consumer_idle(ORDER_CREATED_CONSUMER, DEADLINE)
        .await;
    assert!(info.ack_floor.stream_sequence >= sequence, "{info:#?}");
    assert_eq!(info.num_redelivered, 0);
    assert_eq!(app.consumer_stats().handled(), 1);
}

#[tokio::test]
async fn order_created_publishes_a_ticket_updated_event() {
    let (app, ticket, order, _) = setup_reserved().await;
    let events = app.wait_published("ticket:updated", 1).await;
    assert_eq!(
        events[0].body,
        json!({
            "id": ticket["id"], "version": 1, "title": "concert", "price": 99,
            "userId": ticket["userId"], "orderId": order.id.to_hex()
        })
    );
}

#[tokio::test]
async fn order_cancelled_releases_the_ticket_publishes_an_event_and_acks_the_message() {
    let app = TestApp::spawn().await;
    let ticket = app.create_ticket(&app.cookie(), "concert", 99.0).await;
    let order = app.reserve(&ticket).await;
    let id = ticket["id"].as_str().expect("id");

    let published = app.publish(&order_cancelled(&order)).await;

    let released = eventually("the ticket to be released", DEADLINE, || async {
        let now = app.ticket(id).await;
        now.get("orderId").is_none().then_some(now)
    })
    .await;
    assert_eq!(
        released,
        json!({ "id": id, "title": "concert", "price": 99, "userId": ticket["userId"], "version": 2 })
    );
    let events = app.wait_published("ticket:updated", 2).await;
    assert_eq!(
        events[1].body,
        json!({ "id": id, "version": 2, "title": "concert", "price": 99, "userId": ticket["userId"] })
    );
    let info = app
        .nats
        .wait_consumer_idle(ORDER_CANCELLED_CONSUMER, DEADLINE)
        .await;
    assert!(info.ack_floor.stream_sequence >= published.sequence);
    assert_eq!(info.num_redelivered, 0);
}

#[tokio::test]
async fn a_redelivered_order_created_yields_one_ticket_updated() {
    let (app, ticket, order, _) = setup_reserved().await;
    // The same event again, as a redelivery would hand it to the handler (under a new
    // message id, so JetStream's deduplication does not hide it).
    app.publish(&order).await;

    let info = app
        .nats
        .wait_consumer_idle(ORDER_CREATED_CONSUMER, DEADLINE)
        .await;
    assert_eq!(
        info.delivered.stream_sequence,
        info.ack_floor.stream_sequence
    );
    assert_eq!(
        app.consumer_stats().handled(),
        2,
        "both deliveries were handled"
    );
    let updates = app.nats.bodies("ticket:updated").await;
    assert_eq!(updates.len(), 1, "{updates:#?}");
    assert_eq!(updates[0]["version"], 1);
    assert_eq!(
        app.ticket(ticket["id"].as_str().expect("id")).await["version"],
        1
    );
}

#[tokio::test]
async fn a_redelivered_order_cancelled_yields_one_ticket_updated() {
    let app = TestApp::spawn().await;
    let ticket = app.create_ticket(&app.cookie(), "concert", 99.0).await;
    let order = app.reserve(&ticket).await;
    let cancelled = order_cancelled(&order);
    app.publish(&cancelled).await;
    app.publish(&cancelled).await;

    app.nats
        .wait_consumer_idle(ORDER_CANCELLED_CONSUMER, DEADLINE)
        .await;
    let versions: Vec<_> = app
        .nats
        .bodies("ticket:updated")
        .await
        .iter()
        .map(|body| body["version"].clone())
        .collect();
    assert_eq!(versions, [1, 2]);
    assert_eq!(
        app.ticket(ticket["id"].as_str().expect("id")).await["version"],
        2
    );
}

#[tokio::test]
async fn an_order_cancelled_before_its_creation_is_handled_never_reserves_the_ticket() {
    let app = TestApp::spawn().await;
    let ticket = app.create_ticket(&app.cookie(), "concert", 99.0).await;
    let order = order_created(&ticket);

    // The two subjects have separate consumers: the cancellation may well be handled first.
    app.publish(&order_cancelled(&order)).await;
    app.nats
        .wait_consumer_idle(ORDER_CANCELLED_CONSUMER, DEADLINE)
        .await;
    app.publish(&order).await;
    app.nats
        .wait_consumer_idle(ORDER_CREATED_CONSUMER, DEADLINE)
        .await;

    assert_eq!(app.ticket(ticket["id"].as_str().expect("id")).await, ticket);
    assert!(app.nats.published("ticket:updated").await.is_empty());
}

#[tokio::test]
async fn an_unparseable_message_does_not_block_the_consumer() {
    let app = TestApp::spawn().await;
    let ticket = app.create_ticket(&app.cookie(), "concert", 99.0).await;
    app.nats
        .publish_raw("order:created", "garbage-1", b"this is not an order")
        .await;
    app.nats
        .publish_raw("order:created", "garbage-2", br#"{"id":"123","ticket":{}}"#)
        .await;

    app.reserve(&ticket).await;

    let info = app
        .nats
        .wait_consumer_idle(ORDER_CREATED_CONSUMER, DEADLINE)
        .await;
    assert_eq!(info.num_redelivered, 0, "terminated, not retried");
    assert_eq!(app.consumer_stats().terminated(), 2);
    assert_eq!(app.consumer_stats().handled(), 1);
}

#[tokio::test]
async fn two_replicas_share_the_work_and_handle_each_event_once() {
    let app = TestApp::spawn().await;
    let replica = app.spawn_replica(|_| {}).await;
    let cookie = app.cookie();
    let mut tickets = Vec::new();
    for n in 0..24 {
        tickets.push(
            app.create_ticket(&cookie, &format!("ticket {n}"), 10.0)
                .await,
        );
    }
    for ticket in &tickets {
        app.publish(&order_created(ticket)).await;
    }

    app.nats
        .wait_consumer_idle(ORDER_CREATED_CONSUMER, DEADLINE)
        .await;
    let handled = [
        app.consumer_stats().handled(),
        replica.consumer_stats().handled(),
    ];
    assert_eq!(handled.iter().sum::<u64>(), 24, "{handled:?}");
    assert!(
        handled.iter().all(|&count| count > 0),
        "both replicas took some: {handled:?}"
    );

    let updates = app.nats.bodies("ticket:updated").await;
    let mut updated: Vec<_> = updates.iter().map(|body| body["id"].clone()).collect();
    updated.sort_by_key(|id| id.to_string());
    let mut expected: Vec<_> = tickets.iter().map(|ticket| ticket["id"].clone()).collect();
    expected.sort_by_key(|id| id.to_string());
    assert_eq!(updated, expected, "one ticket:updated per ticket");
    assert!(updates.iter().all(|body| body["version"] == 1));
    replica.stop().await.expect("the replica stops cleanly");
}

/// Issue 11, case 1: `order:created` and `order:cancelled` of one order handled at the same
/// instant on their two consumers. Whichever transaction commits first, the other conflicts with
/// it and runs again, so the ticket always ends free.
#[tokio::test]
async fn reserve_and_release_of_one_order_at_the_same_instant_leave_the_ticket_free() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    let store = app.store().clone();
    let mut held = Vec::new();
    for n in 0..30 {
        let ticket = app.create_ticket(&cookie, &format!("race {n}"), 10.0).await;
        let order = order_created(&ticket);
        let cancelled = order_cancelled(&order);
        let (reserved, released) = tokio::join!(store.reserve(&order), store.release(&cancelled));
        reserved.expect("reserve commits");
        released.expect("release commits");
        let now = app.ticket(ticket["id"].as_str().expect("id")).await;
        if now.get("orderId").is_some() {
            held.push(now);
        }
    }
    assert_eq!(
        held,
        Vec::<serde_json::Value>::new(),
        "tickets left held by a cancelled order"
    );
}

/// A ticket ordered and cancelled again and again keeps the last hundred cancellations: enough
/// for any late `order:created` among them to be refused, without growing for ever.
#[tokio::test]
async fn a_ticket_remembers_its_last_hundred_cancelled_orders() {
    let app = TestApp::spawn().await;
    let ticket = app.create_ticket(&app.cookie(), "popular", 10.0).await;
    let orders: Vec<_> = (0..105).map(|_| order_created(&ticket)).collect();
    for order in &orders {
        let change = app.store().release(&order_cancelled(order)).await;
        assert_eq!(change.expect("recorded"), tickets::store::Change::Unchanged);
    }

    let stored = app.stored(orders[0].ticket.id).await;
    let kept: Vec<_> = orders[5..].iter().map(|order| order.id).collect();
    assert_eq!(stored.released_orders, kept);
    assert_eq!(stored.version, 0, "a record alone is no new version");
    let late = app.store().reserve(&orders[104]).await;
    assert_eq!(
        late.expect("runs"),
        tickets::store::Change::OrderAlreadyReleased
    );
    assert!(app.nats.published("ticket:updated").await.is_empty());
}
