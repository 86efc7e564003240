//! What every HTTP service's router shares: health and readiness probes, the 404 fallback,
//! cookies, request tracing, and serving with graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use tokio::net::TcpListener;
use tower_cookies::CookieManagerLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::error::{method_not_allowed, not_found};

type Check = Arc<dyn Fn() -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// The dependencies `/readyz` checks. Kubernetes takes a pod out of its Service while any fails.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(&'static str, Check)>,
}

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a named check.
    pub fn check<F, Fut>(mut self, name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.checks
            .push((name, Arc::new(move || Box::pin(check()))));
        self
    }

    /// MongoDB answers a ping.
    pub fn mongo(self, database: mongodb::Database) -> Self {
        self.check("mongodb", move || {
            let database = database.clone();
            async move {
                database.run_command(bson::doc! { "ping": 1 }).await?;
                Ok(())
            }
        })
    }

    /// The NATS connection is up.
    pub fn nats(self, client: async_nats::Client) -> Self {
        self.check("nats", move || {
            let state = client.connection_state();
            async move {
                match state {
                    async_nats::connection::State::Connected => Ok(()),
                    other => Err(anyhow::anyhow!("nats connection is {other:?}")),
                }
            }
        })
    }

    /// Names of the checks that fail now.
    pub async fn failing(&self) -> Vec<&'static str> {
        let results =
            futures::future::join_all(self.checks.iter().map(|(name, check)| async move {
                match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                    Ok(Ok(())) => None,
                    Ok(Err(error)) => {
                        tracing::warn!(check = name, %error, "readiness check failed");
                        Some(*name)
                    }
                    Err(_) => {
                        tracing::warn!(check = name, "readiness check timed out");
                        Some(*name)
                    }
                }
            }))
            .await;
        results.into_iter().flatten().collect()
    }
}

async fn readyz(readiness: Readiness) -> Response {
    let failing = readiness.failing().await;
    if failing.is_empty() {
        (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "status": "ready" })),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "unavailable", "failing": failing })),
        )
            .into_response()
    }
}

/// Wraps a service's routes with the probes, the 404 and 405 fallbacks (the contract's body),
/// cookies and request tracing.
pub fn finish_router(routes: Router, readiness: Readiness) -> Router {
    routes
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(move || readyz(readiness.clone())))
        .route("/metrics", get(crate::metrics::handler))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(axum::middleware::from_fn(refuse_cross_site))
        // No response is to be sniffed into something else than it says.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(axum::middleware::map_response(no_store_for_json))
        .layer(axum::middleware::from_fn(crate::metrics::track_requests))
        .layer(CookieManagerLayer::new())
        .layer(
            // Every line a handler logs is inside this span, so it names the route (its
            // pattern: ids never reach the logs this way). It is also the request's server span
            // in its trace (see `crate::telemetry`), continuing the caller's `traceparent`. A
            // failure is logged once, by the error that caused it (`AppError`'s line), not a
            // second time here.
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(
                    |response: &Response, _latency: Duration, span: &tracing::Span| {
                        let status = response.status();
                        // As i64: the OpenTelemetry layer keeps signed integers as numbers.
                        span.record("http.response.status_code", i64::from(status.as_u16()));
                        if status.is_server_error() {
                            span.record("otel.status_code", "error");
                        }
                    },
                )
                .on_failure(()),
        )
}

/// An API answer (JSON) is personal and of the moment: no cache, shared or the browser's, keeps
/// it, unless its route said otherwise. (The client's HTML pages have their own policy.)
async fn no_store_for_json(mut response: Response) -> Response {
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if json && !response.headers().contains_key(header::CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The message of a refused cross-site request.
pub const CROSS_SITE: &str = "Cross-site requests are not allowed";

/// Refuses a state-changing request (any method but GET, HEAD, OPTIONS, TRACE) that a browser
/// says comes from another site: the session cookie would otherwise act for a page the user
/// never meant to use (CSRF). Browsers say so with `Sec-Fetch-Site: cross-site`, or, before
/// they sent that, with an `Origin` whose host is not the request's. A request without either
/// (curl, a server) is no browser's and passes; the cookie's `SameSite` and CORS preflights
/// remain the first defences, this one holds if either is ever loosened.
async fn refuse_cross_site(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !request.method().is_safe() && is_cross_site(request.headers()) {
        return crate::AppError::Forbidden(CROSS_SITE.to_owned()).into_response();
    }
    next.run(request).await
}

fn is_cross_site(headers: &axum::http::HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"cross-site";
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(without_port);
    // `Origin: null` (a sandboxed page, a redirect across sites) names no site of ours.
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, authority)| without_port(authority));
    origin_host.is_none() || origin_host != host
}

/// `host:port` → `host` (the ingress forwards `Host` without the port, browsers send `Origin`
/// with it).
fn without_port(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// The address of the client a request comes from: the connection's peer, or, when the peer is a
/// trusted proxy (the ingress), the last address in `X-Forwarded-For` that is not one — the one
/// the nearest untrusted hop connected from, which no client can forge (nginx appends the address
/// it saw). Trusted proxies are `TRUSTED_PROXIES`, networks separated by commas (default
/// `127.0.0.1/32,::1/128`: the local stack's ingress; in Kubernetes, the ingress pods' network).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub std::net::IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
        Ok(Self(client_address(
            peer,
            &parts.headers,
            trusted_proxies(),
        )))
    }
}

fn trusted_proxies() -> &'static [ipnet::IpNet] {
    static TRUSTED: std::sync::OnceLock<Vec<ipnet::IpNet>> = std::sync::OnceLock::new();
    TRUSTED.get_or_init(|| {
        let configured =
            std::env::var("TRUSTED_PROXIES").unwrap_or_else(|_| "127.0.0.1/32,::1/128".to_owned());
        configured
            .split(',')
            .map(str::trim)
            .filter(|network| !network.is_empty())
            .filter_map(|network| {
                network
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| network.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .inspect_err(|_| {
                        tracing::error!(network, "TRUSTED_PROXIES: not a network; ignored")
                    })
                    .ok()
            })
            .collect()
    })
}

/// [`ClientAddress`]'s rule, for a peer and the request's headers.
pub fn client_address(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[ipnet::IpNet],
) -> std::net::IpAddr {
    let is_trusted =
        |address: &std::net::IpAddr| trusted.iter().any(|network| network.contains(address));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|hop| !is_trusted(hop))
        .unwrap_or(peer)
}

/// Routes that are not traced: probes and scrapes, every few seconds from every kubelet and
/// Prometheus, would bury the traces of users' requests.
const UNTRACED: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The server span of one request, named as OpenTelemetry's HTTP conventions say: method and
/// route pattern.
fn request_span(request: &axum::extract::Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |path| path.as_str());
    if UNTRACED.contains(&route) {
        return tracing::Span::none();
    }
    let method = request.method().as_str();
    let span = tracing::info_span!(
        "request",
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let traceparent = request
        .headers()
        .get(crate::telemetry::TRACEPARENT)
        .and_then(|value| value.to_str().ok());
    crate::telemetry::set_parent(&span, traceparent);
    span
}

/// Binds `port` (0 picks a free one) on the address `BIND` names: every interface (`0.0.0.0`,
/// the default, what a container needs) or one of them (the local stack binds `127.0.0.1`, so
/// nothing of a developer's fleet is reachable from the network but the ingress).
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    let address = crate::config::bind_from_env().map_err(|error| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, error.to_string())
    })?;
    TcpListener::bind((address, port)).await
}

/// How long a connection may take to send a request's headers — counted from when the server
/// starts waiting for them, so it also closes a keep-alive connection idle that long. Without
/// it a client that opens connections and never finishes a request holds them forever. Longer
/// than the local ingress keeps idle upstream connections (nginx: 20 s), so the ingress, not the
/// service, closes those, and no request races the close.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves HTTP/1.1 until `shutdown` resolves, then lets in-flight requests finish. As
/// `axum::serve`, plus [`HEADER_READ_TIMEOUT`] (hyper's, which needs the timer `axum::serve` does
/// not give it).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_timeout(listener, router, shutdown, HEADER_READ_TIMEOUT).await
}

/// [`serve`] with another header-read timeout (tests shorten it).
pub async fn serve_with_timeout(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    header_read_timeout: Duration,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: pause rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The peer's address, for `ConnectInfo` (and so `ClientAddress`), as axum's own
        // `into_make_service_with_connect_info` gives it.
        let service = tower::ServiceExt::map_request(
            router.clone(),
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            },
        );
        let service = hyper_util::service::TowerToHyperService::new(service);
        let connection = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
    // No new connections; open ones finish the request in hand and close.
    drop(listener);
    connections.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes sends before killing a pod).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received, draining");
}
