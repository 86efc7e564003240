//! Reaching the local stack for end-to-end tests.
//!
//! `scripts/test.sh` starts a stack of its own (`STACK_NAME=e2e`, its own ports, a short
//! expiration window) and exports `STACK_URL`. Run alone (`cargo nextest run -p e2e`), the tests
//! start that same stack themselves; `scripts/stack.sh down` with `STACK_NAME=e2e` stops it.

use std::process::Command;
use std::sync::OnceLock;

use reqwest::header::COOKIE;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

/// The ports the e2e stack uses when the tests start it themselves.
const E2E_ENV: [(&str, &str); 5] = [
    ("STACK_NAME", "e2e"),
    ("PORT_BASE", "13100"),
    ("INGRESS_PORT", "18080"),
    ("EXPIRATION_WINDOW_SECONDS", "6"),
    ("RUST_LOG", "info"),
];

/// The ingress URL of the stack under test.
pub fn stack_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("STACK_URL") {
            return url.trim_end_matches('/').to_owned();
        }
        let script = test_support::mongo::repo_root().join("scripts/stack.sh");
        let output = Command::new("bash")
            .arg(script)
            .args(["up", "--detach"])
            .envs(E2E_ENV)
            .output()
            .expect("scripts/stack.sh runs");
        assert!(
            output.status.success(),
            "scripts/stack.sh up --detach failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .expect("stack.sh prints its URL")
            .trim()
            .to_owned()
    })
}

/// The stack's `PORT_BASE` (its servers listen at fixed offsets from it).
fn port_base() -> u16 {
    stack_url();
    std::env::var("PORT_BASE")
        .ok()
        .and_then(|base| base.parse().ok())
        .unwrap_or(13100)
}

/// The stack's Prometheus (`PORT_BASE` + 24).
pub fn prometheus_url() -> String {
    format!("http://127.0.0.1:{}", port_base() + 24)
}

/// The stack's OTLP trace receiver (`PORT_BASE` + 25), where its services export their spans.
pub fn traces_url() -> String {
    format!("http://127.0.0.1:{}", port_base() + 25)
}

/// A client of the stack's NATS server (`PORT_BASE` + 22), to read the events in its stream.
pub async fn stack_nats() -> async_nats::Client {
    async_nats::connect(format!("nats://127.0.0.1:{}", port_base() + 22))
        .await
        .expect("the stack's nats-server answers")
}

/// How long an event may take to cross two or three services: generous, as the stack may be
/// busy.
pub const PROPAGATION: std::time::Duration = std::time::Duration::from_secs(30);

/// A browser-like user: keeps the session cookie it is given, sends it back.
pub struct User {
    pub http: reqwest::Client,
    pub cookie: Option<String>,
    pub id: String,
    pub email: String,
}

impl User {
    /// Signs up a fresh user through the ingress.
    pub async fn sign_up() -> Self {
        let http = test_support::http::client();
        let email = format!("{}@e2e.test", uuid::Uuid::new_v4().simple());
        let response = http
            .post(format!("{}/api/users/signup", stack_url()))
            .json(&json!({ "email": email, "password": "password" }))
            .send()
            .await
            .expect("signup sent");
        assert_eq!(response.status(), StatusCode::CREATED);
        let cookie = test_support::http::cookie_pair(&response);
        let body: Value = response.json().await.expect("json");
        Self {
            http,
            cookie,
            id: body["id"].as_str().expect("id").to_owned(),
            email,
        }
    }

    /// Lists a ticket (`POST /api/tickets`, which must answer 201) and returns its JSON.
    pub async fn sell(&self, title: &str, price: Value) -> Value {
        let response = self
            .post("/api/tickets", &json!({ "title": title, "price": price }))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("ticket json")
    }

    /// Orders the ticket once the orders service has heard of it through `ticket:created`
    /// (until then it answers 404), and returns the order's JSON.
    pub async fn order(&self, ticket_id: &str) -> Value {
        test_support::http::eventually(
            "the orders service to know the ticket",
            PROPAGATION,
            || async move {
                let response = self
                    .post("/api/orders", &json!({ "ticketId": ticket_id }))
                    .await;
                match response.status() {
                    StatusCode::NOT_FOUND => None,
                    StatusCode::CREATED => Some(response.json().await.expect("order json")),
                    other => panic!(
                        "ordering answered {other}: {}",
                        response.text().await.unwrap_or_default()
                    ),
                }
            },
        )
        .await
    }

    /// `GET /api/users/currentuser`'s body.
    pub async fn current_user(&self) -> Value {
        let response = self.get("/api/users/currentuser").await;
        response.json().await.expect("currentuser json")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.request(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.request(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(reqwest::Method::DELETE, path, None).await
    }

    async fn request(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Response {
        let mut request = self.http.request(method, format!("{}{path}", stack_url()));
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request sent")
    }
}
