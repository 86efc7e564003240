//! User flows through the ingress, with goose: weighted scenarios like a marketplace's audience.
//!
//! | scenario    | weight | each iteration                                                          |
//! |-------------|--------|--------------------------------------------------------------------------|
//! | Browser     | 10     | list tickets, view one, `currentuser` (anonymous)                        |
//! | Seller      | 3      | `currentuser`, sell a ticket, view it                                    |
//! | Buyer       | 5      | list, view, order, pay with `tok_visa` (3 in 4; the 4th is left to expire), view the order, list own orders |
//! | Undecided   | 2      | list, order, cancel                                                      |
//! | Returning   | 1      | sign in, `currentuser`, sign out                                         |
//!
//! Sellers and buyers sign up once, when they arrive. A buyer whose chosen ticket was reserved by
//! someone else a moment earlier gets the contract's 400 `Ticket is already reserved`: that is
//! the marketplace working, so it counts as a success (and is counted apart), not as an error.
//!
//! The load is bounded: goose's throttle caps the offered rate (`FLOW_RATE` requests/s) and
//! `FLOW_SECONDS` the time, so at most `FLOW_RATE × FLOW_SECONDS` requests. Smoke mode runs each
//! scenario once with a handful of users.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use goose::config::GooseConfiguration;
use goose::goose::GooseResponse;
use goose::prelude::*;
use gumdrop::Options as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cpu::{self, CpuMeter};
use crate::footprint::RssSampler;
use crate::settings::Settings;
use crate::stack;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Load,
    Smoke,
}

/// Outcomes that are not errors but say something about the run.
static LOST_RACES: AtomicUsize = AtomicUsize::new(0);
static ABANDONED: AtomicUsize = AtomicUsize::new(0);
static NOTHING_TO_BUY: AtomicUsize = AtomicUsize::new(0);
static ORDERS_NOT_YET_REPLICATED: AtomicUsize = AtomicUsize::new(0);
static PAYMENTS_NOT_YET_REPLICATED: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Serialize, Deserialize, Default)]
// A run written before a field existed still reads, with that field at its default.
#[serde(default)]
pub struct FlowReport {
    pub date: String,
    /// /proc/loadavg when the phase started: other work on the machine shows here. Always
    /// written; `None` when read from a run older than the field, which the report leaves out.
    pub load_average: Option<String>,
    pub smoke: bool,
    pub users: usize,
    pub offered_rate: usize,
    pub seconds: usize,
    pub requests: Vec<RequestStats>,
    pub total_requests: usize,
    pub total_errors: usize,
    pub achieved_rps: f64,
    pub lost_races: usize,
    pub abandoned_orders: usize,
    pub nothing_to_buy: usize,
    /// `POST /api/orders` answered 404 because orders had not yet received the listed ticket's
    /// event (asked again 50 ms later, as a user would click again); likewise payments and
    /// the order's event.
    pub orders_not_yet_replicated: usize,
    pub payments_not_yet_replicated: usize,
    /// Peak RSS per service under this load, kB.
    pub peak_rss_kb: BTreeMap<String, u64>,
    /// Cores used per process over the run, busiest first.
    pub cpu: Vec<(String, f64)>,
    pub html_report: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RequestStats {
    pub name: String,
    pub count: usize,
    pub errors: usize,
    pub rps: f64,
    pub p50_ms: usize,
    pub p95_ms: usize,
    pub p99_ms: usize,
    pub max_ms: usize,
    pub statuses: BTreeMap<u16, usize>,
}

pub async fn run(settings: &Settings, mode: Mode) -> anyhow::Result<()> {
    let smoke = mode == Mode::Smoke || settings.smoke;
    let mut report = FlowReport {
        date: chrono::Utc::now().to_rfc3339(),
        load_average: Some(crate::stack::load_average()),
        smoke,
        users: settings.flow_users,
        offered_rate: settings.flow_rate,
        seconds: if smoke { 0 } else { settings.flow_seconds },
        ..FlowReport::default()
    };

    // Something to buy from the first second.
    let http = stack::client(4);
    let seeder = stack::sign_up(&http, &settings.stack_url, "flow-seeder").await?;
    for _ in 0..if smoke { 3 } else { 30 } {
        stack::sell(&http, &settings.stack_url, &seeder, 25.0).await?;
    }

    let mut attack =
        GooseAttack::initialize_with_config(configuration(settings, smoke, &mut report)?)?;
    let buyer = scenario!("Buyer")
        .set_weight(5)?
        .register_transaction(transaction!(sign_up).set_on_start())
        .register_transaction(transaction!(list_tickets))
        .register_transaction(transaction!(view_ticket))
        .register_transaction(transaction!(order))
        .register_transaction(transaction!(pay))
        .register_transaction(transaction!(view_order))
        .register_transaction(transaction!(my_orders));
    attack = attack
        .register_scenario(
            scenario!("Browser")
                .set_weight(10)?
                .register_transaction(transaction!(arrive).set_on_start())
                .register_transaction(transaction!(list_tickets))
                .register_transaction(transaction!(view_ticket))
                .register_transaction(transaction!(current_user)),
        )
        .register_scenario(
            scenario!("Seller")
                .set_weight(3)?
                .register_transaction(transaction!(sign_up).set_on_start())
                .register_transaction(transaction!(current_user))
                .register_transaction(transaction!(sell))
                .register_transaction(transaction!(view_ticket)),
        )
        .register_scenario(buyer)
        .register_scenario(
            scenario!("Undecided")
                .set_weight(2)?
                .register_transaction(transaction!(sign_up).set_on_start())
                .register_transaction(transaction!(list_tickets))
                .register_transaction(transaction!(order))
                .register_transaction(transaction!(cancel)),
        );
    attack = attack.register_scenario(
        scenario!("Returning")
            .set_weight(1)?
            .register_transaction(transaction!(sign_up_then_out).set_on_start())
            .register_transaction(transaction!(sign_in))
            .register_transaction(transaction!(current_user))
            .register_transaction(transaction!(sign_out)),
    );

    let sampler = settings
        .stack_dir
        .clone()
        .filter(|_| !smoke)
        .map(RssSampler::start);
    let meter = CpuMeter::new(settings, &[]);
    let cpu_before = meter.snapshot();
    let limit = Duration::from_secs(settings.flow_seconds as u64 + 120);
    let metrics = tokio::time::timeout(limit, attack.execute())
        .await
        .context("the flows did not finish in time")??;
    if let Some(sampler) = sampler {
        report.peak_rss_kb = sampler.stop();
    }
    report.cpu = meter.since(&cpu_before);

    let seconds = metrics.duration.max(1) as f64;
    for aggregate in metrics.requests.values() {
        let times = &aggregate.raw_data.times;
        let count = aggregate.success_count + aggregate.fail_count;
        report.requests.push(RequestStats {
            name: format!("{} {}", aggregate.method, aggregate.path),
            count,
            errors: aggregate.fail_count,
            rps: count as f64 / seconds,
            p50_ms: quantile(times, 0.50),
            p95_ms: quantile(times, 0.95),
            p99_ms: quantile(times, 0.99),
            max_ms: aggregate.raw_data.maximum_time,
            statuses: aggregate
                .status_code_counts
                .iter()
                .map(|(k, v)| (*k, *v))
                .collect(),
        });
    }
    report.requests.sort_by(|a, b| a.name.cmp(&b.name));
    report.total_requests = report.requests.iter().map(|r| r.count).sum();
    report.total_errors = report.requests.iter().map(|r| r.errors).sum();
    report.achieved_rps = report.total_requests as f64 / seconds;
    report.lost_races = LOST_RACES.load(Ordering::Relaxed);
    report.abandoned_orders = ABANDONED.load(Ordering::Relaxed);
    report.nothing_to_buy = NOTHING_TO_BUY.load(Ordering::Relaxed);
    report.orders_not_yet_replicated = ORDERS_NOT_YET_REPLICATED.load(Ordering::Relaxed);
    report.payments_not_yet_replicated = PAYMENTS_NOT_YET_REPLICATED.load(Ordering::Relaxed);
    eprintln!(
        "[bench] flows: {} requests, {} errors, {:.0} req/s achieved (offered ≤ {}), {} lost races, {} abandoned orders",
        report.total_requests,
        report.total_errors,
        report.achieved_rps,
        settings.flow_rate,
        report.lost_races,
        report.abandoned_orders
    );
    if !smoke {
        eprintln!("[bench] flows: cores used: {}", cpu::describe(&report.cpu));
    }
    settings.write_json(if smoke { "smoke" } else { "flows" }, &report)?;
    if report.total_errors > 0 {
        for error in metrics.errors.values().take(10) {
            eprintln!("[bench] error: {} ×{}", error.error, error.occurrences);
        }
        bail!(
            "{} of {} flow requests failed",
            report.total_errors,
            report.total_requests
        );
    }
    if report.total_requests == 0 {
        bail!("the flows made no requests");
    }
    Ok(())
}

fn configuration(
    settings: &Settings,
    smoke: bool,
    report: &mut FlowReport,
) -> anyhow::Result<GooseConfiguration> {
    let mut config = GooseConfiguration::parse_args_default::<&str>(&[])
        .map_err(|e| anyhow::anyhow!("goose's default configuration: {e}"))?;
    config.host = settings.stack_url.clone();
    config.users = Some(settings.flow_users);
    config.hatch_rate = Some(settings.flow_users.to_string());
    config.throttle_requests = settings.flow_rate;
    if smoke {
        config.iterations = 1;
    } else {
        config.run_time = format!("{}s", settings.flow_seconds);
        // Count the arrivals (sign-ups) too: goose otherwise resets its metrics once every
        // user has started.
        config.no_reset_metrics = true;
        let html = settings.out_dir.join("flows.html");
        report.html_report = html.display().to_string();
        config.report_file = vec![report.html_report.clone()];
    }
    // Loopback only, and no controller ports that could collide with anyone else's.
    config.no_print_metrics = smoke;
    config.no_telnet = true;
    config.no_websocket = true;
    config.quiet = 1;
    Ok(config)
}

/// Nearest-rank quantile of goose's millisecond histogram.
fn quantile(times: &BTreeMap<usize, usize>, q: f64) -> usize {
    let total: usize = times.values().sum();
    if total == 0 {
        return 0;
    }
    let rank = ((q * total as f64).ceil() as usize).max(1);
    let mut seen = 0;
    for (ms, count) in times {
        seen += count;
        if seen >= rank {
            return *ms;
        }
    }
    times.keys().last().copied().unwrap_or(0)
}

/// What a simulated user remembers between requests.
#[derive(Debug, Default)]
struct Visitor {
    email: String,
    listed: Vec<String>,
    own_ticket: Option<String>,
    order: Option<String>,
    rng: u64,
}

impl Visitor {
    fn new() -> Self {
        let seed = stack::unique();
        Self {
            rng: u64::from_str_radix(&seed[seed.len().saturating_sub(15)..], 16)
                .unwrap_or(0x9e37_79b9)
                | 1,
            ..Self::default()
        }
    }

    /// xorshift: a cheap, good-enough choice of ticket without a rand dependency.
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn pick(&mut self) -> Option<String> {
        if self.listed.is_empty() {
            return None;
        }
        let index = (self.next() % self.listed.len() as u64) as usize;
        Some(self.listed[index].clone())
    }
}

fn visitor(user: &mut GooseUser) -> &mut Visitor {
    if user.get_session_data::<Visitor>().is_none() {
        user.set_session_data(Visitor::new());
    }
    user.get_session_data_unchecked_mut::<Visitor>()
}

/// One request, named by its route (ids left out) so goose aggregates per route.
async fn call(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    body: Option<Value>,
    expect: u16,
) -> Result<GooseResponse, Box<TransactionError>> {
    let mut builder = user.get_request_builder(&method, path)?;
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .expect_status_code(expect)
        .set_request_builder(builder)
        .build();
    user.request(request).await
}

/// The JSON body of a response goose already judged; a body that is not JSON fails the request.
async fn json_of(
    user: &GooseUser,
    mut goose: GooseResponse,
) -> Result<Option<Value>, Box<TransactionError>> {
    if !goose.request.success {
        return Ok(None);
    }
    let parsed = match goose.response {
        Ok(response) => response.json::<Value>().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match parsed {
        Ok(value) => Ok(Some(value)),
        Err(e) => {
            user.set_failure(
                &format!("body is not JSON: {e}"),
                &mut goose.request,
                None,
                None,
            )?;
            Ok(None)
        }
    }
}

async fn arrive(user: &mut GooseUser) -> TransactionResult {
    visitor(user);
    Ok(())
}

async fn sign_up(user: &mut GooseUser) -> TransactionResult {
    let email = format!("flow-{}@bench.test", stack::unique());
    visitor(user).email = email.clone();
    let body = json!({ "email": email, "password": "benchpass" });
    call(
        user,
        GooseMethod::Post,
        "/api/users/signup",
        "/api/users/signup",
        Some(body),
        201,
    )
    .await?;
    Ok(())
}

async fn sign_up_then_out(user: &mut GooseUser) -> TransactionResult {
    sign_up(user).await?;
    sign_out(user).await
}

async fn sign_in(user: &mut GooseUser) -> TransactionResult {
    let body = json!({ "email": visitor(user).email.clone(), "password": "benchpass" });
    call(
        user,
        GooseMethod::Post,
        "/api/users/signin",
        "/api/users/signin",
        Some(body),
        200,
    )
    .await?;
    Ok(())
}

async fn sign_out(user: &mut GooseUser) -> TransactionResult {
    call(
        user,
        GooseMethod::Post,
        "/api/users/signout",
        "/api/users/signout",
        Some(json!({})),
        200,
    )
    .await?;
    Ok(())
}

async fn current_user(user: &mut GooseUser) -> TransactionResult {
    let response = call(
        user,
        GooseMethod::Get,
        "/api/users/currentuser",
        "/api/users/currentuser",
        None,
        200,
    )
    .await?;
    json_of(user, response).await?;
    Ok(())
}

async fn list_tickets(user: &mut GooseUser) -> TransactionResult {
    let response = call(
        user,
        GooseMethod::Get,
        "/api/tickets",
        "/api/tickets",
        None,
        200,
    )
    .await?;
    if let Some(Value::Array(tickets)) = json_of(user, response).await? {
        visitor(user).listed = tickets
            .iter()
            .filter_map(|t| t["id"].as_str().map(str::to_owned))
            .collect();
    }
    Ok(())
}

async fn view_ticket(user: &mut GooseUser) -> TransactionResult {
    let state = visitor(user);
    let Some(id) = state.own_ticket.take().or_else(|| state.pick()) else {
        return Ok(());
    };
    let response = call(
        user,
        GooseMethod::Get,
        &format!("/api/tickets/{id}"),
        "/api/tickets/:id",
        None,
        200,
    )
    .await?;
    json_of(user, response).await?;
    Ok(())
}

async fn sell(user: &mut GooseUser) -> TransactionResult {
    let price = 5 + visitor(user).next() % 200;
    let body = json!({ "title": "flow ticket", "price": format!("{price}.00") });
    let response = call(
        user,
        GooseMethod::Post,
        "/api/tickets",
        "/api/tickets",
        Some(body),
        201,
    )
    .await?;
    if let Some(ticket) = json_of(user, response).await? {
        visitor(user).own_ticket = ticket["id"].as_str().map(str::to_owned);
    }
    Ok(())
}

async fn order(user: &mut GooseUser) -> TransactionResult {
    visitor(user).order = None;
    let Some(ticket_id) = visitor(user).pick() else {
        NOTHING_TO_BUY.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    };
    let body = json!({ "ticketId": ticket_id });
    let Some(mut response) =
        until_known(user, "/api/orders", body, &ORDERS_NOT_YET_REPLICATED).await?
    else {
        return Ok(());
    };
    if response.request.status_code == 400 {
        // Someone else reserved it since we listed it: the contract's answer, not an error.
        let text = match response.response {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains("Ticket is already reserved") {
            LOST_RACES.fetch_add(1, Ordering::Relaxed);
            visitor(user).listed.retain(|id| *id != ticket_id);
            return user.set_success(&mut response.request);
        }
        return Ok(());
    }
    if let Some(order) = json_of(user, response).await? {
        visitor(user).order = order["id"].as_str().map(str::to_owned);
    }
    Ok(())
}

async fn pay(user: &mut GooseUser) -> TransactionResult {
    let state = visitor(user);
    let Some(order_id) = state.order.clone() else {
        return Ok(());
    };
    // One cart in four is abandoned and left for expiration to cancel.
    if state.next().is_multiple_of(4) {
        ABANDONED.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    let body = json!({ "token": "tok_visa", "orderId": order_id });
    until_known(user, "/api/payments", body, &PAYMENTS_NOT_YET_REPLICATED).await?;
    Ok(())
}

/// `POST path` expecting 201, asked again (up to 1 s) while it answers 404 because the service
/// has not yet received the event that tells it about the id (tickets listed a ticket orders does
/// not know yet; orders created an order payments does not know yet). Such answers are eventual
/// consistency seen by a user, counted in `counter` and not as errors; one that persists past a
/// second stays an error. `None` if the last answer was such a 404.
async fn until_known(
    user: &mut GooseUser,
    path: &str,
    body: Value,
    counter: &AtomicUsize,
) -> Result<Option<GooseResponse>, Box<TransactionError>> {
    for _ in 0..20 {
        let mut response =
            call(user, GooseMethod::Post, path, path, Some(body.clone()), 201).await?;
        if response.request.status_code != 404 {
            return Ok(Some(response));
        }
        counter.fetch_add(1, Ordering::Relaxed);
        user.set_success(&mut response.request)?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The last 404 was let through as a success above: make the give-up visible.
    let mut response = call(user, GooseMethod::Post, path, path, Some(body), 201).await?;
    if response.request.status_code == 404 {
        user.set_failure(
            "still 404 after a second of retries",
            &mut response.request,
            None,
            None,
        )?;
        return Ok(None);
    }
    Ok(Some(response))
}

async fn view_order(user: &mut GooseUser) -> TransactionResult {
    let Some(order_id) = visitor(user).order.clone() else {
        return Ok(());
    };
    let response = call(
        user,
        GooseMethod::Get,
        &format!("/api/orders/{order_id}"),
        "/api/orders/:id",
        None,
        200,
    )
    .await?;
    json_of(user, response).await?;
    Ok(())
}

async fn my_orders(user: &mut GooseUser) -> TransactionResult {
    let response = call(
        user,
        GooseMethod::Get,
        "/api/orders",
        "/api/orders",
        None,
        200,
    )
    .await?;
    json_of(user, response).await?;
    Ok(())
}

async fn cancel(user: &mut GooseUser) -> TransactionResult {
    let Some(order_id) = visitor(user).order.take() else {
        return Ok(());
    };
    call(
        user,
        GooseMethod::Delete,
        &format!("/api/orders/{order_id}"),
        "/api/orders/:id",
        None,
        204,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_walk_the_histogram() {
        let times: BTreeMap<usize, usize> =
            [(1, 50), (2, 45), (10, 4), (40, 1)].into_iter().collect();
        assert_eq!(quantile(&times, 0.5), 1);
        assert_eq!(quantile(&times, 0.95), 2);
        assert_eq!(quantile(&times, 0.99), 10);
        assert_eq!(quantile(&times, 1.0), 40);
        assert_eq!(quantile(&BTreeMap::new(), 0.5), 0);
    }

    #[test]
    fn the_visitor_picks_only_listed_tickets() {
        let mut visitor = Visitor::new();
        assert_eq!(visitor.pick(), None);
        visitor.listed = vec!["a".into(), "b".into()];
        for _ in 0..20 {
            assert!(matches!(visitor.pick().as_deref(), Some("a" | "b")));
        }
    }
}
