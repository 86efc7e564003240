//! An offline stand-in for the slice of Stripe's HTTP API the payments service uses.
//!
//! The payments service talks to Stripe through the `async-stripe` client; pointing its
//! `STRIPE_API_BASE` here lets tests (and the local stack without a `STRIPE_KEY`) run the whole
//! purchase offline while still going through a real HTTP exchange in Stripe's wire format:
//!
//! - `POST /v1/charges` (form-encoded, as Stripe's v1 API) with `amount`, `currency` and `source`.
//!   The test tokens `tok_visa` (and `tok_visa_debit`, `tok_mastercard`, `tok_amex`) succeed
//!   (200, a `charge` object); `tok_chargeDeclined` is declined
//!   (402, `card_error` / `card_declined` / `generic_decline`, "Your card was declined."); any other
//!   token is unknown (400 `resource_missing` on `source`). Missing or malformed parameters get
//!   Stripe's `parameter_missing` / `parameter_invalid_integer` errors.
//! - `GET /v1/charges/{id}` returns a stored charge (404 `resource_missing` otherwise).
//! - `POST /v1/refunds` with `charge` (and optionally `amount`, `reason`, `metadata[…]`) refunds a
//!   succeeded charge in full or in part (200, a `refund` object; the charge then shows
//!   `refunded` and `amount_refunded`). A charge refunded in full already is 400
//!   `charge_already_refunded`; an unknown one 400 `resource_missing` on `charge`; a failed one
//!   400 `charge_not_refundable` (hypothetical wording, the codes are Stripe's).
//! - Every `/v1` request needs `Authorization: Bearer sk_…`; otherwise 401 with Stripe's
//!   `invalid_request_error` body, before anything else runs.
//! - `Idempotency-Key` is honoured as Stripe does for v1: the first response of an endpoint that
//!   began executing (success or card error) is stored under the key; the same key with the same
//!   method, path and parameters replays it byte for byte (header `Idempotent-Replayed: true`) and
//!   charges nothing; the same key with anything different is a 400 `idempotency_error`; a
//!   request arriving while another with its key is being executed is a 409
//!   `idempotency_key_in_use`, saved nowhere (retry it). [`StandInState::set_latency`] makes
//!   charges take time, so tests can make such requests overlap.
//! - `GET /__requests` lists every `/v1` request received (method, path, the headers that matter,
//!   the parsed form) as JSON, oldest first; `DELETE /__requests` forgets them. [`StandIn`] offers
//!   the same to in-process tests, plus [`StandIn::drop_next_responses`] to lose the next
//!   responses after the charge was made or replayed (the "network failed after Stripe charged"
//!   case). `GET /__charges` and `GET /__refunds` list every charge and refund made (what the
//!   fault-injection test audits money against).
//! - `GET /healthz` → `{"status":"ok"}`.
//!
//! State lives in memory: a restart forgets every charge and key, which is what tests want.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// The test token that always succeeds.
pub const TOKEN_OK: &str = "tok_visa";
/// Other cards that succeed, as in Stripe's test mode.
pub const TOKENS_OK: [&str; 4] = [TOKEN_OK, "tok_visa_debit", "tok_mastercard", "tok_amex"];
/// The test token whose charge is always declined.
pub const TOKEN_DECLINED: &str = "tok_chargeDeclined";
/// Stripe's message for a generic decline.
pub const DECLINED_MESSAGE: &str = "Your card was declined.";

/// Headers worth asserting on; the rest (user agent, lengths) are noise.
const RECORDED_HEADERS: [&str; 5] = [
    "authorization",
    "idempotency-key",
    "content-type",
    "stripe-version",
    "stripe-account",
];

/// One request as the stand-in received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Lower-cased names of the headers that matter (see the module docs), when present.
    pub headers: BTreeMap<String, String>,
    /// The form body, decoded; repeated keys keep the last value.
    pub form: BTreeMap<String, String>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.form.get(name).map(String::as_str)
    }
}

/// A response as stored for idempotent replays.
#[derive(Debug, Clone)]
struct Stored {
    fingerprint: (String, String, Vec<(String, String)>),
    status: StatusCode,
    body: Bytes,
}

#[derive(Default)]
struct Inner {
    requests: StdMutex<Vec<RecordedRequest>>,
    /// Charges by id, in creation order (both succeeded and failed ones, as Stripe keeps them).
    charges: StdMutex<Vec<Value>>,
    /// Refunds, in creation order.
    refunds: StdMutex<Vec<Value>>,
    /// One slot per idempotency key; the async lock serialises requests sharing a key.
    keys: StdMutex<HashMap<String, Arc<Mutex<Option<Stored>>>>>,
    /// How many upcoming charge responses to lose after the charge was made.
    drop_responses: AtomicUsize,
    /// How long a charge takes, in milliseconds (Stripe's latency; 0 by default).
    latency_ms: std::sync::atomic::AtomicU64,
}

/// The stand-in's shared state; cheap to clone.
#[derive(Clone, Default)]
pub struct StandInState {
    inner: Arc<Inner>,
}

impl StandInState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every `/v1` request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.requests).clone()
    }

    /// Every charge object created so far (succeeded and failed), oldest first.
    pub fn charges(&self) -> Vec<Value> {
        lock(&self.inner.charges).clone()
    }

    /// Every refund made so far, oldest first.
    pub fn refunds(&self) -> Vec<Value> {
        lock(&self.inner.refunds).clone()
    }

    /// The charges that succeeded: what a customer's card statement would show.
    pub fn succeeded_charges(&self) -> Vec<Value> {
        self.charges()
            .into_iter()
            .filter(|charge| charge["status"] == "succeeded")
            .collect()
    }

    /// Makes the next `n` charge requests run (the charge is made and stored under its
    /// idempotency key, or a stored response is replayed) but lose their response: the
    /// connection breaks mid-response.
    pub fn drop_next_responses(&self, n: usize) {
        self.inner.drop_responses.store(n, Ordering::SeqCst);
    }

    /// Makes every charge take `latency` while holding its idempotency key, as a real card
    /// network does, so that concurrent requests with one key overlap.
    pub fn set_latency(&self, latency: std::time::Duration) {
        let millis = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.inner.latency_ms.store(millis, Ordering::SeqCst);
    }

    pub fn clear_requests(&self) {
        lock(&self.inner.requests).clear();
    }
}

/// A poisoned lock only means another request panicked; the data is still usable.
fn lock<T>(mutex: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The stand-in's routes (the `/v1` ones behind [`api_layer`]; the `/__` ones are the tests').
pub fn router(state: StandInState) -> Router {
    let api = Router::new()
        .route("/v1/charges", post(create_charge))
        .route("/v1/charges/{id}", get(retrieve_charge))
        .route("/v1/refunds", post(create_refund))
        .route_layer(middleware::from_fn_with_state(state.clone(), api_layer));
    Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(json!({"status":"ok"})) }),
        )
        .route("/__requests", get(list_requests).delete(clear_requests))
        .route("/__charges", get(list_charges))
        .route("/__refunds", get(list_refunds))
        .merge(api)
        .fallback(unknown_route)
        .with_state(state)
}

/// The largest `/v1` body the stand-in reads (payments sends a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;

/// What Stripe does before any endpoint runs, on every `/v1` route: the request is recorded
/// (for `/__requests`), then authenticated (401 otherwise).
async fn api_layer(State(state): State<StandInState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return stripe_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "type": "invalid_request_error", "message": "Request body too large." }),
        );
    };
    record(&state, &parts.method, &parts.uri, &parts.headers, &body);
    if let Err(response) = authenticate(&parts.headers) {
        return response;
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// Serves the stand-in on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: StandInState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    common::http::serve(listener, router(state), shutdown).await
}

/// A stand-in running in the test's process on `127.0.0.1:<random port>`; stops when dropped.
pub struct StandIn {
    pub address: SocketAddr,
    pub state: StandInState,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl StandIn {
    pub async fn spawn() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the Stripe stand-in binds a port");
        let address = listener
            .local_addr()
            .expect("the Stripe stand-in has an address");
        let state = StandInState::new();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = state.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(error) = serve(listener, serving, shutdown).await {
                tracing::error!(%error, "the Stripe stand-in stopped");
            }
        });
        Self {
            address,
            state,
            _stop: stop,
        }
    }

    /// What to give the payments service as `STRIPE_API_BASE`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests()
    }

    /// The `POST /v1/charges` requests received, oldest first.
    pub fn charge_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|request| request.method == "POST" && request.path == "/v1/charges")
            .collect()
    }

    pub fn charges(&self) -> Vec<Value> {
        self.state.charges()
    }

    pub fn succeeded_charges(&self) -> Vec<Value> {
        self.state.succeeded_charges()
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.state.refunds()
    }

    /// The `POST /v1/refunds` requests received, oldest first.
    pub fn refund_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|request| request.method == "POST" && request.path == "/v1/refunds")
            .collect()
    }

    pub fn drop_next_responses(&self, n: usize) {
        self.state.drop_next_responses(n);
    }
}

/// Over HTTP, the secret key is shown as Stripe's dashboard shows one: its kind and its last four
/// characters (`Bearer sk_test_…ndin`), so whoever reaches the port does not get it. In-process
/// tests read the exact header through [`StandInState::requests`].
async fn list_requests(State(state): State<StandInState>) -> axum::Json<Vec<RecordedRequest>> {
    let mut requests = state.requests();
    for request in &mut requests {
        if let Some(authorization) = request.headers.get_mut("authorization") {
            *authorization = redact_key(authorization);
        }
    }
    axum::Json(requests)
}

/// `Bearer sk_test_abcdefgh` → `Bearer sk_test_…efgh`.
pub fn redact_key(authorization: &str) -> String {
    let (scheme, key) = authorization.split_once(' ').unwrap_or(("", authorization));
    let kind_end = key.rfind('_').map_or(0, |underscore| underscore + 1);
    let secret = &key[kind_end..];
    let tail_start = secret
        .char_indices()
        .rev()
        .nth(3)
        .map_or(secret.len(), |(index, _)| index);
    let redacted = format!("{}…{}", &key[..kind_end], &secret[tail_start..]);
    if scheme.is_empty() {
        redacted
    } else {
        format!("{scheme} {redacted}")
    }
}

async fn list_charges(State(state): State<StandInState>) -> axum::Json<Vec<Value>> {
    axum::Json(state.charges())
}

async fn list_refunds(State(state): State<StandInState>) -> axum::Json<Vec<Value>> {
    axum::Json(state.refunds())
}

async fn clear_requests(State(state): State<StandInState>) -> StatusCode {
    state.clear_requests();
    StatusCode::NO_CONTENT
}

async fn unknown_route(method: Method, uri: Uri) -> Response {
    stripe_error(
        StatusCode::NOT_FOUND,
        json!({
            "type": "invalid_request_error",
            "message": format!("Unrecognized request URL ({method}: {}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.", uri.path()),
        }),
    )
}

/// `{"error": {...}}` with the given status, as Stripe answers every failure.
fn stripe_error(status: StatusCode, error: Value) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

fn record(state: &StandInState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) {
    let recorded_headers = RECORDED_HEADERS
        .iter()
        .filter_map(|name| {
            headers
                .get(*name)
                .and_then(|value| value.to_str().ok())
                .map(|value| ((*name).to_owned(), value.to_owned()))
        })
        .collect();
    let form = form_urlencoded::parse(body).into_owned().collect();
    lock(&state.inner.requests).push(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: recorded_headers,
        form,
    });
}

/// Stripe's authentication layer: a secret key as a Bearer token, or 401 before anything runs.
#[allow(clippy::result_large_err)]
fn authenticate(headers: &HeaderMap) -> Result<(), Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(stripe_error(
            StatusCode::UNAUTHORIZED,
            json!({
                "type": "invalid_request_error",
                "message": "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
            }),
        ));
    };
    let key = value
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if key.starts_with("sk_") && key.len() > 3 {
        return Ok(());
    }
    let shown = key.get(key.len().saturating_sub(4)..).unwrap_or_default();
    Err(stripe_error(
        StatusCode::UNAUTHORIZED,
        json!({
            "type": "invalid_request_error",
            "message": format!("Invalid API Key provided: sk_****{shown}"),
        }),
    ))
}

async fn retrieve_charge(State(state): State<StandInState>, Path(id): Path<String>) -> Response {
    let found = state
        .charges()
        .into_iter()
        .find(|charge| charge["id"] == id.as_str());
    match found {
        Some(charge) => (StatusCode::OK, axum::Json(charge)).into_response(),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            json!({
                "type": "invalid_request_error",
                "code": "resource_missing",
                "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
                "param": "id",
                "message": format!("No such charge: '{id}'"),
            }),
        ),
    }
}

async fn create_charge(State(state): State<StandInState>, request: Request) -> Response {
    idempotent(&state, request, true, charge).await
}

async fn create_refund(State(state): State<StandInState>, request: Request) -> Response {
    idempotent(&state, request, false, refund).await
}

/// What runs a `POST` endpoint: (status, JSON body, whether the endpoint began executing).
type Endpoint = fn(&StandInState, &[(String, String)]) -> (StatusCode, Bytes, bool);

/// Runs `endpoint` under Stripe's v1 idempotency rules (see the module docs). `may_drop`: its
/// responses count towards [`StandInState::drop_next_responses`].
async fn idempotent(
    state: &StandInState,
    request: Request,
    may_drop: bool,
    endpoint: Endpoint,
) -> Response {
    let (parts, body) = request.into_parts();
    // `api_layer` has read the body already, within `MAX_BODY`.
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let headers = &parts.headers;
    let mut params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    params.sort();
    let fingerprint = (
        parts.method.to_string(),
        parts.uri.path().to_owned(),
        params,
    );

    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let Some(key) = key else {
        let (status, body, _) = endpoint(state, &fingerprint.2);
        return respond(state, status, body, false);
    };

    let slot = lock(&state.inner.keys)
        .entry(key.clone())
        .or_default()
        .clone();
    // As Stripe: a request whose key is being executed right now is refused, not queued, and
    // nothing is saved for it; the client retries it later and gets the saved response then.
    let Ok(mut slot) = slot.try_lock() else {
        return stripe_error(
            StatusCode::CONFLICT,
            json!({
                "type": "invalid_request_error",
                "code": "idempotency_key_in_use",
                "doc_url": "https://stripe.com/docs/error-codes/idempotency-key-in-use",
                "message": format!("There is currently another in-progress request using this Idempotency Key (that probably means you submitted twice, and the other request is still going through): {key}. Please try again later."),
            }),
        );
    };
    if let Some(stored) = slot.as_ref() {
        if stored.fingerprint != fingerprint {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                json!({
                    "type": "idempotency_error",
                    "message": format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."),
                }),
            );
        }
        let mut response = respond(state, stored.status, stored.body.clone(), may_drop);
        set_json_headers(&mut response, &key);
        response.headers_mut().insert(
            "idempotent-replayed",
            header::HeaderValue::from_static("true"),
        );
        return response;
    }
    let latency = state.inner.latency_ms.load(Ordering::SeqCst);
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let (status, body, began) = endpoint(state, &fingerprint.2);
    // As Stripe: only a request whose endpoint began executing is saved; a failed validation is not.
    if began {
        *slot = Some(Stored {
            fingerprint,
            status,
            body: body.clone(),
        });
    }
    let mut response = respond(state, status, body, may_drop);
    set_json_headers(&mut response, &key);
    response
}

fn set_json_headers(response: &mut Response, key: &str) {
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = header::HeaderValue::from_str(key) {
        response.headers_mut().insert("idempotency-key", value);
    }
}

/// The response, or — when a failure was asked for — headers followed by a broken body, which a
/// client sees as a connection lost before it could read the answer.
fn respond(state: &StandInState, status: StatusCode, body: Bytes, may_drop: bool) -> Response {
    let drop_it = may_drop
        && state
            .inner
            .drop_responses
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    if drop_it {
        let broken = futures::stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::other(
                "the stand-in dropped this response on purpose",
            ))
        });
        let mut response = Response::new(Body::from_stream(broken));
        *response.status_mut() = status;
        return response;
    }
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..24]
    )
}

/// Runs `POST /v1/charges`: (status, JSON body, whether the endpoint began executing).
fn charge(state: &StandInState, params: &[(String, String)]) -> (StatusCode, Bytes, bool) {
    let param = |name: &str| param(params, name);
    let invalid = |status: StatusCode, error: Value| {
        let body = json!({ "error": error }).to_string();
        (status, Bytes::from(body), false)
    };
    let Some(amount) = param("amount") else {
        return invalid(
            StatusCode::BAD_REQUEST,
            missing_param("amount", "Missing required param: amount."),
        );
    };
    let Ok(amount) = amount.parse::<i64>() else {
        return invalid(
            StatusCode::BAD_REQUEST,
            json!({
                "type": "invalid_request_error",
                "code": "parameter_invalid_integer",
                "doc_url": "https://stripe.com/docs/error-codes/parameter-invalid-integer",
                "param": "amount",
                "message": "Invalid integer: ".to_owned() + amount,
            }),
        );
    };
    let Some(currency) = param("currency") else {
        return invalid(
            StatusCode::BAD_REQUEST,
            missing_param("currency", "Missing required param: currency."),
        );
    };
    let currency = currency.to_ascii_lowercase();
    if amount < 50 {
        return invalid(
            StatusCode::BAD_REQUEST,
            json!({
                "type": "invalid_request_error",
                "code": "amount_too_small",
                "doc_url": "https://stripe.com/docs/error-codes/amount-too-small",
                "param": "amount",
                "message": format!("Amount must be at least $0.50 {currency}"),
            }),
        );
    }
    if amount > 99_999_999 {
        return invalid(
            StatusCode::BAD_REQUEST,
            json!({
                "type": "invalid_request_error",
                "code": "amount_too_large",
                "doc_url": "https://stripe.com/docs/error-codes/amount-too-large",
                "param": "amount",
                "message": format!("Amount must be no more than $999,999.99 {currency}"),
            }),
        );
    }
    let Some(source) = param("source") else {
        return invalid(
            StatusCode::BAD_REQUEST,
            json!({
                "type": "invalid_request_error",
                "message": "Must provide source or customer.",
            }),
        );
    };
    let declined = match source {
        good if TOKENS_OK.contains(&good) => false,
        TOKEN_DECLINED => true,
        other => {
            let body = json!({ "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
                "param": "source",
                "message": format!("No such token: '{other}'"),
            }});
            return (StatusCode::BAD_REQUEST, Bytes::from(body.to_string()), true);
        }
    };

    let metadata = metadata_of(params);
    let object = charge_object(amount, &currency, declined, param("description"), metadata);
    lock(&state.inner.charges).push(object.clone());
    if declined {
        let body = json!({ "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "generic_decline",
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "message": DECLINED_MESSAGE,
            "charge": object["id"],
        }});
        return (
            StatusCode::PAYMENT_REQUIRED,
            Bytes::from(body.to_string()),
            true,
        );
    }
    (StatusCode::OK, Bytes::from(object.to_string()), true)
}

/// Runs `POST /v1/refunds`: (status, JSON body, whether the endpoint began executing).
fn refund(state: &StandInState, params: &[(String, String)]) -> (StatusCode, Bytes, bool) {
    let param = |name: &str| param(params, name);
    let invalid = |error: Value| {
        let body = json!({ "error": error }).to_string();
        (StatusCode::BAD_REQUEST, Bytes::from(body), false)
    };
    let Some(charge_id) = param("charge") else {
        return invalid(json!({
            "type": "invalid_request_error",
            "message": "One of the following params should be provided for this request: payment_intent or charge.",
        }));
    };
    let mut charges = lock(&state.inner.charges);
    let Some(charge) = charges.iter_mut().find(|charge| charge["id"] == charge_id) else {
        return invalid(json!({
            "type": "invalid_request_error",
            "code": "resource_missing",
            "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
            "param": "charge",
            "message": format!("No such charge: '{charge_id}'"),
        }));
    };
    let captured = charge["amount_captured"].as_i64().unwrap_or(0);
    let refunded = charge["amount_refunded"].as_i64().unwrap_or(0);
    if charge["status"] != "succeeded" {
        return invalid(json!({
            "type": "invalid_request_error",
            "code": "charge_not_refundable",
            "message": format!("Charge {charge_id} has not succeeded and cannot be refunded."),
        }));
    }
    if refunded >= captured {
        return invalid(json!({
            "type": "invalid_request_error",
            "code": "charge_already_refunded",
            "doc_url": "https://stripe.com/docs/error-codes/charge-already-refunded",
            "message": format!("Charge {charge_id} has already been refunded."),
        }));
    }
    let amount = match param("amount").map(str::parse::<i64>) {
        None => captured - refunded,
        Some(Ok(amount)) if amount > 0 && amount <= captured - refunded => amount,
        Some(_) => {
            return invalid(json!({
                "type": "invalid_request_error",
                "param": "amount",
                "message": format!("Refund amount must be a positive integer no greater than the unrefunded amount of the charge, {}.", captured - refunded),
            }));
        }
    };
    charge["amount_refunded"] = json!(refunded + amount);
    charge["refunded"] = json!(refunded + amount == captured);
    let metadata = metadata_of(params);
    let created = now_seconds();
    let object = json!({
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": charge_id,
        "created": created,
        "currency": charge["currency"],
        "metadata": metadata,
        "payment_intent": null,
        "reason": param("reason"),
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null,
    });
    drop(charges);
    lock(&state.inner.refunds).push(object.clone());
    (StatusCode::OK, Bytes::from(object.to_string()), true)
}

/// The last value of form parameter `name`.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The `metadata[name]=value` parameters, as the object's `metadata` map.
fn metadata_of(params: &[(String, String)]) -> serde_json::Map<String, Value> {
    params
        .iter()
        .filter_map(|(key, value)| {
            key.strip_prefix("metadata[")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(|name| (name.to_owned(), Value::String(value.clone())))
        })
        .collect()
}

/// Unix seconds, as Stripe's `created`.
fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

fn missing_param(name: &str, message: &str) -> Value {
    json!({
        "type": "invalid_request_error",
        "code": "parameter_missing",
        "doc_url": "https://stripe.com/docs/error-codes/parameter-missing",
        "param": name,
        "message": message,
    })
}

/// A `charge` object as Stripe's API reference shows it (the fields a client may rely on).
fn charge_object(
    amount: i64,
    currency: &str,
    declined: bool,
    description: Option<&str>,
    metadata: serde_json::Map<String, Value>,
) -> Value {
    let created = now_seconds();
    let id = new_id("ch");
    let (status, outcome) = if declined {
        (
            "failed",
            json!({
                "network_status": "declined_by_network",
                "reason": "generic_decline",
                "risk_level": "normal",
                "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined",
            }),
        )
    } else {
        (
            "succeeded",
            json!({
                "network_status": "approved_by_network",
                "reason": null,
                "risk_level": "normal",
                "seller_message": "Payment complete.",
                "type": "authorized",
            }),
        )
    };
    json!({
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": if declined { 0 } else { amount },
        "amount_refunded": 0,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": if declined { Value::Null } else { Value::String(new_id("txn")) },
        "billing_details": { "address": null, "email": null, "name": null, "phone": null, "tax_id": null },
        "calculated_statement_descriptor": "TICKETING",
        "captured": !declined,
        "created": created,
        "currency": currency,
        "customer": null,
        "description": description,
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": if declined { Value::from("card_declined") } else { Value::Null },
        "failure_message": if declined { Value::from(DECLINED_MESSAGE) } else { Value::Null },
        "fraud_details": {},
        "livemode": false,
        "metadata": metadata,
        "on_behalf_of": null,
        "outcome": outcome,
        "paid": !declined,
        "payment_intent": null,
        "payment_method": new_id("card"),
        "receipt_email": null,
        "receipt_number": null,
        "receipt_url": null,
        "refunded": false,
        "review": null,
        "shipping": null,
        "source_transfer": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": status,
        "transfer_data": null,
        "transfer_group": null,
    })
}
