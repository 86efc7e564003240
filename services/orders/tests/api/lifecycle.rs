//! Start-up, shutdown, and events surviving a crash between commit and publish.

use std::time::Duration;

use common::events::Subject;
use common::outbox::OutboxOptions;
use serde_json::json;
use test_support::mongo::TestDb;
use test_support::nats::TestNats;

use common::service::Tuning;
use common::testing::service_config;

use crate::helpers::{DEADLINE, TestApp};

#[tokio::test]
async fn shutdown_stops_the_server_the_consumers_and_the_relay() {
    let db = TestDb::new().await;
    let nats = TestNats::start().await;
    let config = orders::Config {
        service: service_config(&db.uri, &nats.url, "orders-test"),
        expiration_window: Duration::from_secs(60),
    };
    // Stopped by a shutdown future, as `main.rs` runs it (tests otherwise use `spawn`).
    let app = orders::build(config, Tuning::fast()).await.expect("builds");
    let port = app.address().expect("bound").port();
    let base = format!("http://127.0.0.1:{port}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let http = test_support::http::client();
    test_support::http::wait_ready(&http, &base, DEADLINE).await;

    stop.send(()).expect("server still running");
    // `run_until_stopped` returns only after the consumers and the relay have finished.
    let result = tokio::time::timeout(DEADLINE, serving)
        .await
        .expect("shut down in time")
        .expect("serve task did not panic");
    assert!(result.is_ok(), "{result:?}");
    assert!(http.get(format!("{base}/healthz")).send().await.is_err());
}

#[tokio::test]
async fn an_event_not_published_at_commit_is_published_by_the_relay() {
    // As if the process died right after the commit: the fast path never runs.
    let mut tuning = Tuning::fast();
    tuning.outbox = OutboxOptions {
        fast_path: false,
        relay_interval: Duration::from_millis(100),
        relay_grace: Duration::from_millis(100),
        ..OutboxOptions::default()
    };
    let app = TestApp::spawn_with(Duration::from_secs(60), tuning).await;
    let ticket = app.build_ticket("concert", 20.0).await;
    let (user_id, cookie) = app.sign_in();
    let order = app.ordered(&cookie, ticket.id).await;
    let events = app.wait_published(Subject::OrderCreated, 1).await;
    assert_eq!(
        events[0].body,
        json!({
            "id": order["id"], "version": 0, "status": "created", "userId": user_id.to_hex(),
            "expiresAt": order["expiresAt"], "ticket": { "id": ticket.id.to_hex(), "price": 20 }
        })
    );
}

/// A cancellation is one write of the order with its `order:cancelled` inside, like the
/// creation: both survive a process that dies before publishing, and go out once each.
#[tokio::test]
async fn a_cancellation_not_published_at_commit_is_published_by_the_relay_after_the_creation() {
    let mut tuning = Tuning::fast();
    tuning.outbox = OutboxOptions {
        fast_path: false,
        relay_interval: Duration::from_millis(300),
        relay_grace: Duration::from_millis(100),
        ..OutboxOptions::default()
    };
    let app = TestApp::spawn_with(Duration::from_secs(60), tuning).await;
    let ticket = app.build_ticket("concert", 20.0).await;
    let (_, cookie) = app.sign_in();
    let order = app.ordered(&cookie, ticket.id).await;
    let path = crate::helpers::order_path(&order);
    assert_eq!(app.delete(&path, Some(&cookie)).await.status(), 204);

    let cancelled = app.wait_published(Subject::OrderCancelled, 1).await;
    assert_eq!(
        cancelled[0].body,
        json!({ "id": order["id"], "version": 1, "ticket": { "id": ticket.id.to_hex() } })
    );
    let created = app.published(Subject::OrderCreated).await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["id"], order["id"]);
    assert_eq!(app.published(Subject::OrderCancelled).await.len(), 1);
}

#[tokio::test]
async fn orders_placed_while_nats_is_down_are_announced_when_it_is_back() {
    let mut app = TestApp::spawn().await;
    let ticket = app.build_ticket("concert", 20.0).await;
    let (_, cookie) = app.sign_in();
    app.nats.stop().await;
    // The order is taken regardless: the event waits in the outbox.
    let order = app.ordered(&cookie, ticket.id).await;
    assert_eq!(app.outbox_entries(Subject::OrderCreated).await, 1);
    app.nats.start_again().await;
    let events = app
        .nats
        .wait_for_published(Subject::OrderCreated.as_str(), 1, Duration::from_secs(30))
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].body["id"], order["id"]);
}
