//! `/metrics` after real traffic: requests by route and status, and the process.

use crate::helpers::TestApp;

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    assert_eq!(app.signup("a@b.co", "password").await.status(), 201);
    assert_eq!(app.signin("a@b.co", "wrong").await.status(), 400);
    assert_eq!(app.signin("a@b.co", "wrong").await.status(), 400);

    let scrape = app.metrics().await;
    let requests = |route: &str, status: &str| {
        scrape.value(
            "http_server_request_duration_seconds_count",
            &[
                ("http_route", route),
                ("http_request_method", "POST"),
                ("http_response_status_code", status),
            ],
        )
    };
    assert_eq!(requests("/api/users/signup", "201"), Some(1.0));
    assert_eq!(requests("/api/users/signin", "400"), Some(2.0));
    scrape.assert_process_metrics();
}
