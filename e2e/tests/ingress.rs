//! What the ingress itself answers: requests nginx refuses before any service sees them get the
//! contract's error body with the right status, and no response announces nginx's version.

use e2e::{User, stack_url};
use reqwest::Method;
use serde_json::json;
use test_support::http::{assert_errors, client};

async fn send(
    method: Method,
    path: &str,
    cookie: Option<String>,
    body: Option<Vec<u8>>,
) -> reqwest::Response {
    let mut request = client().request(method, format!("{}{path}", stack_url()));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    request.send().await.expect("sent")
}

#[tokio::test]
async fn requests_nginx_refuses_get_the_error_body() {
    let bad_request = json!([{ "message": "Bad Request" }]);
    let nul = send(Method::GET, "/api/tickets/a%00b", None, None).await;
    assert_errors(nul, 400, bad_request.clone()).await;

    let cookie = format!("session={}", "a".repeat(20_000));
    let big_cookie = send(Method::GET, "/api/users/currentuser", Some(cookie), None).await;
    assert_errors(big_cookie, 400, bad_request).await;

    let body = vec![b'a'; 1_100_000];
    let big_body = send(Method::POST, "/api/tickets", None, Some(body)).await;
    assert_errors(
        big_body,
        413,
        json!([{ "message": "Request body too large (at most 1 MiB)" }]),
    )
    .await;

    let long = format!("/api/tickets/{}", "a".repeat(10_000));
    let long_url = send(Method::GET, &long, None, None).await;
    assert_errors(long_url, 414, json!([{ "message": "URL too long" }])).await;

    let internal = send(Method::GET, "/.errors/400.json", None, None).await;
    assert_errors(internal, 404, json!([{ "message": "Not Found" }])).await;
}

#[tokio::test]
async fn a_wrong_method_through_the_ingress_is_405_with_allow() {
    let user = User::sign_up().await;
    let response = user.delete("/api/users/currentuser").await;
    assert_eq!(response.headers()["allow"], "GET,HEAD");
    assert_errors(response, 405, json!([{ "message": "Method Not Allowed" }])).await;
}

#[tokio::test]
async fn no_response_names_the_servers_version() {
    for path in ["/api/users/currentuser", "/api/tickets/a%00b", "/"] {
        let response = send(Method::GET, path, None, None).await;
        let server = response
            .headers()
            .get("server")
            .map(|value| value.to_str().unwrap_or_default().to_owned());
        assert_eq!(server.as_deref(), Some("nginx"), "{path}");
    }
}
