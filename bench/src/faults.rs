//! `bench faults`: the fault-injection test. A steady workload of sign-ups, sales, edits, orders,
//! payments, cancellations and expiries runs through the ingress while every part of the stack
//! is killed with SIGKILL and started again in turn (each service, nats-server, redis-server,
//! mongod; outages of 2 s and 8 s) and one is restarted gracefully. Then, once the fleet has
//! settled, every effect the workload was told was accepted is audited against the databases,
//! the stream and the Stripe stand-in's own record of charges and refunds:
//!
//! - every ticket answered 201 exists, with the title and price of its last accepted write;
//! - every order answered 201 ends `complete` or `cancelled` (none stuck), as its requests said:
//!   paid (201) → complete and its ticket held by it; cancelled (204) or left to expire →
//!   cancelled; answered 400 `Cannot pay for an expired order` → cancelled, nothing charged;
//!   a request whose answer was lost (5xx, timeout) → either, consistently;
//! - no ticket is held by an order that is not complete;
//! - money: every succeeded charge is exactly one of the payment of a complete order or a refund
//!   made (and recorded); every complete order has exactly one payment; no order was charged
//!   after its `expiresAt` unless its attempt was accepted before;
//! - the stream and replicas (`audit::compare`): one event per state change, no duplicates,
//!   every replica at its owner's version.
//!
//! It ends with `N checks passed, M failed` and fails if any failed. Loopback only; the stack is
//! `scripts/fault-test.sh`'s own.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use bson::{Document, doc};
use futures::TryStreamExt as _;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::audit::{self, AuditReport, Check};
use crate::failover;
use crate::settings::Settings;
use crate::stack::{self, Session};

/// What the workload was told about one order.
#[derive(Debug, Clone, Default, Serialize)]
struct OrderLedger {
    id: String,
    ticket_id: String,
    expires_at: String,
    /// Status of each `POST /api/payments` (0: no answer at all).
    payments: Vec<u16>,
    /// Messages of the 400s.
    payment_errors: Vec<String>,
    /// Status of each `DELETE`.
    deletes: Vec<u16>,
}

#[derive(Debug, Clone, Serialize)]
struct TicketLedger {
    id: String,
    /// Title and price of the last write answered 2xx; writes whose answer was lost.
    title: String,
    price: f64,
    uncertain: Vec<(String, f64)>,
}

#[derive(Debug, Default, Serialize)]
struct Ledger {
    tickets: HashMap<String, TicketLedger>,
    orders: Vec<OrderLedger>,
    requests: usize,
    failed_requests: usize,
}

#[derive(Debug, Serialize)]
struct Fault {
    part: String,
    kill: bool,
    outage_seconds: u64,
    ok: bool,
    detail: String,
}

#[derive(Debug, Serialize)]
struct FaultReport {
    date: String,
    /// On the `--ha` topology.
    ha: bool,
    faults: Vec<Fault>,
    failovers: Vec<failover::Failover>,
    ledger: Ledger,
    checks: Vec<Check>,
    passed: usize,
    failed: usize,
}

/// The order in which parts are broken: payments first, so an attempt its death leaves behind
/// has lapsed its lease by the end; the graceful restart last.
const FAULTS: [(&str, bool, u64); 11] = [
    ("payments", true, 2),
    ("tickets", true, 2),
    ("nats", true, 2),
    ("orders", true, 8),
    ("expiration", true, 2),
    ("redis", true, 2),
    ("mongod", true, 2),
    ("auth", true, 2),
    ("client", true, 2),
    ("nats", true, 8),
    ("orders", false, 0),
];

/// On `stack.sh up --ha`: the `ticketing` stream's leader (one nats-server), later the one that
/// took over from it, the MongoDB primary, one process of each service, then a rolling restart
/// of every service, one process at a time, each gracefully (SIGTERM).
const HA_FAULTS: [(&str, bool, u64); 21] = [
    ("nats-leader", true, 2),
    ("payments-1", true, 2),
    ("mongod-primary", true, 2),
    ("tickets-2", true, 2),
    ("orders-1", true, 2),
    ("nats-leader", true, 2),
    ("expiration-2", true, 2),
    ("auth-1", true, 2),
    ("client-2", true, 2),
    ("auth-1", false, 0),
    ("auth-2", false, 0),
    ("tickets-1", false, 0),
    ("tickets-2", false, 0),
    ("orders-1", false, 0),
    ("orders-2", false, 0),
    ("expiration-1", false, 0),
    ("expiration-2", false, 0),
    ("payments-1", false, 0),
    ("payments-2", false, 0),
    ("client-1", false, 0),
    ("client-2", false, 0),
];

/// Workers running the workload at once.
const WORKERS: usize = 6;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let http = stack::client(WORKERS * 2);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let (http, base, ledger, stop) = (
            http.clone(),
            settings.stack_url.clone(),
            ledger.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            workload(worker, &http, &base, &ledger, &stop).await;
        }));
    }
    // Let the workload get going before the first fault.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut faults = Vec::new();
    let mut failovers = Vec::new();
    let plan: &[(&str, bool, u64)] = if settings.ha { &HA_FAULTS } else { &FAULTS };
    for &(part, kill, outage) in plan {
        let prober = failover::Prober::start(settings, part).await;
        let fault = inject(settings, part, kill, outage).await;
        if let Some(prober) = prober {
            let measured = prober.finish().await;
            eprintln!("[faults] {measured}");
            failovers.push(measured);
        }
        eprintln!(
            "[faults] {} {} {part} ({}s outage): {}",
            chrono::Utc::now().format("%H:%M:%S"),
            if kill { "kill -9" } else { "restart" },
            outage,
            if fault.ok { "back" } else { &fault.detail }
        );
        faults.push(fault);
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.context("a workload worker panicked")?;
    }
    let ledger = Arc::try_unwrap(ledger)
        .map_err(|_| anyhow::anyhow!("the ledger is still shared"))?
        .into_inner();
    eprintln!(
        "[faults] workload done: {} requests ({} without a 2xx/4xx answer), {} tickets, {} orders; settling",
        ledger.requests,
        ledger.failed_requests,
        ledger.tickets.len(),
        ledger.orders.len()
    );

    let mut checks: Vec<Check> = faults
        .iter()
        .map(|fault| Check {
            what: format!("{} came back after its fault", fault.part),
            ok: fault.ok,
            detail: fault.detail.clone(),
        })
        .collect();
    if settings.ha {
        // Only what was in flight on a killed process may fail: nginx sends the rest to the
        // service's other process, NATS and MongoDB fail over under the clients.
        let process_kills = plan
            .iter()
            .filter(|(part, kill, _)| {
                *kill && !part.starts_with("nats") && !part.starts_with("mongod")
            })
            .count();
        let allowed = process_kills * WORKERS;
        checks.push(check(
            "no request failed but those in flight on a killed process",
            ledger.failed_requests <= allowed,
            format!(
                "{} of {} requests without an answer; at most {allowed} ({process_kills} processes killed, {WORKERS} workers)",
                ledger.failed_requests, ledger.requests
            ),
        ));
        checks.extend(failover::both_processes_worked(settings, &http).await);
    }
    checks.extend(audit_everything(settings, &http, &ledger).await?);
    let failed = checks.iter().filter(|check| !check.ok).count();
    let passed = checks.len() - failed;
    for check in &checks {
        eprintln!(
            "[faults] {} {}: {}",
            if check.ok { "ok  " } else { "FAIL" },
            check.what,
            check.detail
        );
    }
    settings.write_json(
        "faults",
        &FaultReport {
            date: chrono::Utc::now().to_rfc3339(),
            ha: settings.ha,
            faults,
            failovers,
            ledger,
            checks,
            passed,
            failed,
        },
    )?;
    println!("fault test: {passed} checks passed, {failed} failed");
    if failed > 0 {
        anyhow::bail!("{failed} fault-test checks failed");
    }
    Ok(())
}

/// Breaks `part` through `scripts/stack.sh restart` and waits until it is back.
async fn inject(settings: &Settings, part: &str, kill: bool, outage: u64) -> Fault {
    let mut command = tokio::process::Command::new(settings.root.join("scripts/stack.sh"));
    command.arg("restart").arg(part);
    if settings.ha {
        command.arg("--ha");
    }
    if kill {
        command.arg("--kill");
    }
    command.arg("--outage").arg(outage.to_string());
    let outcome = tokio::time::timeout(Duration::from_secs(120), command.output()).await;
    let (ok, detail) = match outcome {
        Ok(Ok(output)) if output.status.success() => (true, "ready again".to_owned()),
        Ok(Ok(output)) => (
            false,
            format!(
                "restart failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ),
        Ok(Err(error)) => (false, format!("cannot run scripts/stack.sh: {error}")),
        Err(_) => (false, "not back within 120 s".to_owned()),
    };
    Fault {
        part: part.to_owned(),
        kill,
        outage_seconds: outage,
        ok,
        detail,
    }
}

/// One worker: until `stop`, a seller lists a ticket and edits it, a buyer orders it and then
/// pays, cancels, pays and cancels at once, or leaves it to expire. Every answer goes into the
/// ledger; no answer (a fault) is recorded as such and the worker goes on.
async fn workload(
    worker: usize,
    http: &reqwest::Client,
    base: &str,
    ledger: &Mutex<Ledger>,
    stop: &AtomicBool,
) {
    let mut round = 0usize;
    let mut seller = None;
    let mut buyer = None;
    while !stop.load(Ordering::SeqCst) {
        round += 1;
        if seller.is_none() {
            seller = stack::sign_up(http, base, &format!("fault-seller-{worker}"))
                .await
                .ok();
        }
        if buyer.is_none() {
            buyer = stack::sign_up(http, base, &format!("fault-buyer-{worker}"))
                .await
                .ok();
        }
        let (Some(seller), Some(buyer)) = (&seller, &buyer) else {
            note(ledger, 0).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if let Some(ticket) = sell(http, base, seller, ledger, worker, round).await {
            buy(http, base, buyer, ledger, &ticket, worker + round).await;
        }
    }
}

async fn note(ledger: &Mutex<Ledger>, status: u16) {
    let mut ledger = ledger.lock().await;
    ledger.requests += 1;
    if status == 0 || status >= 500 {
        ledger.failed_requests += 1;
    }
}

/// Sends a JSON request; (status, body), status 0 when no answer came.
async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    session: &Session,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http
        .request(method, url)
        .header(reqwest::header::COOKIE, &session.cookie)
        .timeout(Duration::from_secs(20));
    if let Some(body) = body {
        request = request.json(&body);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

/// Lists a ticket (retrying until accepted, briefly) and edits it once; its id.
async fn sell(
    http: &reqwest::Client,
    base: &str,
    seller: &Session,
    ledger: &Mutex<Ledger>,
    worker: usize,
    round: usize,
) -> Option<String> {
    let title = format!("fault {worker}-{round}");
    let price = 10.0 + (round % 7) as f64;
    let (status, body) = send(
        http,
        reqwest::Method::POST,
        format!("{base}/api/tickets"),
        seller,
        Some(json!({ "title": title, "price": price })),
    )
    .await;
    note(ledger, status).await;
    if status != 201 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        return None;
    }
    let id = body["id"].as_str()?.to_owned();
    let mut ticket = TicketLedger {
        id: id.clone(),
        title,
        price,
        uncertain: Vec::new(),
    };
    let (edited, edited_price) = (format!("{} (edited)", ticket.title), price + 1.0);
    let (status, _) = send(
        http,
        reqwest::Method::PUT,
        format!("{base}/api/tickets/{id}"),
        seller,
        Some(json!({ "title": edited, "price": edited_price })),
    )
    .await;
    note(ledger, status).await;
    match status {
        200 => (ticket.title, ticket.price) = (edited, edited_price),
        0 | 500.. => ticket.uncertain.push((edited, edited_price)),
        _ => {}
    }
    ledger.lock().await.tickets.insert(id.clone(), ticket);
    Some(id)
}

/// Orders the ticket (asking again while orders has not heard of it) and does one of four
/// things with the order.
async fn buy(
    http: &reqwest::Client,
    base: &str,
    buyer: &Session,
    ledger: &Mutex<Ledger>,
    ticket_id: &str,
    choice: usize,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let order = loop {
        let (status, body) = send(
            http,
            reqwest::Method::POST,
            format!("{base}/api/orders"),
            buyer,
            Some(json!({ "ticketId": ticket_id })),
        )
        .await;
        note(ledger, status).await;
        match status {
            201 => break body,
            // Not replicated yet, or a fault: ask again, as a user would.
            _ if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            _ => return,
        }
    };
    let Some(order_id) = order["id"].as_str().map(str::to_owned) else {
        return;
    };
    let mut entry = OrderLedger {
        id: order_id.clone(),
        ticket_id: ticket_id.to_owned(),
        expires_at: order["expiresAt"].as_str().unwrap_or_default().to_owned(),
        ..OrderLedger::default()
    };
    let on = Buyer {
        http,
        base,
        session: buyer,
        ledger,
        order_id: &order_id,
    };
    match choice % 4 {
        0 | 1 => on.pay(&mut entry).await,
        2 => {
            let status = on.cancel().await;
            entry.deletes.push(status);
        }
        // Pay and cancel at once, or leave it to expire, turn about.
        _ if choice % 8 == 3 => {
            let mut paying = entry.clone();
            let ((), status) = tokio::join!(on.pay(&mut paying), on.cancel());
            entry.payments = paying.payments;
            entry.payment_errors = paying.payment_errors;
            entry.deletes.push(status);
        }
        _ => {}
    }
    ledger.lock().await.orders.push(entry);
}

/// A buyer acting on one order.
struct Buyer<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    session: &'a Session,
    ledger: &'a Mutex<Ledger>,
    order_id: &'a str,
}

impl Buyer<'_> {
    /// Pays with `tok_visa`, asking again while payments has not heard of the order (404), as
    /// the client does; the answer goes into `entry`.
    async fn pay(&self, entry: &mut OrderLedger) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
        loop {
            let (status, body) = send(
                self.http,
                reqwest::Method::POST,
                format!("{}/api/payments", self.base),
                self.session,
                Some(json!({ "token": "tok_visa", "orderId": self.order_id })),
            )
            .await;
            note(self.ledger, status).await;
            if status == 404 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
            entry.payments.push(status);
            if status == 400 {
                entry.payment_errors.push(
                    body["errors"][0]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            return;
        }
    }

    async fn cancel(&self) -> u16 {
        let (status, _) = send(
            self.http,
            reqwest::Method::DELETE,
            format!("{}/api/orders/{}", self.base, self.order_id),
            self.session,
            None,
        )
        .await;
        note(self.ledger, status).await;
        status
    }
}

/// Waits for the fleet to settle, then checks every accepted effect.
async fn audit_everything(
    settings: &Settings,
    http: &reqwest::Client,
    ledger: &Ledger,
) -> anyhow::Result<Vec<Check>> {
    let mongo = mongodb::Client::with_uri_str(settings.mongo_uri()).await?;
    let nats = settings.nats().await?;
    let jetstream = async_nats::jetstream::new(nats);
    let mut checks = Vec::new();

    // Settled: no order open past its expiry, no attempt unsettled, no refund due, no event
    // pending for any consumer.
    let overdue = audit::wait_for_expiries(&mongo).await?;
    checks.push(check(
        "every order past its expiresAt is closed",
        overdue == 0,
        format!("{overdue} open orders more than 2 s past expiresAt"),
    ));
    let unsettled = wait_payments_settled(&mongo).await?;
    checks.push(check(
        "no payment attempt or refund left unsettled",
        unsettled.is_empty(),
        unsettled,
    ));
    audit::quiesce(&jetstream, Duration::from_secs(120)).await?;

    let tickets = audit::documents(&mongo, "tickets", "tickets").await?;
    let orders = audit::documents(&mongo, "orders", "orders").await?;
    let payments = audit::documents(&mongo, "payments", "payments").await?;
    let refunds = audit::documents(&mongo, "payments", "refunds").await?;
    let charges: Vec<Value> = stand_in(http, settings, "/__charges").await?;
    let stripe_refunds: Vec<Value> = stand_in(http, settings, "/__refunds").await?;

    // Tickets.
    let mut wrong_tickets = Vec::new();
    for ticket in ledger.tickets.values() {
        let stored = tickets.get(&ticket.id);
        let ok = stored.is_some_and(|stored| {
            let (title, price) = (
                stored.get_str("title").unwrap_or_default(),
                stored.get_f64("price").unwrap_or(f64::NAN),
            );
            (title == ticket.title && price == ticket.price)
                || ticket
                    .uncertain
                    .iter()
                    .any(|(t, p)| t == title && *p == price)
        });
        if !ok {
            wrong_tickets.push(ticket.id.clone());
        }
    }
    checks.push(check(
        "every accepted ticket is stored as last accepted",
        wrong_tickets.is_empty(),
        format!("{} tickets, wrong: {wrong_tickets:?}", ledger.tickets.len()),
    ));

    // Orders, as their requests said.
    let mut wrong_orders = Vec::new();
    let mut stuck = Vec::new();
    for order in &ledger.orders {
        let Some(stored) = orders.get(&order.id) else {
            wrong_orders.push(format!("{} missing", order.id));
            continue;
        };
        let status = stored.get_str("status").unwrap_or_default();
        let lost = |s: &u16| *s == 0 || *s >= 500;
        let paid = order.payments.contains(&201);
        let expired_refused = order
            .payment_errors
            .iter()
            .any(|m| m == "Cannot pay for an expired order");
        let deleted = order.deletes.contains(&204);
        let either: &[&str] = &["complete", "cancelled"];
        let expected: &[&str] = if deleted || expired_refused {
            &["cancelled"]
        } else if paid {
            // A cancel whose answer was lost may have overtaken the payment (then refunded).
            if order.deletes.iter().any(lost) {
                either
            } else {
                &["complete"]
            }
        } else if order.payments.iter().any(lost) {
            either
        } else if order.payments.is_empty() {
            // Left to expire, or a cancel whose answer was lost.
            &["cancelled"]
        } else {
            // Refused for another reason (the order was cancelled at that instant): not paid.
            &["cancelled"]
        };
        if status != "complete" && status != "cancelled" {
            stuck.push(format!("{} {status}", order.id));
        } else if !expected.contains(&status) {
            wrong_orders.push(format!(
                "{} is {status}, expected {expected:?}: {order:?}",
                order.id
            ));
        }
    }
    checks.push(check(
        "no order stuck open",
        stuck.is_empty(),
        format!("{} orders, stuck: {stuck:?}", ledger.orders.len()),
    ));
    checks.push(check(
        "every order ended as its requests said",
        wrong_orders.is_empty(),
        format!("wrong: {wrong_orders:?}"),
    ));

    // Tickets held only by complete orders, and every complete order's ticket held by it.
    let mut bad_holds = Vec::new();
    for (id, ticket) in &tickets {
        if let Ok(holder) = ticket.get_object_id("orderId") {
            let holder = holder.to_hex();
            let complete = orders
                .get(&holder)
                .is_some_and(|o| o.get_str("status") == Ok("complete"));
            if !complete {
                bad_holds.push(format!("ticket {id} held by {holder}"));
            }
        }
    }
    for (id, order) in &orders {
        if order.get_str("status") == Ok("complete") {
            let ticket = order
                .get_object_id("ticketId")
                .map(|t| t.to_hex())
                .unwrap_or_default();
            let held = tickets
                .get(&ticket)
                .and_then(|t| t.get_object_id("orderId").ok())
                .is_some_and(|holder| holder.to_hex() == *id);
            if !held {
                bad_holds.push(format!("complete order {id} does not hold ticket {ticket}"));
            }
        }
    }
    checks.push(check(
        "tickets are held exactly by complete orders",
        bad_holds.is_empty(),
        format!("{bad_holds:?}"),
    ));

    checks.extend(money(
        &charges,
        &stripe_refunds,
        &orders,
        &payments,
        &refunds,
    ));

    // The stream and the replicas.
    let events = audit::read_stream(&jetstream).await?;
    let mut report = AuditReport::default();
    audit::compare(&mongo, &events, &mut report).await?;
    checks.extend(report.checks);
    Ok(checks)
}

/// Every succeeded charge ends as exactly one of a complete order's payment or a refund made.
fn money(
    charges: &[Value],
    stripe_refunds: &[Value],
    orders: &HashMap<String, Document>,
    payments: &HashMap<String, Document>,
    refunds: &HashMap<String, Document>,
) -> Vec<Check> {
    let payment_by_charge: HashMap<&str, &Document> = payments
        .values()
        .filter_map(|p| Some((p.get_str("stripeId").ok()?, p)))
        .collect();
    let refunded_at_stripe: HashMap<&str, usize> =
        stripe_refunds.iter().fold(HashMap::new(), |mut counts, r| {
            if let Some(charge) = r["charge"].as_str() {
                *counts.entry(charge).or_default() += 1;
            }
            counts
        });
    let mut wrong = Vec::new();
    let succeeded: Vec<&Value> = charges
        .iter()
        .filter(|c| c["status"] == "succeeded")
        .collect();
    for charge in &succeeded {
        let id = charge["id"].as_str().unwrap_or_default();
        let refund = refunds.get(id);
        let refunded = refund.is_some_and(|r| r.get_datetime("refundedAt").is_ok());
        let at_stripe = refunded_at_stripe.get(id).copied().unwrap_or(0);
        let as_payment = payment_by_charge.get(id).is_some_and(|p| {
            p.get_object_id("orderId")
                .ok()
                .and_then(|order| orders.get(&order.to_hex()))
                .is_some_and(|o| o.get_str("status") == Ok("complete"))
        });
        match (as_payment, refunded, at_stripe) {
            (true, false, 0) | (false, true, 1) => {}
            other => wrong.push(format!(
                "charge {id} (order {}): payment of a complete order {}, refund recorded {}, refunds at Stripe {}",
                charge["metadata"]["order_id"], other.0, other.1, other.2
            )),
        }
    }
    let mut paid_twice = Vec::new();
    let mut per_order: HashMap<String, usize> = HashMap::new();
    for payment in payments.values() {
        if let Ok(order) = payment.get_object_id("orderId") {
            *per_order.entry(order.to_hex()).or_default() += 1;
        }
    }
    for (id, order) in orders {
        if order.get_str("status") == Ok("complete") && per_order.get(id).copied() != Some(1) {
            paid_twice.push(format!(
                "{id}: {} payments",
                per_order.get(id).copied().unwrap_or(0)
            ));
        }
    }
    vec![
        check(
            "every charge is exactly one payment of a complete order or one refund",
            wrong.is_empty(),
            format!(
                "{} charges, {} refunds; wrong: {wrong:?}",
                succeeded.len(),
                stripe_refunds.len()
            ),
        ),
        check(
            "every complete order has exactly one payment",
            paid_twice.is_empty(),
            format!("{paid_twice:?}"),
        ),
    ]
}

/// Waits (at most 150 s: an attempt left by a killed payments lapses after its 90 s lease) until
/// payments has no attempt in flight and no refund due; what is still unsettled otherwise.
async fn wait_payments_settled(mongo: &mongodb::Client) -> anyhow::Result<String> {
    let db = mongo.database("payments");
    let give_up = tokio::time::Instant::now() + Duration::from_secs(150);
    loop {
        let attempts = db
            .collection::<Document>("orders")
            .count_documents(doc! { "attempt": { "$ne": null } })
            .await?;
        let due = db
            .collection::<Document>("refunds")
            .count_documents(doc! { "refundedAt": null })
            .await?;
        if attempts == 0 && due == 0 {
            return Ok(String::new());
        }
        if tokio::time::Instant::now() >= give_up {
            let left: Vec<Document> = db
                .collection::<Document>("orders")
                .find(doc! { "attempt": { "$ne": null } })
                .await?
                .try_collect()
                .await?;
            return Ok(format!("{attempts} attempts ({left:?}), {due} refunds due"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn stand_in(
    http: &reqwest::Client,
    settings: &Settings,
    path: &str,
) -> anyhow::Result<Vec<Value>> {
    let url = format!("http://127.0.0.1:{}{path}", settings.port_base + 7);
    let list = http
        .get(&url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(list)
}

fn check(what: &str, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        what: what.to_owned(),
        ok,
        detail: detail.into(),
    }
}
