//! What auth answers beyond its routes: unknown routes and methods, and its probes (which check
//! MongoDB). A body that is not a JSON object gets the rejection every router shares, tested once
//! in `crates/common/tests/infra/http.rs`.

use serde_json::json;

use crate::helpers::{TestApp, assert_errors};

#[tokio::test]
async fn unknown_routes_are_404_with_the_error_body() {
    let app = TestApp::spawn().await;
    for path in ["/api/users/nope", "/api/whatever", "/"] {
        let response = app.get(path, None).await;
        assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
    }
    // A known path with the wrong method is not a route either.
    let response = app.delete("/api/users/signup", None).await;
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn probes_report_health_and_readiness() {
    let app = TestApp::spawn().await;
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.expect("json"),
        json!({"status":"ok"})
    );
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.expect("json"),
        json!({"status":"ready"})
    );
}
