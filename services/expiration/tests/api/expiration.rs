//! `order:created` in, `expiration:complete` out at `expiresAt`: on time, once, across restarts
//! and replicas.

use std::collections::HashSet;
use std::time::Duration;

use bson::oid::ObjectId;
use serde_json::json;
use test_support::http::eventually;

use crate::helpers::{DURABLE, EXPIRATION_COMPLETE, Infra, MAX_LATENESS_MS, in_ms};

#[tokio::test]
async fn a_job_fires_at_expires_at_not_before_and_barely_after() {
    let infra = Infra::start().await;
    let _app = infra.spawn_app().await;
    let order = ObjectId::new();
    let expires_at = in_ms(2_500);

    infra
        .publish_order_created(order, expires_at, "order-1")
        .await;

    assert_eq!(
        infra.wait_scheduled(order).await,
        expires_at.timestamp_millis()
    );
    let events = infra.wait_for_expirations(1, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].body, json!({ "orderId": order.to_hex() }));
    assert_eq!(
        events[0].msg_id.as_deref(),
        Some(format!("expiration:{}", order.to_hex()).as_str())
    );
    let late_by = infra.stored_at_ms(events[0].sequence).await - expires_at.timestamp_millis();
    assert!(late_by >= 0, "fired {}ms early", -late_by);
    assert!(late_by <= MAX_LATENESS_MS, "fired {late_by}ms late");
}

#[tokio::test]
async fn an_order_already_expired_fires_at_once() {
    let infra = Infra::start().await;
    let _app = infra.spawn_app().await;
    let order = ObjectId::new();
    let published_at = chrono::Utc::now().timestamp_millis();

    infra
        .publish_order_created(order, in_ms(-60_000), "order-1")
        .await;

    let events = infra.wait_for_expirations(1, Duration::from_secs(10)).await;
    assert_eq!(events[0].body, json!({ "orderId": order.to_hex() }));
    let took = infra.stored_at_ms(events[0].sequence).await - published_at;
    assert!(
        took <= MAX_LATENESS_MS,
        "fired {took}ms after order:created"
    );
}

#[tokio::test]
async fn a_duplicate_order_created_makes_one_job_and_one_expiration() {
    let infra = Infra::start().await;
    let _app = infra.spawn_app().await;
    let watch = infra.watch_publishes().await;
    let order = ObjectId::new();
    let expires_at = in_ms(2_000);

    // The same event twice under different message ids, so JetStream delivers both (as after a
    // publisher retry beyond the duplicate window, or a consumer reset).
    infra
        .publish_order_created(order, expires_at, "first")
        .await;
    infra
        .publish_order_created(order, expires_at, "second")
        .await;
    infra
        .nats
        .wait_consumer_idle(DURABLE, Duration::from_secs(10))
        .await;
    assert_eq!(infra.queue().await.counts().await.expect("counts"), (1, 0));

    infra.wait_for_expirations(1, Duration::from_secs(10)).await;
    infra.wait_queue_empty(Duration::from_secs(10)).await;
    // A third copy after the job fired schedules nothing either.
    infra
        .publish_order_created(order, expires_at, "third")
        .await;
    infra
        .nats
        .wait_consumer_idle(DURABLE, Duration::from_secs(10))
        .await;
    assert_eq!(infra.queue().await.counts().await.expect("counts"), (0, 0));

    assert_eq!(
        infra.nats.bodies(EXPIRATION_COMPLETE).await,
        [json!({ "orderId": order.to_hex() })]
    );
    assert_eq!(watch.bodies().await, [json!({ "orderId": order.to_hex() })]);
}

#[tokio::test]
async fn two_replicas_publish_each_expiration_once() {
    let infra = Infra::start().await;
    let _one = infra.spawn_app().await;
    let _two = infra.spawn_app().await;
    let watch = infra.watch_publishes().await;
    let orders: Vec<ObjectId> = (0..20).map(|_| ObjectId::new()).collect();
    let expires_at = in_ms(1_500);

    for (n, order) in orders.iter().enumerate() {
        infra
            .publish_order_created(*order, expires_at, &format!("order-{n}"))
            .await;
    }

    infra
        .wait_for_expirations(orders.len(), Duration::from_secs(15))
        .await;
    infra.wait_queue_empty(Duration::from_secs(10)).await;
    infra
        .nats
        .wait_consumer_idle(DURABLE, Duration::from_secs(10))
        .await;

    let expected: HashSet<String> = orders.iter().map(|order| order.to_hex()).collect();
    let stored = infra.nats.published(EXPIRATION_COMPLETE).await;
    let stored_orders: Vec<String> = stored
        .iter()
        .map(|event| event.body["orderId"].as_str().expect("orderId").to_owned())
        .collect();
    assert_eq!(stored_orders.len(), orders.len(), "{stored:#?}");
    assert_eq!(
        stored_orders.iter().cloned().collect::<HashSet<_>>(),
        expected
    );
    // Not merely deduplicated by JetStream: each was sent once.
    let sent = watch.bodies().await;
    assert_eq!(sent.len(), orders.len(), "{sent:#?}");
}

#[tokio::test]
async fn a_job_survives_a_restart_of_the_service_before_it_is_due() {
    let infra = Infra::start().await;
    let app = infra.spawn_app().await;
    let order = ObjectId::new();
    let expires_at = in_ms(3_000);

    infra
        .publish_order_created(order, expires_at, "order-1")
        .await;
    infra.wait_scheduled(order).await;
    app.stop().await;
    assert!(
        infra.nats.published(EXPIRATION_COMPLETE).await.is_empty(),
        "nothing fires before expiresAt"
    );

    let _again = infra.spawn_app().await;
    let events = infra.wait_for_expirations(1, Duration::from_secs(10)).await;
    assert_eq!(events[0].body, json!({ "orderId": order.to_hex() }));
    let late_by = infra.stored_at_ms(events[0].sequence).await - expires_at.timestamp_millis();
    assert!(late_by >= 0, "fired {}ms early", -late_by);
    assert!(late_by <= MAX_LATENESS_MS, "fired {late_by}ms late");
}

#[tokio::test]
async fn a_job_claimed_by_a_worker_that_died_fires_when_its_lease_runs_out() {
    let infra = Infra::start().await;
    let order = ObjectId::new();
    // A worker claims the due job with a one-second lease and dies before publishing.
    let dead = infra.queue().await.with_lease(Duration::from_secs(1));
    dead.schedule(&order.to_hex(), 0).await.expect("schedules");
    let claimed_at = chrono::Utc::now().timestamp_millis();
    let claimed = dead.claim_due(claimed_at, 10).await.expect("claims");
    assert_eq!(claimed, [order.to_hex()]);

    let _app = infra.spawn_app().await;
    let events = infra.wait_for_expirations(1, Duration::from_secs(10)).await;
    assert_eq!(events[0].body, json!({ "orderId": order.to_hex() }));
    assert!(
        infra.stored_at_ms(events[0].sequence).await >= claimed_at + 1_000,
        "not before the lease ran out"
    );
    infra.wait_queue_empty(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn an_unparseable_order_created_does_not_block_the_next() {
    let infra = Infra::start().await;
    let _app = infra.spawn_app().await;
    let order = ObjectId::new();

    for (n, body) in [
        b"not json".to_vec(),
        br#"{"id":"nope","version":0,"status":"created","userId":"x","expiresAt":"soon","ticket":{}}"#
            .to_vec(),
        br#"{"id":"5f9d88b9c2b4a1a2b3c4d5e6"}"#.to_vec(),
    ]
    .into_iter()
    .enumerate()
    {
        infra
            .nats
            .publish_raw("order:created", &format!("bad-{n}"), &body)
            .await;
    }
    infra.publish_order_created(order, in_ms(0), "good").await;

    let events = infra.wait_for_expirations(1, Duration::from_secs(10)).await;
    assert_eq!(events[0].body, json!({ "orderId": order.to_hex() }));
    let info = infra
        .nats
        .wait_consumer_idle(DURABLE, Duration::from_secs(10))
        .await;
    // Each bad body was delivered once and terminated, not retried.
    assert_eq!(
        (info.delivered.consumer_sequence, info.num_redelivered),
        (4, 0)
    );
    infra.wait_queue_empty(Duration::from_secs(10)).await;
    assert_eq!(
        infra.nats.bodies(EXPIRATION_COMPLETE).await,
        [json!({ "orderId": order.to_hex() })]
    );
}

#[tokio::test]
async fn a_job_due_while_nats_is_down_fires_once_nats_is_back() {
    let mut infra = Infra::start().await;
    let _app = infra.spawn_app().await;
    let order = ObjectId::new();
    let expires_at = in_ms(500);

    infra
        .publish_order_created(order, expires_at, "order-1")
        .await;
    infra.wait_scheduled(order).await;
    infra.nats.stop().await;
    // The job falls due and its publish fails: it must go back into the queue, not vanish.
    let queue = infra.queue().await;
    eventually(
        "the job to be due and handed back",
        Duration::from_secs(10),
        || {
            let queue = queue.clone();
            let job = order.to_hex();
            async move {
                let due = queue.due_at(&job).await.ok().flatten()?;
                (due > expires_at.timestamp_millis()).then_some(())
            }
        },
    )
    .await;

    infra.nats.start_again().await;
    let events = infra.wait_for_expirations(1, Duration::from_secs(15)).await;
    assert_eq!(events[0].body, json!({ "orderId": order.to_hex() }));
    infra.wait_queue_empty(Duration::from_secs(10)).await;
    assert_eq!(infra.nats.published(EXPIRATION_COMPLETE).await.len(), 1);
}
