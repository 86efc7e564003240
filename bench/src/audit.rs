//! After a run: was every event published exactly once, did every replica end up equal to its
//! owner, and how late did expiration fire?
//!
//! The audit waits until the stack is quiet (every durable consumer of the `ticketing` stream has
//! nothing pending or unacknowledged, and every order due to expire has), then reads the whole
//! stream with an ordered consumer and the services' databases read-only, and compares:
//!
//! - one `ticket:created` per ticket, one `ticket:updated` per version step (Σ version);
//! - orders' ticket replica: same tickets, same versions; payments' order replica likewise;
//! - one `order:created` per order, one `order:cancelled` per cancelled order, one
//!   `payment:created` per payment and per completed order;
//! - no event body twice (a duplicate that slipped past `Nats-Msg-Id`);
//! - expiration lateness: the stream's timestamp of `expiration:complete` minus the order's
//!   `expiresAt` from its `order:created`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use bson::{Document, doc};
use futures::{StreamExt as _, TryStreamExt as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::load::{Summary, percentile};
use crate::settings::Settings;

const STREAM: &str = "ticketing";

#[derive(Debug, Serialize, Default)]
pub struct AuditReport {
    pub date: String,
    pub events: HashMap<String, usize>,
    pub duplicate_events: HashMap<String, usize>,
    pub documents: HashMap<String, u64>,
    /// One line per comparison, `ok` or what differs.
    pub checks: Vec<Check>,
    pub expiration_lateness: Option<Summary>,
    /// Orders due before the audit that had not expired when it gave up waiting.
    pub overdue_orders: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Check {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let mongo = mongodb::Client::with_uri_str(settings.mongo_uri()).await?;
    let nats = settings.nats().await?;
    let jetstream = jetstream::new(nats);
    let mut report = AuditReport {
        date: chrono::Utc::now().to_rfc3339(),
        ..AuditReport::default()
    };
    report.overdue_orders = wait_for_expiries(&mongo).await?;
    report.checks.push(Check {
        what: "every due order expired".to_owned(),
        ok: report.overdue_orders == 0,
        detail: format!(
            "{} open orders more than 2 s past expiresAt",
            report.overdue_orders
        ),
    });
    quiesce(&jetstream, Duration::from_secs(120)).await?;
    let events = read_stream(&jetstream).await?;
    compare(&mongo, &events, &mut report).await?;
    for check in &report.checks {
        eprintln!(
            "[bench] audit {}: {} {}",
            if check.ok { "ok  " } else { "FAIL" },
            check.what,
            check.detail
        );
    }
    let name = std::env::var("AUDIT_NAME").unwrap_or_else(|_| "audit".to_owned());
    settings.write_json(&name, &report)?;
    Ok(())
}

/// Waits until every durable consumer of the stream has handled everything (nothing pending,
/// nothing awaiting an ack) twice in a row 200 ms apart, and tells when the first of those two
/// looks was taken: when the fleet had caught up, to within 200 ms.
pub async fn quiesce(
    jetstream: &jetstream::Context,
    limit: Duration,
) -> anyhow::Result<tokio::time::Instant> {
    let stream = jetstream
        .get_stream(STREAM)
        .await
        .context("the ticketing stream")?;
    let deadline = tokio::time::Instant::now() + limit;
    let mut quiet_in_a_row = 0;
    let mut quiet_since = tokio::time::Instant::now();
    while quiet_in_a_row < 2 {
        let looked = tokio::time::Instant::now();
        let busy: Vec<String> = stream
            .consumers()
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            // The services' durable consumers; not an ordered reader of our own.
            .filter(|info| info.config.durable_name.is_some())
            .filter(|info| info.num_pending > 0 || info.num_ack_pending > 0)
            .map(|info| {
                format!(
                    "{} ({} pending, {} unacked)",
                    info.name, info.num_pending, info.num_ack_pending
                )
            })
            .collect();
        quiet_in_a_row = if busy.is_empty() {
            if quiet_in_a_row == 0 {
                quiet_since = looked;
            }
            quiet_in_a_row + 1
        } else {
            0
        };
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "the stack did not settle within {limit:?}: {}",
                busy.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(quiet_since)
}

/// Waits until every open order due within the next minute has expired (at most 90 s); how many
/// open orders were more than 2 s overdue when it stopped.
pub async fn wait_for_expiries(mongo: &mongodb::Client) -> anyhow::Result<u64> {
    let orders = mongo.database("orders").collection::<Document>("orders");
    let give_up = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let open: Vec<i64> = orders
            .find(doc! { "status": { "$in": ["created", "awaiting:payment"] } })
            .projection(doc! { "expiresAt": 1 })
            .await?
            .try_collect::<Vec<_>>()
            .await?
            .iter()
            .filter_map(expires_at_millis)
            .collect();
        let now = chrono::Utc::now().timestamp_millis();
        let overdue = open.iter().filter(|&&at| at < now - 2000).count() as u64;
        let due_soon = open.iter().any(|&at| at <= now + 60_000);
        if !due_soon || tokio::time::Instant::now() >= give_up {
            return Ok(overdue);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn expires_at_millis(order: &Document) -> Option<i64> {
    match order.get("expiresAt")? {
        bson::Bson::DateTime(at) => Some(at.timestamp_millis()),
        bson::Bson::String(text) => chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|at| at.timestamp_millis()),
        _ => None,
    }
}

/// One event as stored in the stream.
pub struct Event {
    pub subject: String,
    pub published_ms: i64,
    pub body: Value,
}

/// Every message of the stream, oldest first.
pub async fn read_stream(jetstream: &jetstream::Context) -> anyhow::Result<Vec<Event>> {
    let stream = jetstream.get_stream(STREAM).await?;
    let mut events = Vec::new();
    if stream.cached_info().state.messages == 0 {
        return Ok(events);
    }
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    while let Some(message) = tokio::time::timeout(Duration::from_secs(10), messages.next())
        .await
        .context("the stream stopped delivering before its end")?
    {
        let message = message?;
        let info = message.info().map_err(|e| anyhow::anyhow!("{e}"))?;
        let pending = info.pending;
        let published_ms = (info.published.unix_timestamp_nanos() / 1_000_000) as i64;
        events.push(Event {
            subject: message.subject.to_string(),
            published_ms,
            body: serde_json::from_slice(&message.payload).unwrap_or(Value::Null),
        });
        if pending == 0 {
            break;
        }
    }
    Ok(events)
}

pub async fn compare(
    mongo: &mongodb::Client,
    events: &[Event],
    report: &mut AuditReport,
) -> anyhow::Result<()> {
    // Counts and duplicates per subject; an event's identity is what makes it one state change.
    let mut seen: HashMap<&str, HashSet<String>> = HashMap::new();
    let mut expires: HashMap<String, i64> = HashMap::new();
    let mut lateness_micros = Vec::new();
    // Firings more than 2 s late: (lateness, due, fired), in ms.
    let mut late: Vec<(i64, i64, i64)> = Vec::new();
    for event in events {
        let b = &event.body;
        let key = match event.subject.as_str() {
            "ticket:updated" => format!("{}@{}", b["id"], b["version"]),
            "expiration:complete" | "payment:created" | "payment:expired" => {
                b["orderId"].to_string()
            }
            "payment:refunded" => b["stripeId"].to_string(),
            _ => b["id"].to_string(),
        };
        *report.events.entry(event.subject.clone()).or_default() += 1;
        if !seen.entry(event.subject.as_str()).or_default().insert(key) {
            *report
                .duplicate_events
                .entry(event.subject.clone())
                .or_default() += 1;
        }
        match event.subject.as_str() {
            "order:created" => {
                if let (Some(id), Some(at)) = (b["id"].as_str(), b["expiresAt"].as_str())
                    && let Ok(at) = chrono::DateTime::parse_from_rfc3339(at)
                {
                    expires.insert(id.to_owned(), at.timestamp_millis());
                }
            }
            "expiration:complete" => {
                if let Some(at) = b["orderId"].as_str().and_then(|id| expires.get(id)) {
                    // Early firing would be a bug too; it shows as 0 here and in the check below.
                    lateness_micros.push((event.published_ms - at).max(0) as u64 * 1000);
                    if event.published_ms - at > 2000 {
                        late.push((event.published_ms - at, *at, event.published_ms));
                    }
                    if event.published_ms < *at {
                        report.checks.push(Check {
                            what: "expiration never fires early".to_owned(),
                            ok: false,
                            detail: format!(
                                "order {} expired {} ms early",
                                b["orderId"],
                                at - event.published_ms
                            ),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    if !lateness_micros.is_empty() {
        let seconds = 0.0;
        let summary = Summary::from_latencies(
            "expiration lateness (fired − expiresAt)",
            1,
            seconds,
            lateness_micros.clone(),
        );
        lateness_micros.sort_unstable();
        eprintln!(
            "[bench] expiration lateness over {} orders: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            lateness_micros.len(),
            percentile(&lateness_micros, 0.5),
            percentile(&lateness_micros, 0.99),
            summary.max_ms
        );
        late.sort_unstable();
        let at = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.format("%H:%M:%S%.3f").to_string())
                .unwrap_or_default()
        };
        for (late_ms, due, fired) in late.iter().rev().take(5) {
            eprintln!(
                "[bench]   {late_ms} ms late: due {} fired {}",
                at(*due),
                at(*fired)
            );
        }
        report.expiration_lateness = Some(summary);
    }
    let counts = report.events.clone();
    let count = |subject: &str| counts.get(subject).copied().unwrap_or(0) as u64;
    let dups: usize = report.duplicate_events.values().sum();
    report.checks.push(Check {
        what: "no event published twice".to_owned(),
        ok: dups == 0,
        detail: format!("{dups} duplicates {:?}", report.duplicate_events),
    });

    let tickets = documents(mongo, "tickets", "tickets").await?;
    let orders_tickets = documents(mongo, "orders", "tickets").await?;
    let orders = documents(mongo, "orders", "orders").await?;
    let payments_orders = documents(mongo, "payments", "orders").await?;
    let payments = documents(mongo, "payments", "payments").await?;
    let refunds = documents(mongo, "payments", "refunds").await?;
    for (name, docs) in [
        ("tickets.tickets", &tickets),
        ("orders.tickets (replica)", &orders_tickets),
        ("orders.orders", &orders),
        ("payments.orders (replica)", &payments_orders),
        ("payments.payments", &payments),
        ("payments.refunds", &refunds),
    ] {
        report.documents.insert(name.to_owned(), docs.len() as u64);
    }
    if tickets.is_empty() && count("ticket:created") == 0 {
        return Ok(());
    }
    let version_sum: i64 = tickets.values().map(version).sum();
    push(
        report,
        "one ticket:created per ticket",
        tickets.len() as u64,
        count("ticket:created"),
    );
    push(
        report,
        "one ticket:updated per ticket version step",
        version_sum as u64,
        count("ticket:updated"),
    );
    if orders.is_empty() && count("order:created") == 0 && orders_tickets.is_empty() {
        return Ok(());
    }
    replica(
        report,
        "orders' ticket replica equals tickets",
        &tickets,
        &orders_tickets,
    );
    push(
        report,
        "one order:created per order",
        orders.len() as u64,
        count("order:created"),
    );
    let with_status = |status: &str| {
        orders
            .values()
            .filter(|o| o.get_str("status") == Ok(status))
            .count() as u64
    };
    push(
        report,
        "one order:cancelled per cancelled order",
        with_status("cancelled"),
        count("order:cancelled"),
    );
    if payments.is_empty() && payments_orders.is_empty() && count("payment:created") == 0 {
        return Ok(());
    }
    // Completing an order is the one save no event announces (the contract has no
    // `order:updated`, as the original): payments' copy of a complete order stays one behind.
    let announced: HashMap<String, Document> = orders
        .iter()
        .map(|(id, order)| {
            let mut order = order.clone();
            if order.get_str("status") == Ok("complete") {
                order.insert("version", version(&order) - 1);
            }
            (id.clone(), order)
        })
        .collect();
    replica(
        report,
        "payments' order replica equals orders (as announced: a completion has no event)",
        &announced,
        &payments_orders,
    );
    push(
        report,
        "one payment:created per payment",
        payments.len() as u64,
        count("payment:created"),
    );
    // A payment whose order the buyer cancelled before orders heard of it is refunded.
    let kept = payments
        .values()
        .filter(|p| {
            p.get_str("stripeId")
                .is_ok_and(|charge| !refunds.contains_key(charge))
        })
        .count() as u64;
    push(
        report,
        "one completed order per payment not refunded",
        kept,
        with_status("complete"),
    );
    push(
        report,
        "one payment:refunded per refund made",
        refunds
            .values()
            .filter(|r| r.get_datetime("refundedAt").is_ok())
            .count() as u64,
        count("payment:refunded"),
    );
    Ok(())
}

fn push(report: &mut AuditReport, what: &str, expected: u64, actual: u64) {
    report.checks.push(Check {
        what: what.to_owned(),
        ok: expected == actual,
        detail: format!("expected {expected}, found {actual}"),
    });
}

fn replica(
    report: &mut AuditReport,
    what: &str,
    owner: &HashMap<String, Document>,
    copy: &HashMap<String, Document>,
) {
    let missing = owner.keys().filter(|id| !copy.contains_key(*id)).count();
    let extra = copy.keys().filter(|id| !owner.contains_key(*id)).count();
    let stale = owner
        .iter()
        .filter(|(id, doc)| copy.get(*id).is_some_and(|c| version(c) != version(doc)))
        .count();
    report.checks.push(Check {
        what: what.to_owned(),
        ok: missing == 0 && extra == 0 && stale == 0,
        detail: format!(
            "{} owned, {missing} missing, {extra} extra, {stale} at another version",
            owner.len()
        ),
    });
}

pub fn version(doc: &Document) -> i64 {
    match doc.get("version") {
        Some(bson::Bson::Int64(v)) => *v,
        Some(bson::Bson::Int32(v)) => i64::from(*v),
        Some(bson::Bson::Double(v)) => *v as i64,
        _ => 0,
    }
}

/// A collection by `_id` (hex).
pub async fn documents(
    mongo: &mongodb::Client,
    db: &str,
    collection: &str,
) -> anyhow::Result<HashMap<String, Document>> {
    let docs: Vec<Document> = mongo
        .database(db)
        .collection::<Document>(collection)
        .find(doc! {})
        .await?
        .try_collect()
        .await?;
    Ok(docs
        .into_iter()
        .map(|d| {
            let id = match d.get("_id") {
                Some(bson::Bson::ObjectId(id)) => id.to_hex(),
                Some(bson::Bson::String(id)) => id.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            (id, d)
        })
        .collect())
}
