//! Spawns the client on a random port in front of a stand-in ingress of the test's own.
//!
//! The stand-in is a tiny axum app that records every request it receives (method, path, and the
//! `Cookie` and `Host` headers) and answers with canned API JSON. Who is signed in is decided the
//! way the real API decides it, from the forwarded cookie: `session=<name>` is the user `<name>`,
//! so a page that forgot to forward the cookie renders the signed-out header and fails the test.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::service::Running;
use reqwest::header::{COOKIE, HOST};
use serde_json::{Value, json};
use test_support::http::Api;

pub const ALICE: &str = "session=alice";
pub const ALICE_ID: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
pub const TICKET_ID: &str = "5f0f5b1c2a7d3e0012345678";
pub const ORDER_ID: &str = "6a1b2c3d4e5f60718293a4b5";

/// One request the stand-in ingress received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub cookie: Option<String>,
    pub host: Option<String>,
}

#[derive(Clone)]
struct Canned {
    status: StatusCode,
    body: String,
    content_type: &'static str,
    set_cookie: Option<&'static str>,
}

#[derive(Clone, Default)]
pub struct StandIn {
    seen: Arc<Mutex<Vec<Seen>>>,
    canned: Arc<Mutex<HashMap<(Method, String), Canned>>>,
}

impl StandIn {
    /// Answers `method path` with `status` and the JSON `body`.
    pub fn respond(&self, method: Method, path: &str, status: u16, body: Value) {
        self.canned.lock().expect("lock").insert(
            (method, path.to_owned()),
            Canned {
                status: StatusCode::from_u16(status).expect("a status"),
                body: body.to_string(),
                content_type: "application/json",
                set_cookie: None,
            },
        );
    }

    /// Answers `method path` with a body that is not JSON (what nginx says when a service is down).
    pub fn respond_raw(&self, method: Method, path: &str, status: u16, body: &str) {
        self.canned.lock().expect("lock").insert(
            (method, path.to_owned()),
            Canned {
                status: StatusCode::from_u16(status).expect("a status"),
                body: body.to_owned(),
                content_type: "text/html",
                set_cookie: None,
            },
        );
    }

    pub fn respond_with_cookie(
        &self,
        method: Method,
        path: &str,
        body: Value,
        cookie: &'static str,
    ) {
        self.canned.lock().expect("lock").insert(
            (method, path.to_owned()),
            Canned {
                status: StatusCode::OK,
                body: body.to_string(),
                content_type: "application/json",
                set_cookie: Some(cookie),
            },
        );
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// The paths requested so far, as `METHOD path`.
    pub fn requests(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .map(|seen| format!("{} {}", seen.method, seen.path))
            .collect()
    }

    async fn serve(self) -> SocketAddr {
        let app = Router::new().fallback(answer).with_state(self);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let address = listener.local_addr().expect("has an address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        address
    }
}

async fn answer(State(stand_in): State<StandIn>, request: Request) -> Response {
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
            .map(str::to_owned)
    };
    let seen = Seen {
        method: request.method().to_string(),
        path: request
            .uri()
            .path_and_query()
            .map_or_else(String::new, |pq| pq.to_string()),
        cookie: header(header::COOKIE),
        host: header(header::HOST),
    };
    stand_in.seen.lock().expect("lock").push(seen.clone());
    let key = (request.method().clone(), seen.path.clone());
    if let Some(canned) = stand_in.canned.lock().expect("lock").get(&key).cloned() {
        let mut response = Response::builder()
            .status(canned.status)
            .header(header::CONTENT_TYPE, canned.content_type);
        if let Some(cookie) = canned.set_cookie {
            response = response.header(header::SET_COOKIE, cookie);
        }
        return response.body(Body::from(canned.body)).expect("a response");
    }
    if seen.path == "/api/users/currentuser" {
        let user = seen
            .cookie
            .as_deref()
            .and_then(|cookie| cookie.strip_prefix("session="))
            .map(|name| json!({ "id": ALICE_ID, "email": format!("{name}@test.com"), "iat": 1, "exp": 2 }));
        return axum::Json(json!({ "currentUser": user })).into_response();
    }
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "errors": [{ "message": "Not Found" }] })),
    )
        .into_response()
}

pub struct TestApp {
    pub api: Api,
    pub ingress: StandIn,
    /// The client, running as long as the test.
    _service: Running,
}

test_support::requests_through_api!(TestApp);

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(None).await
    }

    pub async fn spawn_with(stripe_publishable_key: Option<&str>) -> Self {
        let ingress = StandIn::default();
        let ingress_address = ingress.clone().serve().await;
        let service =
            spawn_client(format!("http://{ingress_address}"), stripe_publishable_key).await;
        Self {
            api: Api::new(service.address()),
            ingress,
            _service: service,
        }
    }

    /// `GET path` as a browser at `ticketing.dev`, with `cookie` if given.
    pub async fn browse(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self
            .http()
            .get(self.url(path))
            .header(HOST, "ticketing.dev");
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send().await.expect("request sent")
    }

    /// The status and HTML of `GET path`.
    pub async fn page(&self, path: &str, cookie: Option<&str>) -> (u16, String) {
        let response = self.browse(path, cookie).await;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(content_type, "text/html; charset=utf-8", "{path}");
        (status, response.text().await.expect("a body"))
    }
}

/// Starts the client against `ingress_url` and waits until it is ready.
pub async fn spawn_client(ingress_url: String, stripe_publishable_key: Option<&str>) -> Running {
    let config = client::Config {
        ingress_url,
        port: 0,
        stripe_publishable_key: stripe_publishable_key.map(str::to_owned),
    };
    let service = client::build(config, common::service::Tuning::default())
        .await
        .expect("client builds")
        .spawn()
        .expect("client runs");
    Api::new(service.address()).wait_ready().await;
    service
}

/// The header's links as `(label, href)`, in order.
pub fn nav_links(html: &str) -> Vec<(String, String)> {
    // Links as (label, href); the sign-out form's button as (label, "POST <action>").
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(r#"class="nav-link""#) {
        let (before, after) = (&rest[..at], &rest[at + r#"class="nav-link""#.len()..]);
        if before.ends_with("<a ") {
            let after = after.strip_prefix(r#" href=""#).expect("a link's href");
            let (href, after) = after.split_once("\">").expect("a closed href");
            let (label, _) = after.split_once("</a>").expect("a closed link");
            found.push((label.to_owned(), href.to_owned()));
        } else if before.ends_with("<button ") {
            let action = before
                .rsplit_once(r#"action=""#)
                .and_then(|(_, action)| action.split_once('"'))
                .map(|(action, _)| action)
                .expect("the button's form action");
            let (_, after) = after.split_once('>').expect("a closed tag");
            let (label, _) = after.split_once("</button>").expect("a closed button");
            found.push((label.to_owned(), format!("POST {action}")));
        }
        rest = after;
    }
    found
}

/// The text of the first element that starts with `open` (up to the matching `close`).
pub fn between<'a>(html: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = html.find(open)? + open.len();
    let end = html[start..].find(close)? + start;
    Some(&html[start..end])
}

pub fn signed_out_nav() -> Vec<(String, String)> {
    vec![
        ("Sign Up".to_owned(), "/auth/signup".to_owned()),
        ("Sign In".to_owned(), "/auth/signin".to_owned()),
    ]
}

pub fn signed_in_nav() -> Vec<(String, String)> {
    vec![
        ("Sell Ticket".to_owned(), "/tickets/new".to_owned()),
        ("My Orders".to_owned(), "/orders".to_owned()),
        ("Sign Out".to_owned(), "POST /auth/signout".to_owned()),
    ]
}

/// What every request of a page for Alice must carry to the ingress.
pub fn as_alice(method: &str, path: &str) -> Seen {
    Seen {
        method: method.to_owned(),
        path: path.to_owned(),
        cookie: Some(ALICE.to_owned()),
        host: Some("ticketing.dev".to_owned()),
    }
}

pub fn ticket(id: &str, title: &str, price: Value) -> Value {
    json!({ "id": id, "title": title, "price": price, "userId": ALICE_ID, "version": 0 })
}

pub fn order(status: &str, expires_at: &str) -> Value {
    json!({
        "id": ORDER_ID,
        "userId": ALICE_ID,
        "status": status,
        "expiresAt": expires_at,
        "version": 0,
        "ticket": { "id": TICKET_ID, "title": "concert", "price": 20, "version": 0 },
    })
}
