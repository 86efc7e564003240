//! The receiver takes OTLP/HTTP exports as the SDKs send them and shows each trace whole.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message as _;
use serde_json::{Value, json};

const TRACE: [u8; 16] = [0xab; 16];

async fn receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("has an address");
    let router = otlp_receiver::router(otlp_receiver::Spans::default());
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn span(id: u8, parent: Option<u8>, name: &str, kind: span::SpanKind, start: u64) -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: vec![id; 8],
        parent_span_id: parent.map(|parent| vec![parent; 8]).unwrap_or_default(),
        name: name.to_owned(),
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 10,
        ..Span::default()
    }
}

fn export(service: &str, spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", service)],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec()
}

async fn post(base: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/v1/traces"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("sent")
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{base}{path}")).await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn spans_from_several_services_are_shown_as_one_trace() {
    let base = receiver().await;
    let mut server = span(1, None, "POST /api/orders", span::SpanKind::Server, 100);
    server.attributes = vec![text("http.route", "/api/orders")];
    let mut consumer = span(
        3,
        Some(2),
        "process order:created",
        span::SpanKind::Consumer,
        300,
    );
    consumer.status = Some(Status {
        code: status::StatusCode::Error as i32,
        ..Status::default()
    });
    let orders = post(
        &base,
        "application/x-protobuf",
        export(
            "orders",
            vec![
                span(
                    2,
                    Some(1),
                    "publish order:created",
                    span::SpanKind::Producer,
                    200,
                ),
                server,
            ],
        ),
    )
    .await;
    assert_eq!(orders.status(), 200);
    assert_eq!(orders.headers()["content-type"], "application/x-protobuf");
    let tickets = post(
        &base,
        "application/x-protobuf",
        export("tickets", vec![consumer]),
    )
    .await;
    assert_eq!(tickets.status(), 200);

    let trace = "ab".repeat(16);
    let (status, body) = get(&base, &format!("/traces/{trace}")).await;
    assert_eq!(status, 200);
    let span =
        |id: &str, parent: Option<&str>, name: &str, kind: &str, service: &str, start: u64| {
            let mut span = json!({
                "traceId": trace, "spanId": id, "name": name, "kind": kind, "service": service,
                "startUnixNano": start, "endUnixNano": start + 10, "attributes": {},
            });
            if let Some(parent) = parent {
                span["parentSpanId"] = json!(parent);
            }
            span
        };
    let mut root = span(
        &"01".repeat(8),
        None,
        "POST /api/orders",
        "server",
        "orders",
        100,
    );
    root["attributes"] = json!({ "http.route": "/api/orders" });
    let mut process = span(
        &"03".repeat(8),
        Some(&"02".repeat(8)),
        "process order:created",
        "consumer",
        "tickets",
        300,
    );
    process["status"] = json!("error");
    assert_eq!(
        body,
        json!({
            "traceId": trace,
            "spans": [
                root,
                span(&"02".repeat(8), Some(&"01".repeat(8)), "publish order:created", "producer", "orders", 200),
                process,
            ],
        })
    );

    let (status, recent) = get(&base, "/traces").await;
    assert_eq!(status, 200);
    assert_eq!(
        recent,
        json!({ "traces": [{
            "traceId": trace, "root": "orders: POST /api/orders", "spans": 3, "startUnixNano": 100,
        }] })
    );
}

#[tokio::test]
async fn what_is_not_an_otlp_protobuf_export_is_refused_with_the_error_body() {
    let base = receiver().await;
    let json_export = post(&base, "application/json", b"{}".to_vec()).await;
    assert_eq!(json_export.status(), 415);
    assert_eq!(
        json_export.json::<Value>().await.expect("json"),
        json!({ "errors": [{ "message": "expected application/x-protobuf" }] })
    );
    let garbage = post(&base, "application/x-protobuf", vec![0xff, 0xff, 0xff]).await;
    assert_eq!(garbage.status(), 400);
    let body = garbage.json::<Value>().await.expect("json");
    let message = body["errors"][0]["message"].as_str().expect("a message");
    assert!(
        message.starts_with("not an ExportTraceServiceRequest"),
        "{body}"
    );

    let (status, body) = get(&base, &format!("/traces/{}", "cd".repeat(16))).await;
    assert_eq!(
        (status, body),
        (404, json!({ "errors": [{ "message": "Not Found" }] }))
    );
}
