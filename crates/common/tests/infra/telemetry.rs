//! Traces: a request continues its caller's trace, an event carries the trace that staged it to
//! its handler (however late the relay publishes it), and JSON log lines say which trace and span
//! they were written in.

use std::sync::{Arc, Mutex};

use axum::Router;
use bson::doc;
use common::events::{QueueGroup, TicketCreated};
use common::outbox::{Outbox, OutboxOptions};
use common::telemetry::Settings;
use serde_json::{Value, json};
use test_support::http::eventually;
use test_support::mongo::TestDb;
use test_support::nats::TestNats;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::helpers::{Captured, DEADLINE, connect, quick_options, serve_routes, ticket_created};

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

const JSON_LOGS: Settings = Settings {
    json: true,
    export: false,
};

/// `00-<trace id>-<span id>-<flags>` → (trace id, span id).
fn ids(traceparent: &str) -> (String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    (parts[1].to_owned(), parts[2].to_owned())
}

#[tokio::test]
async fn json_lines_carry_the_trace_and_span_ids_of_their_span() {
    let captured = Captured::default();
    let _logging = captured.logs(JSON_LOGS);

    let span = tracing::info_span!("work");
    common::telemetry::set_parent(&span, Some(CALLER));
    span.in_scope(|| tracing::info!(answer = 42, "inside"));
    tracing::info!("outside");

    let traceparent = common::telemetry::traceparent_of(&span).expect("the span is traced");
    let (trace_id, span_id) = ids(&traceparent);
    assert_eq!(trace_id, TRACE_ID, "the caller's trace");
    assert_ne!(span_id, "b7ad6b7169203331", "a span of its own");
    let lines = captured.json_lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(
        lines[0]["fields"],
        json!({ "message": "inside", "answer": 42 })
    );
    assert_eq!(lines[0]["span"]["name"], "work");
    assert_eq!(lines[0]["trace_id"], TRACE_ID);
    assert_eq!(lines[0]["span_id"], span_id.as_str());
    assert_eq!(lines[1]["fields"], json!({ "message": "outside" }));
    assert_eq!(lines[1].get("trace_id"), None, "{}", lines[1]);
}

#[tokio::test]
async fn without_json_logs_or_an_endpoint_nothing_is_traced() {
    let captured = Captured::default();
    let _logging = captured.logs(Settings {
        json: false,
        export: false,
    });
    let span = tracing::info_span!("work");
    common::telemetry::set_parent(&span, Some(CALLER));
    assert_eq!(common::telemetry::traceparent_of(&span), None);
}

#[tokio::test]
async fn a_request_is_a_server_span_continuing_its_callers_traceparent() {
    let captured = Captured::default();
    let _logging = captured.logs(JSON_LOGS);
    let seen = Arc::new(Mutex::new(None));
    let recorded = seen.clone();
    let routes = Router::new().route(
        "/api/things/{id}",
        axum::routing::get(move || async move {
            *recorded.lock().expect("not poisoned") = common::telemetry::traceparent();
            tracing::info!("handling");
            "ok"
        }),
    );
    let base = serve_routes(routes).await;
    let response = test_support::http::client()
        .get(format!("{base}/api/things/5f0f5b1c2a7d3e0012345678"))
        .header("traceparent", CALLER)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);

    let traceparent = seen.lock().expect("not poisoned").clone().expect("traced");
    let (trace_id, span_id) = ids(&traceparent);
    assert_eq!(trace_id, TRACE_ID);
    let lines = captured.json_lines();
    let handling: Vec<&Value> = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "handling")
        .collect();
    assert_eq!(handling.len(), 1, "{lines:#?}");
    assert_eq!(handling[0]["trace_id"], TRACE_ID);
    assert_eq!(handling[0]["span_id"], span_id.as_str());
    assert_eq!(
        handling[0]["span"],
        json!({
            "name": "request",
            "http.request.method": "GET",
            "http.route": "/api/things/{id}",
            "otel.kind": "server",
            "otel.name": "GET /api/things/{id}",
        })
    );
}

/// The fast path is off, as if the process had died after the commit: the relay publishes the
/// event later, from no request at all, and still its handler runs in the request's trace.
#[tokio::test]
async fn an_event_relayed_later_is_handled_in_the_trace_that_staged_it() {
    let _logging = Captured::default().logs(JSON_LOGS);
    let nats = TestNats::start().await;
    let db = TestDb::new().await;
    let bus = connect(&nats).await;
    let outbox =
        Outbox::new(db.client.clone(), &db.db, bus.publisher()).with_options(OutboxOptions {
            fast_path: false,
            relay_grace: std::time::Duration::ZERO,
            relay_interval: std::time::Duration::from_millis(50),
            ..OutboxOptions::default()
        });
    let event = ticket_created("traced");

    let request = tracing::info_span!("request");
    common::telemetry::set_parent(&request, Some(CALLER));
    let staged_in = common::telemetry::traceparent_of(&request).expect("traced");
    async { common::transaction!(outbox, |tx| { tx.publish(&event).await }) }
        .instrument(request)
        .await
        .expect("commits");
    let entry = outbox
        .collection()
        .find_one(doc! {})
        .await
        .expect("reads")
        .expect("the entry");
    assert_eq!(entry.traceparent.as_deref(), Some(staged_in.as_str()));

    let shutdown = CancellationToken::new();
    let handled = Arc::new(Mutex::new(Vec::new()));
    let mut consumers = bus
        .consumers(QueueGroup::new("traced-service"), shutdown.clone())
        .with_options(quick_options());
    consumers
        .listen(handled.clone(), |_: TicketCreated, handled| async move {
            let traceparent = common::telemetry::traceparent();
            handled.lock().expect("not poisoned").push(traceparent);
            Ok(())
        })
        .await
        .expect("listens");
    let relay = outbox.spawn_relay(shutdown.clone());

    let traceparents = eventually("the event to be handled", DEADLINE, || async {
        let handled = handled.lock().expect("not poisoned").clone();
        (!handled.is_empty()).then_some(handled)
    })
    .await;
    let (trace_id, span_id) = ids(traceparents[0].as_deref().expect("traced"));
    assert_eq!(trace_id, TRACE_ID, "the request's trace");
    assert_ne!(span_id, ids(&staged_in).1, "the handler's own span");
    let stored = nats.published("ticket:created").await;
    assert_eq!(stored.len(), 1);

    shutdown.cancel();
    relay.await.expect("relay stops");
    consumers.join().await;
    drop(db);
}

/// One event is one line in the text logs, whatever its values hold: CR/LF and other control
/// characters in user input are written escaped, so they cannot forge a line.
#[tokio::test]
async fn text_lines_escape_control_characters_so_input_cannot_forge_a_line() {
    let captured = Captured::default();
    let _logging = captured.logs(Settings {
        json: false,
        export: false,
    });
    let input = "tok\r\n2026-12-02T00:00:00Z ERROR payments: forged\u{1b}[31m";
    tracing::info!(note = %input, quoted = input, "charge refused: {input}");

    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    let escaped = r"tok\r\n2026-12-02T00:00:00Z ERROR payments: forged\u{1b}[31m";
    assert!(
        line.contains(&format!("charge refused: {escaped}")),
        "{line}"
    );
    assert!(line.contains(&format!("note={escaped}")), "{line}");
    assert!(line.contains(r#"quoted="tok\r\n"#), "{line}");
    assert!(!line.contains('\u{1b}'), "{line}");
}
