//! `/metrics` after real traffic: charges by outcome, what is left to reconcile, requests, the
//! events handled and published, and the process.

use bson::oid::ObjectId;
use serde_json::json;

use crate::helpers::{DEADLINE, TestApp, eventually};

#[tokio::test]
async fn metrics_count_charges_and_what_is_left_to_reconcile() {
    let app = TestApp::spawn().await;
    let user = ObjectId::new();
    let cookie = app.cookie(user);
    for token in ["tok_visa", "tok_chargeDeclined"] {
        let order = app
            .announce_order(user, 20.0, chrono::Duration::minutes(15))
            .await;
        let body = json!({ "token": token, "orderId": order.id.to_hex() });
        app.pay(Some(&cookie), &body).await;
    }
    app.wait_published("payment:created", 1).await;

    let scrape = eventually("the reconciler to measure", DEADLINE, || async {
        let scrape = app.metrics().await;
        let measured = scrape.value("ticketing_payments_unreconciled", &[("reason", "attempt")])
            == Some(0.0)
            && scrape.value(
                "ticketing_events_published_total",
                &[("subject", "payment:created")],
            ) == Some(1.0);
        measured.then_some(scrape)
    })
    .await;
    let charges =
        |outcome: &str| scrape.value("ticketing_payments_charges_total", &[("outcome", outcome)]);
    assert_eq!(charges("succeeded"), Some(1.0));
    assert_eq!(charges("rejected"), Some(1.0));
    assert_eq!(charges("failed"), None);
    assert_eq!(
        scrape.value("ticketing_payments_unreconciled", &[("reason", "refund")]),
        Some(0.0)
    );
    let payments = |status: &str| {
        scrape.value(
            "http_server_request_duration_seconds_count",
            &[
                ("http_route", "/api/payments"),
                ("http_response_status_code", status),
            ],
        )
    };
    assert_eq!((payments("201"), payments("400")), (Some(1.0), Some(1.0)));
    assert_eq!(
        scrape.value(
            "ticketing_events_handled_total",
            &[("subject", "order:created"), ("outcome", "acked")]
        ),
        Some(2.0)
    );
    scrape.assert_process_metrics();
}
