//! The outbox end to end: one event per change, none lost to a crash or a NATS outage.

use serde_json::json;

use crate::helpers::{DEADLINE, TestApp, eventually};

#[tokio::test]
async fn each_change_publishes_exactly_one_event() {
    let app = TestApp::spawn().await;
    let user_id = bson::oid::ObjectId::new();
    let cookie = app.cookie_for(user_id);
    let ticket = app.create_ticket(&cookie, "concert", 20.0).await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));
    for price in [30, 40] {
        let response = app
            .put_json(
                &path,
                Some(&cookie),
                &json!({ "title": "concert", "price": price }),
            )
            .await;
        assert_eq!(response.status(), 200);
    }

    // Everything was published on the request path and marked just after, so nothing is left
    // for the relay and the stream's content is final.
    eventually("every entry marked published", DEADLINE, || async {
        (app.store().outbox.pending().await.ok() == Some(0)).then_some(())
    })
    .await;
    let created = app.nats.published("ticket:created").await;
    let updated = app.nats.published("ticket:updated").await;
    assert_eq!(created.len(), 1);
    assert_eq!(
        updated.iter().map(|e| e.body.clone()).collect::<Vec<_>>(),
        [
            json!({ "id": ticket["id"], "version": 1, "title": "concert", "price": 30, "userId": user_id.to_hex() }),
            json!({ "id": ticket["id"], "version": 2, "title": "concert", "price": 40, "userId": user_id.to_hex() }),
        ]
    );
    let mut ids: Vec<_> = created
        .iter()
        .chain(&updated)
        .map(|event| event.msg_id.clone().expect("an event id"))
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "each event has an id of its own");
}

#[tokio::test]
async fn an_event_committed_while_the_relay_is_stopped_is_delivered_once_it_starts() {
    // An instance that dies between its commit and its publish, and runs no relay.
    let app = TestApp::spawn_with(|tuning| {
        tuning.outbox.fast_path = false;
        tuning.outbox.relay = false;
    })
    .await;
    let ticket = app.create_ticket(&app.cookie(), "concert", 20.0).await;
    assert_eq!(app.store().outbox.pending().await.expect("counts"), 1);
    assert!(app.nats.published("ticket:created").await.is_empty());

    // The next instance to start relays it.
    let _restarted = app.spawn_replica(|_| {}).await;
    let events = app.wait_published("ticket:created", 1).await;
    // The event carries the ticket exactly as the API shows it.
    assert_eq!(events[0].body, ticket);
    eventually("the outbox to be drained", DEADLINE, || async {
        (app.store().outbox.pending().await.ok() == Some(0)).then_some(())
    })
    .await;
    assert_eq!(app.nats.published("ticket:created").await.len(), 1);
}

#[tokio::test]
async fn with_nats_stopped_a_ticket_is_still_created_and_its_event_arrives_when_nats_is_back() {
    let mut app = TestApp::spawn().await;
    app.nats.stop().await;

    // Readiness notices; the API keeps working.
    let unready = eventually("readiness to report NATS", DEADLINE, || async {
        let response = app.get("/readyz", None).await;
        (response.status() == 503).then_some(response)
    })
    .await;
    assert_eq!(
        unready.json::<serde_json::Value>().await.expect("JSON"),
        json!({ "status": "unavailable", "failing": ["nats"] })
    );
    let started = std::time::Instant::now();
    let ticket = app.create_ticket(&app.cookie(), "offline", 15.0).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "the request does not wait for NATS: {:?}",
        started.elapsed()
    );
    assert_eq!(app.store().outbox.pending().await.expect("counts"), 1);

    app.nats.start_again().await;
    let events = app.wait_published("ticket:created", 1).await;
    // The event carries the ticket exactly as the API shows it.
    assert_eq!(events[0].body, ticket);
    eventually("readiness to recover", DEADLINE, || async {
        (app.get("/readyz", None).await.status() == 200).then_some(())
    })
    .await;

    // And the consumers are back too.
    app.reserve(&ticket).await;
}

/// A reservation is one write of the ticket with its `ticket:updated` inside: the process dying
/// right after it loses nothing, and the next instance publishes the event.
#[tokio::test]
async fn a_reservation_written_by_an_instance_that_died_before_publishing_is_delivered() {
    let app = TestApp::spawn_with(|tuning| {
        tuning.outbox.fast_path = false;
        tuning.outbox.relay = false;
    })
    .await;
    let ticket = app.create_ticket(&app.cookie(), "concert", 20.0).await;
    let order = crate::helpers::order_created(&ticket);
    // The handler's write, by a store that dies before publishing.
    let dying = tickets::store::Store {
        outbox: app
            .store()
            .outbox
            .clone()
            .with_options(common::outbox::OutboxOptions {
                fast_path: false,
                relay: false,
                ..Default::default()
            }),
        ..app.store().clone()
    };
    let change = dying.reserve(&order).await.expect("reserves");
    assert!(
        matches!(change, tickets::store::Change::Applied(_)),
        "{change:?}"
    );

    // Both events wait in the ticket itself; the outbox collection never saw them.
    let raw = app
        .store()
        .tickets
        .clone_with_type::<bson::Document>()
        .find_one(bson::doc! { "_id": order.ticket.id })
        .await
        .expect("reads")
        .expect("the ticket");
    let subjects: Vec<_> = raw
        .get_array(common::outbox::EMBEDDED)
        .expect("entries")
        .iter()
        .filter_map(|entry| entry.as_document()?.get_str("subject").ok())
        .collect();
    assert_eq!(subjects, ["ticket:created", "ticket:updated"]);
    assert_eq!(app.store().outbox.pending().await.expect("counts"), 2);

    let _restarted = app.spawn_replica(|_| {}).await;
    let updated = app.wait_published("ticket:updated", 1).await;
    assert_eq!(
        updated[0].body,
        json!({
            "id": ticket["id"], "version": 1, "title": "concert", "price": 20,
            "userId": ticket["userId"], "orderId": order.id.to_hex(),
        })
    );
    eventually("the outbox to be drained", DEADLINE, || async {
        (app.store().outbox.pending().await.ok() == Some(0)).then_some(())
    })
    .await;
    assert_eq!(app.nats.published("ticket:created").await.len(), 1);
    assert_eq!(app.nats.published("ticket:updated").await.len(), 1);
}
