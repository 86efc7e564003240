use serde_json::json;

use crate::helpers::{TestApp, assert_errors};

#[tokio::test]
async fn malformed_json_is_a_400_with_the_error_body() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(app.url("/api/users/signup"))
        .header("content-type", "application/json")
        .body(r#"{"email": "a@b.co", "#)
        .send()
        .await
        .expect("sent");
    assert_errors(
        response,
        400,
        json!([{ "message": "Request body is not valid JSON" }]),
    )
    .await;
}

#[tokio::test]
async fn a_non_json_body_is_a_400_with_the_error_body() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(app.url("/api/users/signup"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=a@b.co&password=secret")
        .send()
        .await
        .expect("sent");
    assert_errors(
        response,
        400,
        json!([{ "message": "Expected request with `Content-Type: application/json`" }]),
    )
    .await;
}

#[tokio::test]
async fn a_json_body_that_is_not_an_object_is_a_400() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json("/api/users/signup", &json!(["a@b.co", "secret"]))
        .await;
    assert_errors(
        response,
        400,
        json!([{ "message": "Request body must be a JSON object" }]),
    )
    .await;
}

#[tokio::test]
async fn unknown_routes_are_404_with_the_error_body() {
    let app = TestApp::spawn().await;
    for path in ["/api/users/nope", "/api/whatever", "/"] {
        let response = app.http.get(app.url(path)).send().await.expect("sent");
        assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
    }
    // A known path with the wrong method is not a route either.
    let response = app
        .http
        .delete(app.url("/api/users/signup"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn probes_report_health_and_readiness() {
    let app = TestApp::spawn().await;
    let health = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.expect("json"),
        json!({"status":"ok"})
    );
    let ready = app.http.get(app.url("/readyz")).send().await.expect("sent");
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.expect("json"),
        json!({"status":"ready"})
    );
}
