//! `/metrics` after a job fired: its lateness, the queue's size, the events handled and
//! published, and the process.

use std::time::Duration;

use bson::oid::ObjectId;
use test_support::http::eventually;

use crate::helpers::{EXPIRATION_COMPLETE, Infra, in_ms};

#[tokio::test]
async fn metrics_report_the_queue_and_how_late_jobs_fire() {
    let infra = Infra::start().await;
    let app = infra.spawn_app().await;
    infra
        .publish_order_created(ObjectId::new(), in_ms(300), "order-1")
        .await;
    infra.wait_for_expirations(1, Duration::from_secs(10)).await;

    let scrape = eventually(
        "the queue to be measured empty",
        Duration::from_secs(10),
        || async {
            let scrape = app.metrics().await;
            let empty = scrape.value("ticketing_expiration_jobs", &[("state", "due")]) == Some(0.0)
                && scrape.value("ticketing_expiration_jobs", &[("state", "processing")])
                    == Some(0.0)
                && scrape
                    .value("ticketing_expiration_lateness_seconds_count", &[])
                    .is_some();
            empty.then_some(scrape)
        },
    )
    .await;
    assert_eq!(
        scrape.value("ticketing_expiration_lateness_seconds_count", &[]),
        Some(1.0)
    );
    let late = scrape
        .value("ticketing_expiration_lateness_seconds_sum", &[])
        .expect("a sum");
    assert!((0.0..2.0).contains(&late), "fired {late} s late");
    assert!(scrape.has_type("ticketing_expiration_lateness_seconds", "histogram"));
    assert_eq!(
        scrape.value(
            "ticketing_events_handled_total",
            &[("subject", "order:created"), ("outcome", "acked")]
        ),
        Some(1.0)
    );
    assert_eq!(
        scrape.value(
            "ticketing_events_published_total",
            &[("subject", EXPIRATION_COMPLETE)]
        ),
        Some(1.0)
    );
    scrape.assert_process_metrics();
}
