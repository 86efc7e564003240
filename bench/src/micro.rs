//! Micro-benchmarks of the hot paths, each beside its ceiling measured in the same run on the
//! same machine, so a figure reads as "this fraction of what the plumbing underneath allows":
//!
//! | route                          | ceiling                                                   |
//! |--------------------------------|-----------------------------------------------------------|
//! | `GET /api/users/currentuser`   | an empty axum handler behind the same nginx               |
//! | `GET /api/tickets` (100)       | the same query (free tickets, oldest first) on the raw driver |
//! | `POST /api/tickets`            | a raw insert, then a JetStream publish awaiting its ack   |
//! | `POST /api/orders`             | the same                                                  |
//!
//! and, as the bound of `POST /api/orders` against that ceiling, an order's own I/O made inline
//! by the bench (see [`order_io`]);
//! and the event path: from `POST /api/tickets` returning to orders accepting `POST /api/orders`
//! for that ticket (polled back to back, so a figure is an upper bound by one round trip).
//!
//! The raw ceilings use a database (`bench_ceiling`) and a stream (`bench_ceiling`) of their
//! own on the stack's servers, dropped afterwards; on the `--ha` stack (`STACK_HA=1`) that is
//! the replica set through its seed list and an R3 stream on the cluster, as the services have.
//!
//! `BENCH_VARIANT=<name>` writes `micro-<name>.json` instead of `micro.json`: the same run
//! against a variant of the stack (trace export off, `--ha`), beside the main one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bson::{Document, doc, oid::ObjectId};
use futures::TryStreamExt as _;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit;
use crate::footprint::RssSampler;
use crate::ingress::BenchIngress;
use crate::load::{Step, Summary, closed_loop};
use crate::settings::Settings;
use crate::stack::{self, Session};

#[derive(Debug, Serialize, Deserialize, Default)]
// A run written before a field existed still reads, with that field at its default.
#[serde(default)]
pub struct MicroReport {
    pub date: String,
    /// /proc/loadavg when the phase started: other work on the machine shows here. Always
    /// written; `None` when read from a run older than the field, which the report leaves out.
    pub load_average: Option<String>,
    pub cores: usize,
    pub connections: usize,
    pub smoke: bool,
    pub ceiling_empty_handler: Option<Summary>,
    pub ceiling_mongo_find_100: Option<Summary>,
    pub ceiling_mongo_insert: Option<Summary>,
    pub ceiling_jetstream_publish: Option<Summary>,
    pub ceiling_insert_and_publish: Option<Summary>,
    /// An order's own reads, writes and publishes across the fleet, made back to back on the
    /// raw drivers with no service in between: what `POST /api/orders` could at most reach.
    pub ceiling_order_io: Option<Summary>,
    pub currentuser: Option<Summary>,
    pub tickets_list: Option<Summary>,
    /// How many tickets the list returned while `tickets_list` was measured.
    pub tickets_list_size: usize,
    pub tickets_create: Option<Summary>,
    pub orders_create: Option<Summary>,
    /// The `POST /api/tickets` loop until orders' replica (the one consumer of
    /// `ticket:created`) had taken every ticket it created, warm-up included.
    pub tickets_settled: Option<Settled>,
    /// The `POST /api/orders` loop until every service had handled what its orders set off
    /// (reservations, replicas, expiration jobs).
    pub orders_settled: Option<Settled>,
    pub event_path: Option<Summary>,
    /// Peak RSS per service while the micro-benchmarks ran, kB.
    pub peak_rss_kb: std::collections::BTreeMap<String, u64>,
    /// What could not be measured, and why.
    pub not_measured: Vec<String>,
}

/// A loop's writes and the fan-out they set off, from the loop's start until every durable
/// consumer had drained (to within 200 ms): the rate at which the fleet really absorbs them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default)]
pub struct Settled {
    pub count: usize,
    pub seconds: f64,
}

impl Settled {
    fn since(count: usize, started: tokio::time::Instant, settled: tokio::time::Instant) -> Self {
        Self {
            count,
            seconds: (settled - started).as_secs_f64(),
        }
    }

    pub fn rate(&self) -> Option<f64> {
        (self.seconds > 0.0).then(|| self.count as f64 / self.seconds)
    }
}

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let mut report = MicroReport {
        date: chrono::Utc::now().to_rfc3339(),
        load_average: Some(crate::stack::load_average()),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        connections: settings.connections,
        smoke: settings.smoke,
        ..MicroReport::default()
    };
    let ingress = BenchIngress::start(settings).await?;
    let extra: Vec<(&str, u32)> = ingress
        .nginx_pid()
        .map(|pid| ("nginx (bench)", pid))
        .into_iter()
        .collect();
    crate::load::meter_cpu(crate::cpu::CpuMeter::new(settings, &extra));
    let sampler = settings.stack_dir.clone().map(RssSampler::start);
    let result = measure(settings, &ingress.url, &mut report).await;
    if let Some(sampler) = sampler {
        report.peak_rss_kb = sampler.stop();
    }
    ingress.stop().await;
    settings.write_json(&settings.file_name("micro"), &report)?;
    result
}

async fn measure(settings: &Settings, base: &str, report: &mut MicroReport) -> anyhow::Result<()> {
    let n = settings.connections;
    let http = stack::client(n);
    let mongo = mongodb::Client::with_uri_str(settings.mongo_uri()).await?;
    let nats = settings.nats().await?;
    let jetstream = async_nats::jetstream::new(nats);

    // HTTP: the empty handler, then the cheapest real route (a signed cookie checked, no I/O).
    report.ceiling_empty_handler = Some(
        get_loop(
            settings,
            &http,
            "ceiling: empty handler",
            format!("{base}/bench/empty"),
            None,
        )
        .await,
    );
    let seller = stack::sign_up(&http, base, "micro-seller").await?;
    report.currentuser = Some(
        profiled(
            settings,
            "auth",
            "currentuser",
            get_loop(
                settings,
                &http,
                "GET /api/users/currentuser",
                format!("{base}/api/users/currentuser"),
                Some(seller.cookie.clone()),
            ),
        )
        .await,
    );

    // The listing with 100 free tickets, and the same query on the raw driver.
    for _ in 0..100 {
        stack::sell(&http, base, &seller, 10.0).await?;
    }
    let ceiling_db = mongo.database("bench_ceiling");
    ceiling_db.drop().await?;
    let raw_tickets = ceiling_db.collection::<Document>("tickets");
    raw_tickets
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! { "orderId": 1, "_id": 1 })
                .build(),
        )
        .await?;
    let user_id = ObjectId::new();
    raw_tickets
        .insert_many((0..100).map(|_| raw_ticket(user_id)))
        .await?;
    report.ceiling_mongo_find_100 = Some(
        closed_loop(
            "ceiling: mongo find 100",
            n,
            settings.warmup,
            settings.duration,
            {
                let raw_tickets = raw_tickets.clone();
                move |_, _| {
                    let raw_tickets = raw_tickets.clone();
                    async move {
                        let found: Result<Vec<Document>, _> = async {
                            raw_tickets
                                .find(doc! { "orderId": null })
                                .sort(doc! { "_id": 1 })
                                .await?
                                .try_collect()
                                .await
                        }
                        .await;
                        match found {
                            Ok(docs) if docs.len() == 100 => Step::Ok,
                            Ok(docs) => Step::Err(format!("{} documents", docs.len())),
                            Err(e) => Step::Err(e.to_string()),
                        }
                    }
                }
            },
        )
        .await,
    );
    let listed: Vec<serde_json::Value> = http
        .get(format!("{base}/api/tickets"))
        .send()
        .await?
        .json()
        .await?;
    report.tickets_list_size = listed.len();
    if listed.len() != 100 {
        report.not_measured.push(format!(
            "GET /api/tickets was measured with {} free tickets, not 100 (the stack was not fresh)",
            listed.len()
        ));
    }
    report.tickets_list = Some(
        profiled(
            settings,
            "tickets",
            "tickets_list",
            get_loop(
                settings,
                &http,
                "GET /api/tickets (100 tickets)",
                format!("{base}/api/tickets"),
                None,
            ),
        )
        .await,
    );

    // Writes: the raw insert, the raw publish-ack, both in a row (a write's ceiling), the route.
    let stream = jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: "bench_ceiling".to_owned(),
            subjects: vec!["bench.ceiling".to_owned()],
            storage: async_nats::jetstream::stream::StorageType::File,
            // On --ha the services' stream is R3: a publish is acked once a majority stored it.
            num_replicas: settings.stream_replicas(),
            duplicate_window: Duration::from_secs(600),
            ..Default::default()
        })
        .await
        .context("cannot create the bench_ceiling stream")?;
    drop(stream);
    report.ceiling_mongo_insert = Some(
        closed_loop(
            "ceiling: mongo insert",
            n,
            settings.warmup,
            settings.duration,
            {
                let raw_tickets = raw_tickets.clone();
                move |_, _| {
                    let raw_tickets = raw_tickets.clone();
                    async move { step(raw_tickets.insert_one(raw_ticket(user_id)).await) }
                }
            },
        )
        .await,
    );
    report.ceiling_jetstream_publish = Some(
        closed_loop(
            "ceiling: jetstream publish-ack",
            n,
            settings.warmup,
            settings.duration,
            {
                let jetstream = jetstream.clone();
                move |_, _| {
                    let jetstream = jetstream.clone();
                    async move { step(publish(&jetstream).await) }
                }
            },
        )
        .await,
    );
    report.ceiling_insert_and_publish = Some(
        closed_loop(
            "ceiling: insert + publish-ack",
            n,
            settings.warmup,
            settings.duration,
            {
                let raw_tickets = raw_tickets.clone();
                let jetstream = jetstream.clone();
                move |_, _| {
                    let raw_tickets = raw_tickets.clone();
                    let jetstream = jetstream.clone();
                    async move {
                        if let Err(e) = raw_tickets.insert_one(raw_ticket(user_id)).await {
                            return Step::Err(e.to_string());
                        }
                        step(publish(&jetstream).await)
                    }
                }
            },
        )
        .await,
    );
    report.ceiling_order_io = Some(order_io(settings, &ceiling_db, &jetstream).await?);
    let _ = jetstream.delete_stream("bench_ceiling").await;
    let _ = ceiling_db.drop().await;

    let created = Arc::new(std::sync::Mutex::new(Vec::new()));
    let tickets_started = tokio::time::Instant::now();
    report.tickets_create = Some(
        profiled(
            settings,
            "tickets",
            "tickets_create",
            closed_loop(
                "POST /api/tickets",
                n,
                settings.warmup,
                settings.duration,
                {
                    let (http, base, seller, created) = (
                        http.clone(),
                        base.to_owned(),
                        seller.clone(),
                        created.clone(),
                    );
                    move |_, _| {
                        let (http, base, seller, created) =
                            (http.clone(), base.clone(), seller.clone(), created.clone());
                        async move {
                            match stack::sell(&http, &base, &seller, 15.0).await {
                                Ok(id) => {
                                    if let Ok(mut ids) = created.lock() {
                                        ids.push(id);
                                    }
                                    Step::Ok
                                }
                                Err(e) => Step::Err(e.to_string()),
                            }
                        }
                    }
                },
            ),
        )
        .await,
    );

    // Orders must have every ticket before ordering them is a fair measurement of ordering.
    let settled = audit::quiesce(&jetstream, Duration::from_secs(120)).await?;
    let ids: Vec<String> = created.lock().map(|ids| ids.clone()).unwrap_or_default();
    report.tickets_settled = Some(Settled::since(ids.len(), tickets_started, settled));
    let ids = Arc::new(
        ids.into_iter()
            .take(if settings.smoke { 50 } else { 5000 })
            .collect::<Vec<_>>(),
    );
    let buyer = stack::sign_up(&http, base, "micro-buyer").await?;
    let next = Arc::new(AtomicUsize::new(0));
    let (to_order, ordered) = (ids.len(), next.clone());
    let orders_started = tokio::time::Instant::now();
    report.orders_create = Some(
        profiled(
            settings,
            "orders",
            "orders_create",
            closed_loop(
                "POST /api/orders",
                n,
                Duration::ZERO,
                Duration::from_secs(600),
                {
                    let (http, base, buyer) = (http.clone(), base.to_owned(), buyer.clone());
                    move |_, _| {
                        let (http, base, buyer, ids, next) = (
                            http.clone(),
                            base.clone(),
                            buyer.clone(),
                            ids.clone(),
                            next.clone(),
                        );
                        async move {
                            let Some(id) = ids.get(next.fetch_add(1, Ordering::Relaxed)) else {
                                return Step::Exhausted;
                            };
                            match order(&http, &base, &buyer, id).await {
                                Ok(StatusCode::CREATED) => Step::Ok,
                                Ok(status) => {
                                    Step::Err(format!("POST /api/orders answered {status}"))
                                }
                                Err(e) => Step::Err(e.to_string()),
                            }
                        }
                    }
                },
            ),
        )
        .await,
    );

    // At rest: the orders just made still ripple through tickets, orders and expiration. The
    // loop ends before its fan-out does; when that caught up is the orders' settled rate.
    let settled = audit::quiesce(&jetstream, Duration::from_secs(120)).await?;
    let ordered = ordered.load(Ordering::Relaxed).min(to_order);
    report.orders_settled = Some(Settled::since(ordered, orders_started, settled));
    report.event_path = Some(event_path(settings, &http, base, &seller, &buyer).await?);
    Ok(())
}

/// Ticket created → orderable, one ticket at a time, `settings.event_tickets` times.
async fn event_path(
    settings: &Settings,
    http: &reqwest::Client,
    base: &str,
    seller: &Session,
    buyer: &Session,
) -> anyhow::Result<Summary> {
    let mut micros = Vec::with_capacity(settings.event_tickets);
    let mut errors = Vec::new();
    let mut attempts = 0usize;
    let started = Instant::now();
    for _ in 0..settings.event_tickets {
        let id = stack::sell(http, base, seller, 20.0).await?;
        let created = Instant::now();
        loop {
            attempts += 1;
            match order(http, base, buyer, &id).await {
                Ok(StatusCode::CREATED) => {
                    micros.push(created.elapsed().as_micros() as u64);
                    break;
                }
                // Not in orders' replica yet: ask again at once.
                Ok(StatusCode::NOT_FOUND) if created.elapsed() < Duration::from_secs(10) => {}
                Ok(status) => {
                    errors.push(format!("ticket {id}: POST /api/orders answered {status}"));
                    break;
                }
                Err(e) => {
                    errors.push(e.to_string());
                    break;
                }
            }
        }
    }
    let mut summary = Summary::from_latencies(
        "event path: ticket created → orderable",
        1,
        started.elapsed().as_secs_f64(),
        micros,
    );
    summary.errors = errors.len();
    summary.first_error = errors.into_iter().next();
    summary.print();
    eprintln!(
        "[bench] event path: {:.2} POST /api/orders per ticket on average",
        attempts as f64 / settings.event_tickets.max(1) as f64
    );
    Ok(summary)
}

/// With `BENCH_PERF=1`, samples `service` with `perf record` while `measurement` runs and
/// writes its hottest symbols to `perf-<key>.txt` in the run's folder: the profile of a figure.
async fn profiled<F: std::future::Future<Output = Summary>>(
    settings: &Settings,
    service: &str,
    key: &str,
    measurement: F,
) -> Summary {
    // With --ha, its first process: nginx sends it half of the requests.
    let pid = settings
        .stack_dir
        .as_deref()
        .and_then(|dir| stack::service_pids(dir, service).first().copied());
    let key = settings.file_name(key);
    let (Ok("1"), Some(pid)) = (std::env::var("BENCH_PERF").as_deref(), pid) else {
        return measurement.await;
    };
    let data = settings.out_dir.join(format!("perf-{key}.data"));
    let seconds = (settings.warmup + settings.duration).as_secs().max(1);
    let perf = tokio::process::Command::new("perf")
        .args(["record", "-F", "499", "-p", &pid.to_string(), "-o"])
        .arg(&data)
        .args(["--", "sleep", &seconds.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let summary = measurement.await;
    if let Ok(mut perf) = perf {
        let _ = perf.wait().await;
        if let Ok(output) = tokio::process::Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--sort",
                "dso,symbol",
                "--percent-limit",
                "1",
                "-i",
            ])
            .arg(&data)
            .output()
            .await
        {
            let _ = std::fs::write(
                settings.out_dir.join(format!("perf-{key}.txt")),
                output.stdout,
            );
            eprintln!("[bench]     profile of {service}: perf-{key}.txt");
        }
    }
    summary
}

async fn get_loop(
    settings: &Settings,
    http: &reqwest::Client,
    name: &str,
    url: String,
    cookie: Option<String>,
) -> Summary {
    let http = http.clone();
    closed_loop(
        name,
        settings.connections,
        settings.warmup,
        settings.duration,
        move |_, _| {
            let mut request = http.get(&url);
            if let Some(cookie) = &cookie {
                request = request.header(reqwest::header::COOKIE, cookie);
            }
            async move {
                match request.send().await {
                    Ok(response) if response.status() == StatusCode::OK => {
                        match response.bytes().await {
                            Ok(_) => Step::Ok,
                            Err(e) => Step::Err(e.to_string()),
                        }
                    }
                    Ok(response) => Step::Err(format!("answered {}", response.status())),
                    Err(e) => Step::Err(e.to_string()),
                }
            }
        },
    )
    .await
}

async fn order(
    http: &reqwest::Client,
    base: &str,
    buyer: &Session,
    ticket_id: &str,
) -> anyhow::Result<StatusCode> {
    let response = http
        .post(format!("{base}/api/orders"))
        .header(reqwest::header::COOKIE, &buyer.cookie)
        .json(&json!({ "ticketId": ticket_id }))
        .send()
        .await?;
    let status = response.status();
    response.bytes().await?;
    Ok(status)
}

/// The bound of `POST /api/orders`: for each order, the MongoDB reads and writes and the
/// JetStream publishes the contract makes the fleet do, made back to back by the bench itself —
/// orders reads the ticket from its replica and inserts the order (unique on `ticketId`, as the
/// rule of one active order per ticket is), `order:created`; tickets reads and reserves the
/// ticket, `ticket:updated`; orders' replica takes the new version; payments' replica takes the
/// order. Left out, so the bound is generous: the HTTP hop, the four deliveries and their acks,
/// the expiration job in Redis, the removal of published outbox entries and every service's own
/// work. A route that runs at X% of the insert + publish-ack ceiling while this loop runs at Y%
/// is at X/Y of what its I/O allows.
async fn order_io(
    settings: &Settings,
    db: &mongodb::Database,
    jetstream: &async_nats::jetstream::Context,
) -> anyhow::Result<Summary> {
    let tickets = db.collection::<Document>("order_io_tickets");
    let replica = db.collection::<Document>("order_io_ticket_replica");
    let orders = db.collection::<Document>("order_io_orders");
    let payment_orders = db.collection::<Document>("order_io_payment_orders");
    orders
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! { "ticketId": 1 })
                .options(
                    mongodb::options::IndexOptions::builder()
                        .unique(true)
                        .build(),
                )
                .build(),
        )
        .await?;
    // One ticket per order, more than the loop can use, in the owner's collection and the replica.
    let pool = if settings.smoke { 500 } else { 30_000 };
    let user_id = ObjectId::new();
    let pooled: Vec<Document> = (0..pool).map(|_| raw_ticket(user_id)).collect();
    tickets.insert_many(&pooled).await?;
    replica.insert_many(&pooled).await?;
    let ids: Arc<Vec<ObjectId>> = Arc::new(
        pooled
            .iter()
            .filter_map(|ticket| ticket.get_object_id("_id").ok())
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let jetstream = jetstream.clone();
    Ok(closed_loop(
        "ceiling: an order's I/O, inline",
        settings.connections,
        settings.warmup,
        settings.duration,
        move |_, _| {
            let (tickets, replica, orders, payment_orders, jetstream) = (
                tickets.clone(),
                replica.clone(),
                orders.clone(),
                payment_orders.clone(),
                jetstream.clone(),
            );
            let id = ids.get(next.fetch_add(1, Ordering::Relaxed)).copied();
            async move {
                let Some(id) = id else {
                    return Step::Exhausted;
                };
                step(
                    async {
                        let by_id = doc! { "_id": id };
                        replica
                            .find_one(by_id.clone())
                            .await?
                            .context("no ticket in the replica")?;
                        let order_id = ObjectId::new();
                        let expires_at = bson::DateTime::now();
                        orders
                            .insert_one(doc! {
                                "_id": order_id, "userId": user_id, "status": "created",
                                "expiresAt": expires_at, "ticketId": id, "version": 0_i64,
                            })
                            .await?;
                        publish(&jetstream).await?;
                        let ticket = tickets
                            .find_one(by_id.clone())
                            .await?
                            .context("no ticket")?;
                        let version = ticket.get_i64("version")?;
                        tickets
                            .update_one(
                                doc! { "_id": id, "version": version },
                                doc! { "$set": { "orderId": order_id }, "$inc": { "version": 1 } },
                            )
                            .await?;
                        publish(&jetstream).await?;
                        replica
                            .update_one(
                                doc! { "_id": id, "version": version },
                                doc! { "$set": { "version": version + 1 } },
                            )
                            .await?;
                        payment_orders
                            .insert_one(doc! {
                                "_id": order_id, "userId": user_id, "status": "created",
                                "price": 10.0, "expiresAt": expires_at, "version": 0_i64,
                            })
                            .await?;
                        anyhow::Ok(())
                    }
                    .await,
                )
            }
        },
    )
    .await)
}

/// A document shaped like a stored ticket.
fn raw_ticket(user_id: ObjectId) -> Document {
    doc! { "_id": ObjectId::new(), "title": "bench ticket", "price": 10.0, "userId": user_id, "version": 0_i64 }
}

/// One publish as the services' relay does it: a `Nats-Msg-Id`, awaiting the stream's ack.
async fn publish(jetstream: &async_nats::jetstream::Context) -> anyhow::Result<()> {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", ObjectId::new().to_hex().as_str());
    let body = json!({ "id": ObjectId::new().to_hex(), "version": 0, "title": "bench ticket", "price": 10, "userId": ObjectId::new().to_hex() });
    jetstream
        .publish_with_headers("bench.ceiling", headers, serde_json::to_vec(&body)?.into())
        .await?
        .await?;
    Ok(())
}

fn step<T, E: std::fmt::Display>(result: Result<T, E>) -> Step {
    match result {
        Ok(_) => Step::Ok,
        Err(e) => Step::Err(e.to_string()),
    }
}
