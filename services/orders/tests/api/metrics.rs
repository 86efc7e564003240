//! `/metrics` after real traffic: the request histogram by matched route, the events published
//! and handled, the outbox backlog, JetStream's view of the consumers and the process.

use common::events::Subject;
use common::testing::ticket_created;

use crate::helpers::{DEADLINE, TestApp, eventually};

const REQUESTS: &str = "http_server_request_duration_seconds_count";

#[tokio::test]
async fn metrics_move_with_requests_events_and_the_outbox() {
    let app = TestApp::spawn().await;
    let ticket = ticket_created("concert", 20.0);
    app.publish(&ticket).await;
    app.wait_ticket_version(ticket.id, 0).await;
    let (_, cookie) = app.sign_in();
    let order = app.ordered(&cookie, ticket.id).await;
    let path = format!("/api/orders/{}", order["id"].as_str().expect("id"));
    assert_eq!(app.get(&path, Some(&cookie)).await.status(), 200);
    assert_eq!(
        app.get("/api/orders/nope", Some(&cookie)).await.status(),
        404
    );
    assert_eq!(app.get("/no/such/route", None).await.status(), 404);
    app.wait_published(Subject::OrderCreated, 1).await;

    let scrape = eventually("the gauges to be measured", DEADLINE, || async {
        let scrape = app.metrics().await;
        let measured = scrape
            .value(
                "ticketing_consumer_pending",
                &[("consumer", "orders-service-ticket-created")],
            )
            .is_some()
            && scrape.value("ticketing_outbox_pending", &[]) == Some(0.0);
        measured.then_some(scrape)
    })
    .await;

    let requests = |route: &str, method: &str, status: &str| {
        scrape.value(
            REQUESTS,
            &[
                ("http_route", route),
                ("http_request_method", method),
                ("http_response_status_code", status),
            ],
        )
    };
    assert_eq!(requests("/api/orders", "POST", "201"), Some(1.0));
    // The route's pattern, never the path: one series for every order id.
    assert_eq!(requests("/api/orders/{order_id}", "GET", "200"), Some(1.0));
    assert_eq!(requests("/api/orders/{order_id}", "GET", "404"), Some(1.0));
    assert_eq!(requests("unmatched", "GET", "404"), Some(1.0));
    assert!(scrape.has_type("http_server_request_duration_seconds", "histogram"));
    assert!(
        !scrape.0.contains("/no/such/route"),
        "raw paths never become labels"
    );

    assert_eq!(
        scrape.value(
            "ticketing_events_published_total",
            &[("subject", "order:created")]
        ),
        Some(1.0)
    );
    assert_eq!(
        scrape.value(
            "ticketing_events_handled_total",
            &[("subject", "ticket:created"), ("outcome", "acked")]
        ),
        Some(1.0)
    );
    assert_eq!(
        scrape.value(
            "ticketing_event_handling_duration_seconds_count",
            &[("subject", "ticket:created")]
        ),
        Some(1.0)
    );
    assert_eq!(
        scrape.value("ticketing_outbox_oldest_pending_seconds", &[]),
        Some(0.0)
    );
    assert_eq!(scrape.value("ticketing_outbox_parked", &[]), Some(0.0));
    scrape.assert_process_metrics();
}
