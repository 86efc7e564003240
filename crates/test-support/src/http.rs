//! HTTP helpers shared by every service's black-box tests.

use std::time::Duration;

use reqwest::Response;
use reqwest::header::SET_COOKIE;
use serde_json::Value;

/// A client that does not follow redirects and keeps no cookies: tests pass cookies explicitly.
/// Like a browser, it takes `ticketing.localhost` (the local stack's URL) to be loopback, which
/// the system resolver does not.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(
            "ticketing.localhost",
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .build()
        .expect("http client builds")
}

/// Waits until `GET {base}/readyz` answers 200, failing the test after `deadline`.
pub async fn wait_ready(http: &reqwest::Client, base: &str, deadline: Duration) {
    let until = tokio::time::Instant::now() + deadline;
    loop {
        let ready = http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success());
        if ready {
            return;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "{base} was not ready within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first `Set-Cookie` header in full.
pub fn set_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get(SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// `session=<value>` from the response's `Set-Cookie`, ready for a `Cookie` header.
pub fn cookie_pair(response: &Response) -> Option<String> {
    set_cookie(response).and_then(|header| header.split(';').next().map(str::to_owned))
}

/// Asserts the status and the whole contract error body `{"errors": errors}`.
pub async fn assert_errors(response: Response, status: u16, errors: Value) {
    let actual_status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(
        (actual_status, body),
        (status, serde_json::json!({ "errors": errors }))
    );
}

/// Polls `check` until it yields `Some`, failing the test with `what` after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A service's HTTP API as its black-box tests drive it: one shape of request helper for every
/// service (`path`, then the session cookie if any, then the body), so a test reads the same
/// whichever service it is about.
#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// The API of the service listening on `address`.
    pub fn new(address: std::net::SocketAddr) -> Self {
        Self {
            base: format!("http://{address}"),
            http: client(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The client, for requests the helpers below do not shape.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Waits until the service answers `/readyz` with 200.
    pub async fn wait_ready(&self) {
        wait_ready(&self.http, &self.base, Duration::from_secs(20)).await;
    }

    /// `method path`, with `cookie` as the `Cookie` header and `body` as JSON when given.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(cookie) = cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Response {
        self.send(reqwest::Method::GET, path, cookie, None).await
    }

    pub async fn post_json(&self, path: &str, cookie: Option<&str>, body: &Value) -> Response {
        self.send(reqwest::Method::POST, path, cookie, Some(body))
            .await
    }

    pub async fn put_json(&self, path: &str, cookie: Option<&str>, body: &Value) -> Response {
        self.send(reqwest::Method::PUT, path, cookie, Some(body))
            .await
    }

    /// `GET /metrics`, which must answer 200 in Prometheus' text format.
    pub async fn metrics(&self) -> crate::metrics::Scrape {
        let response = self.get("/metrics", None).await;
        assert_eq!(response.status(), 200);
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        crate::metrics::Scrape(response.text().await.expect("a metrics page"))
    }

    pub async fn delete(&self, path: &str, cookie: Option<&str>) -> Response {
        self.send(reqwest::Method::DELETE, path, cookie, None).await
    }
}

/// Lets a test app with an `api: Api` field be used as its API (`app.get(…)`,
/// `app.post_json(…)`), the same way in every service's tests.
#[macro_export]
macro_rules! requests_through_api {
    ($app:ty) => {
        impl ::std::ops::Deref for $app {
            type Target = $crate::http::Api;

            fn deref(&self) -> &Self::Target {
                &self.api
            }
        }
    };
}
