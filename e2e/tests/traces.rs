//! One purchase is one trace: `POST /api/orders` through the outbox and JetStream into tickets,
//! expiration and payments, and on through the expiry (the stack's window is six seconds) back
//! into orders and tickets. Every hop is a span whose parent is the hop before it, read back from
//! the stack's OTLP receiver.

use std::time::Instant;

use e2e::{PROPAGATION, User, stack_url, traces_url};
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

/// Finds the span of `service` named `name` whose parent is `parent` (the span id).
fn child<'a>(
    spans: &'a [Value],
    parent: &str,
    service: &str,
    name: &str,
) -> Result<&'a Value, String> {
    spans
        .iter()
        .find(|span| {
            span["parentSpanId"] == parent && span["service"] == service && span["name"] == name
        })
        .ok_or_else(|| format!("no span {service}: {name} under {parent}"))
}

/// The spans the purchase must have made, each found as the child of the span it follows, or
/// what is missing.
fn follow(spans: &[Value], caller: &str) -> Result<Vec<Value>, String> {
    let request = spans
        .iter()
        .find(|span| {
            span["parentSpanId"] == caller
                && span["name"] == "POST /api/orders"
                && span["attributes"]["http.response.status_code"] == 201
        })
        .ok_or("no server span of the successful POST /api/orders")?;
    let id = |span: &Value| span["spanId"].as_str().unwrap_or_default().to_owned();
    let created = child(spans, &id(request), "orders", "publish order:created")?;
    let mut path = vec![request.clone(), created.clone()];
    for service in ["tickets", "payments"] {
        path.push(child(spans, &id(created), service, "process order:created")?.clone());
    }
    let reserved = child(spans, &id(&path[2]), "tickets", "publish ticket:updated")?;
    path.push(reserved.clone());
    path.push(child(spans, &id(reserved), "orders", "process ticket:updated")?.clone());
    // The expiry, six seconds on, in the same trace: the job kept it.
    let mut parent = id(created);
    for (service, name) in [
        ("expiration", "process order:created"),
        ("expiration", "publish expiration:complete"),
        ("payments", "process expiration:complete"),
        ("payments", "publish payment:expired"),
        ("orders", "process payment:expired"),
        ("orders", "publish order:cancelled"),
        ("tickets", "process order:cancelled"),
    ] {
        let span = child(spans, &parent, service, name)?;
        parent = id(span);
        path.push(span.clone());
    }
    Ok(path)
}

#[tokio::test]
async fn one_order_is_one_trace_through_the_outbox_jetstream_and_every_service() {
    let seller = User::sign_up().await;
    let buyer = User::sign_up().await;
    let ticket = seller.sell("e2e traced concert", json!(25)).await;
    let ticket_id = ticket["id"].as_str().expect("an id");

    // The test is the caller: its traceparent names the trace and the parent of the request.
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let caller = &uuid::Uuid::new_v4().simple().to_string()[..16];
    let traceparent = format!("00-{trace_id}-{caller}-01");
    let order: Value = test_support::http::eventually(
        "the orders service to know the ticket",
        PROPAGATION,
        || async {
            let response = buyer
                .http
                .post(format!("{}/api/orders", stack_url()))
                .header(COOKIE, buyer.cookie.as_deref().unwrap_or_default())
                .header("traceparent", &traceparent)
                .json(&json!({ "ticketId": ticket_id }))
                .send()
                .await
                .expect("sent");
            match response.status() {
                StatusCode::NOT_FOUND => None,
                StatusCode::CREATED => Some(response.json().await.expect("json")),
                other => panic!("ordering answered {other}"),
            }
        },
    )
    .await;
    assert_eq!(order["status"], "created");

    let http = test_support::http::client();
    let deadline = Instant::now() + PROPAGATION;
    let path = loop {
        let trace: Value = match http
            .get(format!("{}/traces/{trace_id}", traces_url()))
            .send()
            .await
        {
            Ok(response) if response.status() == StatusCode::OK => {
                response.json().await.expect("json")
            }
            _ => json!({ "spans": [] }),
        };
        let spans = trace["spans"].as_array().cloned().unwrap_or_default();
        match follow(&spans, caller) {
            Ok(path) => break path,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(missing) => panic!("{missing}; the trace holds {spans:#?}"),
        }
    };

    // Probes and scrapes are not traced (they would bury these).
    let recent: Value = http
        .get(format!("{}/traces", traces_url()))
        .send()
        .await
        .expect("the receiver answers")
        .json()
        .await
        .expect("json");
    let roots: Vec<&str> = recent["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .filter_map(|trace| trace["root"].as_str())
        .collect();
    assert!(
        roots.iter().all(|root| !root.ends_with("/metrics")
            && !root.ends_with("/healthz")
            && !root.ends_with("/readyz")),
        "{roots:#?}"
    );

    let request = &path[0];
    assert_eq!(request["kind"], "server");
    assert_eq!(request["service"], "orders");
    assert_eq!(request["attributes"]["http.route"], "/api/orders");
    assert_eq!(request["attributes"]["http.request.method"], "POST");
    for span in &path {
        assert_eq!(span["traceId"], trace_id.as_str(), "{span:#}");
        let name = span["name"].as_str().unwrap_or_default();
        if let Some(subject) = name.strip_prefix("publish ") {
            assert_eq!(span["kind"], "producer", "{span:#}");
            assert_eq!(span["attributes"]["messaging.system"], "nats", "{span:#}");
            assert_eq!(
                span["attributes"]["messaging.destination.name"], subject,
                "{span:#}"
            );
        }
        if let Some(subject) = name.strip_prefix("process ") {
            assert_eq!(span["kind"], "consumer", "{span:#}");
            assert_eq!(
                span["attributes"]["messaging.destination.name"], subject,
                "{span:#}"
            );
            let group = span["attributes"]["messaging.consumer.group.name"]
                .as_str()
                .unwrap_or_default();
            assert!(
                group.starts_with(span["service"].as_str().unwrap_or("?")),
                "{span:#}"
            );
        }
    }
}
