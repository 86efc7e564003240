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

    // Over nginx's default body buffer, under its limit: kept in memory, never a temp file its
    // workers may not be allowed to write (that was a 500, found by schemathesis).
    let email = format!("{}@a.co", "x".repeat(20_000));
    let body = serde_json::to_vec(&json!({ "email": email, "password": "pass" })).expect("JSON");
    let mid_body = send(Method::POST, "/api/users/signin", None, Some(body)).await;
    assert_errors(
        mid_body,
        400,
        json!([{ "message": "Email must be valid", "field": "email" }]),
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

/// nginx refuses TRACE itself: its 405 has the contract's body and the same `Allow` as the
/// service's own 405 for any other wrong method (PATCH) on that route.
#[tokio::test]
async fn a_method_nginx_refuses_itself_is_the_same_405_as_the_services() {
    let paths = [
        "/api/users/signup",
        "/api/users/signin",
        "/api/users/signout",
        "/api/users/currentuser",
        "/api/tickets",
        "/api/tickets/6b114408b40fd4473a690cdc",
        "/api/orders?limit=2",
        "/api/orders/6b114408b40fd4473a690cdc",
        "/api/payments",
        "/",
        "/auth/signup",
        "/auth/signin",
        "/auth/signout",
        "/tickets/new",
        "/tickets/6b114408b40fd4473a690cdc",
        "/orders",
        "/orders/6b114408b40fd4473a690cdc",
    ];
    for path in paths {
        let service = send(Method::PATCH, path, None, None).await;
        assert_eq!(service.status(), 405, "PATCH {path}");
        let allow = service.headers()["allow"].clone();
        let nginx = send(Method::TRACE, path, None, None).await;
        assert_eq!(nginx.headers().get("allow"), Some(&allow), "TRACE {path}");
        assert_errors(nginx, 405, json!([{ "message": "Method Not Allowed" }])).await;
    }
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

/// The ports of `/proc/net/tcp{,6}` sockets listening on anything but loopback.
fn listening_beyond_loopback() -> Vec<(String, u16)> {
    let mut open = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local address, state 0A = LISTEN
            if fields.len() < 4 || fields[3] != "0A" {
                continue;
            }
            let Some((address, port)) = fields[1].split_once(':') else {
                continue;
            };
            let port = u16::from_str_radix(port, 16).unwrap_or_default();
            let loopback = address == "0100007F" || address == "00000000000000000000000001000000";
            if !loopback {
                open.push((address.to_owned(), port));
            }
        }
    }
    open
}

/// Nothing of the stack but the ingress is for the browser, and the ingress listens on loopback
/// too: every port of the stack (`PORT_BASE`+1 … +25, the ingress) is bound to 127.0.0.1.
#[tokio::test]
async fn the_stack_listens_on_loopback_only_and_keeps_its_key_private() {
    stack_url();
    let base: u16 = std::env::var("PORT_BASE")
        .ok()
        .and_then(|base| base.parse().ok())
        .unwrap_or(13100);
    let ingress: u16 = std::env::var("INGRESS_PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(18080);
    let exposed: Vec<(String, u16)> = listening_beyond_loopback()
        .into_iter()
        .filter(|(_, port)| (base + 1..=base + 25).contains(port) || *port == ingress)
        .collect();
    assert_eq!(exposed, [], "ports of the stack open beyond loopback");

    let stack = std::env::var("STACK_NAME").unwrap_or_else(|_| "e2e".to_owned());
    let key = test_support::mongo::repo_root().join(format!(".stack/{stack}/jwt_key"));
    if let Ok(metadata) = std::fs::metadata(&key) {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            metadata.permissions().mode() & 0o777,
            0o600,
            "{}",
            key.display()
        );
    }
}

/// Eleven hundred connections stuck in their headers (a slow-loris) do not lock everyone else
/// out of the ingress: with them open, a request still gets its answer. (Connections that sent
/// nothing at all nginx closes itself when it runs short; these it must keep.)
#[tokio::test]
async fn eleven_hundred_idle_connections_do_not_lock_others_out() {
    use tokio::io::AsyncWriteExt as _;

    let url = reqwest::Url::parse(stack_url()).expect("a URL");
    let port = url.port().unwrap_or(80);
    let mut idle = Vec::new();
    for _ in 0..1_100 {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(mut stream) => {
                stream
                    .write_all(b"GET /api/users/currentuser HTTP/1.1\r\nHost: ticketing.dev\r\n")
                    .await
                    .expect("writes");
                idle.push(stream);
            }
            Err(error) => panic!("connection {} refused: {error}", idle.len() + 1),
        }
    }
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        send(Method::GET, "/api/users/currentuser", None, None),
    )
    .await
    .expect("answered while 1,100 connections idle");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.expect("json"),
        json!({ "currentUser": null })
    );
    drop(idle);
}
