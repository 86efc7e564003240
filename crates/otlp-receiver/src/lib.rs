//! A small OTLP/HTTP trace receiver: what the local stack exports its traces to when no collector
//! of the operator's is configured, and what the trace test reads a purchase's trace from.
//!
//! It accepts what every OpenTelemetry SDK's OTLP/HTTP exporter sends by default —
//! `POST /v1/traces` with an `ExportTraceServiceRequest` in protobuf — keeps the last
//! [`CAPACITY`] spans in memory, and shows them as JSON:
//!
//! - `GET /traces` — the most recent traces, newest first: id, root span, service, span count;
//! - `GET /traces/{trace_id}` — every span of one trace, oldest first, each with its service,
//!   kind, parent, attributes and status (404 with the contract's error body if none).
//!
//! It is not a trace backend (no storage, no search, no UI); for that, point the services'
//! `OTEL_EXPORTER_OTLP_ENDPOINT` at a collector, Jaeger or Tempo, which take the same requests.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use common::AppError;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatus;
use prost::Message as _;
use serde::Serialize;

/// Spans kept; older ones are forgotten first.
pub const CAPACITY: usize = 50_000;

/// An export request may carry a whole batch (512 spans by default, far less than this).
const BODY_LIMIT: usize = 16 * 1024 * 1024;

const PROTOBUF: &str = "application/x-protobuf";

/// One received span, as `GET /traces/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpanRecord {
    pub trace_id: String,
    pub span_id: String,
    /// Absent for a trace's root span.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    pub name: String,
    /// `server`, `client`, `producer`, `consumer` or `internal`.
    pub kind: &'static str,
    /// The `service.name` of the process that sent it.
    pub service: String,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// `error` when the span says it failed, else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

/// The received spans, shared by the routes.
#[derive(Debug, Clone, Default)]
pub struct Spans(Arc<Mutex<VecDeque<SpanRecord>>>);

impl Spans {
    fn add(&self, spans: impl IntoIterator<Item = SpanRecord>) {
        let mut kept = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.extend(spans);
        let excess = kept.len().saturating_sub(CAPACITY);
        kept.drain(..excess);
    }

    /// The spans of `trace_id`, oldest first.
    pub fn trace(&self, trace_id: &str) -> Vec<SpanRecord> {
        let kept = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut spans: Vec<SpanRecord> = kept
            .iter()
            .filter(|span| span.trace_id == trace_id)
            .cloned()
            .collect();
        spans.sort_by_key(|span| span.start_unix_nano);
        spans
    }

    fn recent(&self, limit: usize) -> Vec<TraceSummary> {
        let kept = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut traces: HashMap<&str, TraceSummary> = HashMap::new();
        for span in kept.iter() {
            let summary = traces
                .entry(span.trace_id.as_str())
                .or_insert_with(|| TraceSummary {
                    trace_id: span.trace_id.clone(),
                    root: None,
                    spans: 0,
                    start_unix_nano: span.start_unix_nano,
                });
            summary.spans += 1;
            summary.start_unix_nano = summary.start_unix_nano.min(span.start_unix_nano);
            if span.parent_span_id.is_none() {
                summary.root = Some(format!("{}: {}", span.service, span.name));
            }
        }
        let mut traces: Vec<TraceSummary> = traces.into_values().collect();
        traces.sort_by_key(|trace| std::cmp::Reverse(trace.start_unix_nano));
        traces.truncate(limit);
        traces
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TraceSummary {
    trace_id: String,
    /// `service: span name` of its root span, if received (a trace continued from a caller that
    /// does not export here has none).
    root: Option<String>,
    spans: usize,
    start_unix_nano: u64,
}

pub fn router(spans: Spans) -> Router {
    let routes = Router::new()
        .route("/v1/traces", post(export))
        .route("/traces", get(recent))
        .route("/traces/{trace_id}", get(trace))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(spans);
    common::http::finish_router(routes, common::http::Readiness::new())
}

/// `POST /v1/traces`: OTLP/HTTP's export, protobuf only (the SDKs' default encoding).
async fn export(State(spans): State<Spans>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with(PROTOBUF) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            axum::Json(AppError::BadRequest(format!("expected {PROTOBUF}")).body()),
        )
            .into_response();
    }
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(request) => request,
        Err(error) => {
            return AppError::BadRequest(format!("not an ExportTraceServiceRequest: {error}"))
                .into_response();
        }
    };
    spans.add(records(request));
    (
        [(header::CONTENT_TYPE, PROTOBUF)],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
        .into_response()
}

async fn recent(State(spans): State<Spans>) -> Response {
    axum::Json(serde_json::json!({ "traces": spans.recent(50) })).into_response()
}

async fn trace(State(spans): State<Spans>, Path(trace_id): Path<String>) -> Response {
    let found = spans.trace(&trace_id.to_ascii_lowercase());
    if found.is_empty() {
        return AppError::NotFound.into_response();
    }
    axum::Json(serde_json::json!({ "traceId": trace_id, "spans": found })).into_response()
}

/// The spans of an export request, flattened, each with its resource's `service.name`.
fn records(request: ExportTraceServiceRequest) -> Vec<SpanRecord> {
    let mut records = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|resource| attributes(resource.attributes))
            .unwrap_or_default();
        let service = match resource.get("service.name") {
            Some(serde_json::Value::String(name)) => name.clone(),
            _ => "unknown".to_owned(),
        };
        for span in resource_spans
            .scope_spans
            .into_iter()
            .flat_map(|scope| scope.spans)
        {
            let failed = span
                .status
                .as_ref()
                .is_some_and(|status| status.code == OtlpStatus::Error as i32);
            records.push(SpanRecord {
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent_span_id: (!span.parent_span_id.is_empty())
                    .then(|| hex(&span.parent_span_id)),
                kind: kind(span.kind),
                name: span.name,
                service: service.clone(),
                start_unix_nano: span.start_time_unix_nano,
                end_unix_nano: span.end_time_unix_nano,
                attributes: attributes(span.attributes),
                status: failed.then_some("error"),
            });
        }
    }
    records
}

fn kind(kind: i32) -> &'static str {
    match SpanKind::try_from(kind) {
        Ok(SpanKind::Server) => "server",
        Ok(SpanKind::Client) => "client",
        Ok(SpanKind::Producer) => "producer",
        Ok(SpanKind::Consumer) => "consumer",
        _ => "internal",
    }
}

fn attributes(attributes: Vec<KeyValue>) -> BTreeMap<String, serde_json::Value> {
    attributes
        .into_iter()
        .map(|attribute| (attribute.key, value(attribute.value)))
        .collect()
}

fn value(any: Option<AnyValue>) -> serde_json::Value {
    match any.and_then(|any| any.value) {
        Some(any_value::Value::StringValue(text)) => text.into(),
        Some(any_value::Value::BoolValue(flag)) => flag.into(),
        Some(any_value::Value::IntValue(number)) => number.into(),
        Some(any_value::Value::DoubleValue(number)) => number.into(),
        Some(any_value::Value::ArrayValue(array)) => array
            .values
            .into_iter()
            .map(|item| value(Some(item)))
            .collect(),
        Some(any_value::Value::KvlistValue(list)) => {
            serde_json::to_value(attributes(list.values)).unwrap_or_default()
        }
        Some(any_value::Value::BytesValue(bytes)) => hex(&bytes).into(),
        // String tables are for profiles, not traces.
        Some(any_value::Value::StringValueStrindex(_)) | None => serde_json::Value::Null,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
