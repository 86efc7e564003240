//! Prometheus metrics: every service serves `GET /metrics` on its own port, beside `/healthz`
//! and `/readyz` (the ingress does not route it), in Prometheus' text format.
//!
//! Code records through the `metrics` facade (`counter!`, `gauge!`, `histogram!`) wherever the
//! thing happens; one recorder per process (`metrics-exporter-prometheus`, without a listener
//! of its own) holds the values and renders them on a scrape, after refreshing the process
//! metrics (`process_resident_memory_bytes`, `process_cpu_seconds_total`,
//! `process_open_fds`, …). The names, their labels and what moves them are listed in
//! docs/architecture.md, "Metrics"; dashboards and the alert rules in `infra/prometheus/`
//! rely on them.
//!
//! Labels are bounded sets: a route's pattern (never the raw path), a method, a status code, a
//! subject, a consumer, an outcome. Nothing a user sends becomes a label.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Request and handling durations: a millisecond to ten seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// How late an expiration job fires: its due time is the contract, so the interesting range is
/// tens of milliseconds to seconds.
const LATENESS_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];

struct Recorder {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

static RECORDER: OnceLock<Option<Recorder>> = OnceLock::new();

/// Installs the process's recorder, once (tests build several services in one process; they
/// share it). Returns `None` if another recorder was installed first, and then `/metrics`
/// answers an empty page rather than failing the service.
fn recorder() -> Option<&'static Recorder> {
    RECORDER
        .get_or_init(|| {
            // Overrides are tried `Full` matchers first, so lateness keeps its own buckets.
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("ticketing_expiration_lateness_seconds".to_owned()),
                    &LATENESS_BUCKETS,
                )
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Suffix("_seconds".to_owned()),
                        &LATENCY_BUCKETS,
                    )
                })
                .and_then(PrometheusBuilder::install_recorder);
            match handle {
                Ok(handle) => {
                    let process = metrics_process::Collector::default();
                    process.describe();
                    Some(Recorder { handle, process })
                }
                Err(error) => {
                    tracing::warn!(%error, "metrics recorder not installed; /metrics stays empty");
                    None
                }
            }
        })
        .as_ref()
}

/// Installs the recorder if no service of this process has yet, and starts its upkeep (which
/// bounds the memory histograms keep between scrapes). Called by every service's `build`
/// before it records anything.
pub fn install() {
    static UPKEEP: OnceLock<()> = OnceLock::new();
    if let Some(recorder) = recorder() {
        UPKEEP.get_or_init(|| {
            let handle = recorder.handle.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(5));
                loop {
                    every.tick().await;
                    handle.run_upkeep();
                }
            });
        });
    }
}

/// The page Prometheus scrapes.
pub fn render() -> String {
    recorder().map_or_else(String::new, |recorder| {
        recorder.process.collect();
        recorder.handle.render()
    })
}

/// `GET /metrics`, for the scraper that reaches the pod itself. A request that came through a
/// proxy (it carries `X-Forwarded-For` or `Forwarded`, which the ingress, a Gateway and the
/// local nginx all add) is a 404: the Ingress's and the HTTPRoute's catch-all `/` sends
/// `/metrics` to the client, and no route of either can answer 404 on its own for one path.
pub async fn handler(headers: axum::http::HeaderMap) -> Response {
    if headers.contains_key("x-forwarded-for") || headers.contains_key(header::FORWARDED) {
        return crate::error::AppError::NotFound.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(),
    )
        .into_response()
}

/// Middleware recording `http_server_request_duration_seconds` per matched route, method and
/// status. A request that matched no route is counted under `http_route="unmatched"`, so a
/// scanner probing random paths cannot grow the label set.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    metrics::histogram!(
        "http_server_request_duration_seconds",
        "http_route" => route,
        "http_request_method" => method,
        "http_response_status_code" => response.status().as_u16().to_string(),
    )
    .record(started.elapsed().as_secs_f64());
    response
}
