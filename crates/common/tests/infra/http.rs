//! What every service's router answers alike, because it comes from here: the contract's error
//! body for a body that is not JSON, not a JSON object, not JSON at all, and for unknown routes.
//! Each service's suite tests its own routes; these rejections are tested once, where they live.

use axum::Router;
use axum::routing::post;
use common::http::{Readiness, finish_router};
use common::telemetry::Settings;
use common::{JsonBody, JsonObject};
use serde_json::json;
use test_support::http::assert_errors;

use crate::helpers::{Captured, DEADLINE, serve_routes};

/// A router as a service builds one, with one JSON route that echoes its body.
async fn serve() -> String {
    serve_routes(Router::new().route(
        "/api/things",
        post(|JsonBody(body): JsonBody<JsonObject>| async move { axum::Json(body) }),
    ))
    .await
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

/// Metrics are the scraper's, reaching the pod: through a proxy (the ingress's catch-all sends
/// `/metrics` to the client) they are a 404 with the contract's body.
#[tokio::test]
async fn metrics_are_served_to_the_scraper_and_not_through_a_proxy() {
    let base = serve().await;
    let direct = test_support::http::client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(direct.status(), 200);
    assert!(
        direct.headers()["content-type"]
            .to_str()
            .is_ok_and(|value| value.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        direct.headers()
    );
    for (name, value) in [
        ("x-forwarded-for", "203.0.113.9"),
        ("forwarded", "for=203.0.113.9;proto=https"),
    ] {
        let proxied = test_support::http::client()
            .get(format!("{base}/metrics"))
            .header(name, value)
            .send()
            .await
            .expect("sent");
        assert_errors(proxied, 404, json!([{ "message": "Not Found" }])).await;
    }
}

/// A known route asked with a method it does not answer: 405, its `Allow`, the contract's body.
#[tokio::test]
async fn a_method_a_route_does_not_answer_is_405_with_allow_and_the_error_body() {
    let base = serve().await;
    for (method, path, allow) in [
        (reqwest::Method::DELETE, "/api/things", "POST"),
        (reqwest::Method::POST, "/healthz", "GET,HEAD"),
        (reqwest::Method::PUT, "/metrics", "GET,HEAD"),
    ] {
        let response = test_support::http::client()
            .request(method.clone(), format!("{base}{path}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        assert_errors(response, 405, json!([{ "message": "Method Not Allowed" }])).await;
    }
}

/// A failed request is one log line, and it names the route (its pattern), not the raw path.
/// The test runtime is single-threaded, so the server's tasks log into this thread's subscriber.
#[tokio::test]
async fn a_failed_request_is_one_log_line_naming_its_route() {
    let captured = Captured::default();
    let _guard = captured.logs(Settings {
        json: false,
        export: false,
    });

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

    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("http.route=/api/things/{id}"), "{line}");
    assert!(line.contains("http.request.method=GET"), "{line}");
    // The span's name and kind are for the exporter, not for every line.
    assert!(!line.contains("otel."), "{line}");
    assert!(line.contains("the disk is on fire"), "{line}");
    assert!(
        !line.contains("5f0f5b1c2a7d3e0012345678"),
        "no ids in the line: {line}"
    );
}

/// A connection that never finishes its headers, or idles after a response, is closed once the
/// header-read timeout passes: it cannot hold a connection forever.
#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("bound");
    tokio::spawn(common::http::serve_with_timeout(
        listener,
        finish_router(Router::new(), Readiness::new()),
        std::future::pending(),
        std::time::Duration::from_millis(300),
    ));

    let mut slow = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("writes");
    let mut idle = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("writes");

    let started = std::time::Instant::now();
    for (what, stream) in [
        ("unfinished headers", &mut slow),
        ("idle keep-alive", &mut idle),
    ] {
        let mut received = Vec::new();
        let read = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut received)).await;
        assert!(read.is_ok(), "{what}: still open after {DEADLINE:?}");
        let received = String::from_utf8_lossy(&received);
        if what == "idle keep-alive" {
            assert!(received.starts_with("HTTP/1.1 200 OK"), "{received}");
        }
    }
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
}

/// A state-changing request a browser says comes from another site is refused (403, the
/// contract's body) before any route runs; same-site ones, safe methods and requests from no
/// browser at all pass.
#[tokio::test]
async fn state_changing_requests_from_another_site_are_refused() {
    let base = serve().await;
    let http = test_support::http::client();
    let send = |method: reqwest::Method, headers: &'static [(&'static str, &'static str)]| {
        let mut request = http
            .request(method, format!("{base}/api/things"))
            .header("content-type", "application/json")
            .body("{}");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let refused = json!([{ "message": "Cross-site requests are not allowed" }]);
    for headers in [
        &[("origin", "http://evil.example")][..],
        &[("origin", "null")][..],
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://evil.example"),
        ][..],
        // The browser's word wins over an Origin that looks right.
        &[("sec-fetch-site", "cross-site")][..],
    ] {
        let response = send(reqwest::Method::POST, headers).await.expect("sent");
        assert_errors(response, 403, refused.clone()).await;
    }
    for headers in [
        &[][..],
        &[
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://127.0.0.1:1"),
        ][..],
        &[("origin", "http://127.0.0.1:8080")][..],
    ] {
        let response = send(reqwest::Method::POST, headers).await.expect("sent");
        assert_eq!(response.status(), 200, "{headers:?}");
    }
    let read = http
        .get(format!("{base}/healthz"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("sent");
    assert_eq!(read.status(), 200);
}

/// Every response says not to sniff it; an API answer (JSON), unless its route says otherwise,
/// not to cache it.
#[tokio::test]
async fn responses_are_not_sniffed_or_cached() {
    let base = serve().await;
    for path in ["/healthz", "/api/nothing"] {
        let response = test_support::http::client()
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }
}

/// The client address: the peer, unless the peer is a trusted proxy; then the last address in
/// `X-Forwarded-For` that is not one (what the client itself wrote before it is ignored).
#[test]
fn the_client_address_is_taken_from_forwarded_for_only_behind_a_trusted_proxy() {
    let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().expect("a network")];
    let headers = |value: &str| {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().expect("a header value"));
        headers
    };
    let ip = |text: &str| text.parse::<std::net::IpAddr>().expect("an address");
    let address = common::http::client_address;
    // An untrusted peer is the client, whatever it claims.
    assert_eq!(
        address(ip("192.0.2.1"), &headers("203.0.113.5"), &trusted),
        ip("192.0.2.1")
    );
    // Behind the ingress: the hop the ingress saw, not what the client wrote first.
    assert_eq!(
        address(
            ip("10.1.2.3"),
            &headers("198.51.100.9, 203.0.113.5"),
            &trusted
        ),
        ip("203.0.113.5")
    );
    // Through two trusted proxies.
    assert_eq!(
        address(ip("10.1.2.3"), &headers("203.0.113.5, 10.9.9.9"), &trusted),
        ip("203.0.113.5")
    );
    // A trusted peer that forwards nothing (a probe) is itself.
    assert_eq!(
        address(ip("10.1.2.3"), &axum::http::HeaderMap::new(), &trusted),
        ip("10.1.2.3")
    );
}
