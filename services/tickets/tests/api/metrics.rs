//! `/metrics` after real traffic: requests, events published and handled (one rejected), the
//! consumers as JetStream sees them, the outbox and the process.

use crate::helpers::{DEADLINE, ORDER_CREATED_CONSUMER, TestApp, eventually, order_cancelled};

#[tokio::test]
async fn metrics_move_with_requests_and_events() {
    let app = TestApp::spawn().await;
    let ticket = app.create_ticket(&app.cookie(), "concert", 20.0).await;
    let order = app.reserve(&ticket).await;
    app.publish(&order_cancelled(&order)).await;
    app.nats
        .publish_raw("order:created", "not-json", b"{not json")
        .await;
    app.wait_published("ticket:updated", 2).await;

    let scrape = eventually("every delivery to be counted", DEADLINE, || async {
        let scrape = app.metrics().await;
        let settled = scrape.sum("ticketing_events_handled_total", &[]) >= 3.0
            && scrape.value(
                "ticketing_consumer_ack_pending",
                &[("consumer", ORDER_CREATED_CONSUMER)],
            ) == Some(0.0)
            && scrape.value(
                "ticketing_consumer_pending",
                &[("consumer", ORDER_CREATED_CONSUMER)],
            ) == Some(0.0);
        settled.then_some(scrape)
    })
    .await;
    assert_eq!(
        scrape.value(
            "http_server_request_duration_seconds_count",
            &[
                ("http_route", "/api/tickets"),
                ("http_request_method", "POST"),
                ("http_response_status_code", "201"),
            ],
        ),
        Some(1.0)
    );
    let published =
        |subject: &str| scrape.value("ticketing_events_published_total", &[("subject", subject)]);
    assert_eq!(published("ticket:created"), Some(1.0));
    assert_eq!(published("ticket:updated"), Some(2.0));
    let handled = |subject: &str, outcome: &str| {
        scrape.value(
            "ticketing_events_handled_total",
            &[("subject", subject), ("outcome", outcome)],
        )
    };
    assert_eq!(handled("order:created", "acked"), Some(1.0));
    assert_eq!(handled("order:created", "rejected"), Some(1.0));
    assert_eq!(handled("order:cancelled", "acked"), Some(1.0));
    assert_eq!(
        scrape.value(
            "ticketing_consumer_redelivered",
            &[("consumer", ORDER_CREATED_CONSUMER)]
        ),
        Some(0.0)
    );
    scrape.assert_process_metrics();
}
