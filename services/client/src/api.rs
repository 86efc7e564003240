//! Server-side data fetching through the ingress, as the browser.
//!
//! The original client's `build-client` sends its server-side requests to the ingress with the
//! browser's own headers, so the API sees the user's session and the ingress routes by the user's
//! host. [`Forwarded`] takes the two headers that matter (`Cookie`, `Host`) from the page request
//! and [`Api`] replays them on every call. Nothing else of the browser's request is forwarded: the
//! client must not become an open proxy for arbitrary headers.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use common::ErrorItem;
use serde::de::DeserializeOwned;

use crate::models::{CurrentUser, CurrentUserBody};

/// How long one API call may take before the page gives up and shows the error page.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The browser's `Cookie` and `Host`, to be replayed on the page's API calls (with the page's
/// trace).
#[derive(Debug, Clone, Default)]
pub struct Forwarded {
    pub cookie: Option<HeaderValue>,
    pub host: Option<HeaderValue>,
}

impl<S: Send + Sync> FromRequestParts<S> for Forwarded {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_headers(&parts.headers))
    }
}

impl Forwarded {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self {
            cookie: headers.get(header::COOKIE).cloned(),
            host: headers.get(header::HOST).cloned(),
        }
    }

    fn apply(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie.clone());
        }
        if let Some(host) = &self.host {
            request = request.header(header::HOST, host.clone());
        }
        // Not the browser's: the page's own server span, so the API calls are its children.
        if let Some(traceparent) = common::telemetry::traceparent() {
            request = request.header(common::telemetry::TRACEPARENT, traceparent);
        }
        request
    }
}

/// Why an API call produced no data.
#[derive(Debug)]
pub enum ApiError {
    /// The API answered with an error status and (usually) the contract's error list.
    Status {
        status: StatusCode,
        errors: Vec<ErrorItem>,
    },
    /// The ingress could not be reached, timed out, or answered something that is not the
    /// contract's JSON.
    Unavailable(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status { status, errors } => {
                let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
                write!(f, "API answered {status}: {}", messages.join("; "))
            }
            Self::Unavailable(cause) => write!(f, "API unavailable: {cause}"),
        }
    }
}

impl std::error::Error for ApiError {}

/// The ingress, reached the way the browser reaches it.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(ingress_url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            // A redirect from the API would be a misconfiguration; show it, do not chase it.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            base: ingress_url.trim_end_matches('/').to_owned(),
        })
    }

    /// `GET {path}` as the browser, decoded as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        from: &Forwarded,
        path: &str,
    ) -> Result<T, ApiError> {
        let request = from.apply(self.http.get(format!("{}{path}", self.base)));
        let response = request
            .send()
            .await
            .map_err(|error| ApiError::Unavailable(format!("GET {path}: {error}")))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| ApiError::Unavailable(format!("GET {path}: {error}")))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|error| {
                ApiError::Unavailable(format!("GET {path}: unexpected body: {error}"))
            });
        }
        Err(status_error(status, &bytes))
    }

    /// Who the browser's session belongs to (`None`: not signed in).
    pub async fn current_user(&self, from: &Forwarded) -> Result<Option<CurrentUser>, ApiError> {
        let body: CurrentUserBody = self.get(from, "/api/users/currentuser").await?;
        Ok(body.current_user)
    }

    /// `POST {path}` with an empty JSON object as the browser, returning the `Set-Cookie` headers
    /// of the API's answer, so the caller can hand them to the browser unchanged.
    pub async fn post_relay(
        &self,
        from: &Forwarded,
        path: &str,
    ) -> Result<Vec<HeaderValue>, ApiError> {
        let request = from
            .apply(self.http.post(format!("{}{path}", self.base)))
            .header(header::CONTENT_TYPE, "application/json")
            .body("{}");
        let response = request
            .send()
            .await
            .map_err(|error| ApiError::Unavailable(format!("POST {path}: {error}")))?;
        let status = response.status();
        let set_cookies = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .cloned()
            .collect();
        if status.is_success() {
            return Ok(set_cookies);
        }
        let bytes = response.bytes().await.unwrap_or_default();
        Err(status_error(status, &bytes))
    }
}

/// An error status with the contract's error list when the body is one. nginx's own error pages
/// and proxies in between may answer something else; those keep the status and lose the list.
fn status_error(status: StatusCode, body: &[u8]) -> ApiError {
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<ErrorItem>,
    }
    let errors = serde_json::from_slice::<Body>(body)
        .map(|body| body.errors)
        .unwrap_or_default();
    ApiError::Status { status, errors }
}
