//! `/metrics` after real traffic: pages by route and status, and the process.

use axum::http::Method;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn metrics_count_pages_by_route_and_status() {
    let app = TestApp::spawn().await;
    app.ingress
        .respond(Method::GET, "/api/tickets", 200, json!([]));
    assert_eq!(app.page("/", None).await.0, 200);
    assert_eq!(
        app.page("/tickets/5f0f5b1c2a7d3e0012345678", None).await.0,
        404
    );

    let scrape = app.metrics().await;
    let pages = |route: &str, status: &str| {
        scrape.value(
            "http_server_request_duration_seconds_count",
            &[
                ("http_route", route),
                ("http_request_method", "GET"),
                ("http_response_status_code", status),
            ],
        )
    };
    assert_eq!(pages("/", "200"), Some(1.0));
    assert_eq!(pages("/tickets/{ticket_id}", "404"), Some(1.0));
    scrape.assert_process_metrics();
}
