//! What every service's router answers alike, because it comes from here: the contract's error
//! body for a body that is not JSON, not a JSON object, not JSON at all, and for unknown routes.
//! Each service's suite tests its own routes; these rejections are tested once, where they live.

use axum::Router;
use axum::routing::post;
use common::http::{Readiness, finish_router};
use common::{JsonBody, JsonObject};
use serde_json::json;
use test_support::http::assert_errors;

/// A router as a service builds one, with one JSON route that echoes its body.
async fn serve() -> String {
    serve_routes(Router::new().route(
        "/api/things",
        post(|JsonBody(body): JsonBody<JsonObject>| async move { axum::Json(body) }),
    ))
    .await
}

/// Serves `routes` finished as every service's router is; returns the base URL.
async fn serve_routes(routes: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(common::http::serve(
        listener,
        finish_router(routes, Readiness::new()),
        std::future::pending(),
    ));
    base
}

async fn post_raw(base: &str, content_type: &str, body: &'static str) -> reqwest::Response {
    test_support::http::client()
        .post(format!("{base}/api/things"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn bodies_that_are_not_a_json_object_get_the_contract_error_body() {
    let base = serve().await;
    for (content_type, body, message) in [
        (
            "application/json",
            r#"{"email": "a@b.co", "#,
            "Request body is not valid JSON",
        ),
        (
            "application/x-www-form-urlencoded",
            "email=a@b.co&password=secret",
            "Expected request with `Content-Type: application/json`",
        ),
        (
            "application/json",
            r#"["a@b.co", "secret"]"#,
            "Request body must be a JSON object",
        ),
    ] {
        let response = post_raw(&base, content_type, body).await;
        assert_errors(response, 400, json!([{ "message": message }])).await;
    }
    let echoed = post_raw(&base, "application/json", r#"{"a": 1}"#).await;
    assert_eq!(echoed.status(), 200);
    assert_eq!(
        echoed.json::<serde_json::Value>().await.expect("json"),
        json!({"a": 1})
    );
}

#[tokio::test]
async fn unknown_routes_are_404_with_the_error_body_and_probes_answer() {
    let base = serve().await;
    let http = test_support::http::client();
    for path in ["/api/nope", "/api/things/1", "/"] {
        let response = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("sent");
        assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
    }
    for (probe, body) in [
        ("/healthz", json!({"status": "ok"})),
        ("/readyz", json!({"status": "ready"})),
    ] {
        let response = http
            .get(format!("{base}{probe}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<serde_json::Value>().await.expect("json"),
            body
        );
    }
}

/// Where a test's log lines go: a buffer the test reads back.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A failed request is one log line, and it names the route (its pattern), not the raw path.
/// The test runtime is single-threaded, so the server's tasks log into this thread's subscriber.
#[tokio::test]
async fn a_failed_request_is_one_log_line_naming_its_route() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_env_filter("info")
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let routes = Router::new().route(
        "/api/things/{id}",
        axum::routing::get(|| async {
            Err::<(), _>(common::AppError::internal(anyhow::anyhow!(
                "the disk is on fire"
            )))
        }),
    );
    let base = serve_routes(routes).await;
    let response = test_support::http::client()
        .get(format!("{base}/api/things/5f0f5b1c2a7d3e0012345678"))
        .send()
        .await
        .expect("sent");
    assert_errors(
        response,
        500,
        json!([{ "message": "Something went wrong" }]),
    )
    .await;

    let logs = String::from_utf8(captured.0.lock().expect("not poisoned").clone()).expect("utf-8");
    let lines: Vec<&str> = logs
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{logs}");
    let line = lines[0];
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("route=/api/things/{id}"), "{line}");
    assert!(line.contains("method=GET"), "{line}");
    assert!(line.contains("the disk is on fire"), "{line}");
    assert!(
        !line.contains("5f0f5b1c2a7d3e0012345678"),
        "no ids in the line: {line}"
    );
}
