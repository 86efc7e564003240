//! What the tests share: a connection to a test's own NATS server, quick listener settings, and
//! sample events.

use std::sync::PoisonError;
use std::time::Duration;

use bson::oid::ObjectId;
use common::events::{ConsumerOptions, Nats, OrderCancelled, OrderCancelledTicket, TicketCreated};
use test_support::nats::TestNats;

/// How long any awaited condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub async fn connect(nats: &TestNats) -> Nats {
    Nats::connect(&common::config::NatsConfig::local(
        &nats.url,
        "common-tests",
    ))
    .await
    .expect("connects and creates the stream")
}

/// The contract's rules with delays short enough for tests.
pub fn quick_options() -> ConsumerOptions {
    ConsumerOptions {
        max_deliver: 4,
        not_yet_delay: Duration::from_millis(20),
        retry_delay: Duration::from_millis(20),
        max_retry_delay: Duration::from_millis(100),
        ..ConsumerOptions::default()
    }
}

pub fn ticket_created(title: &str) -> TicketCreated {
    TicketCreated {
        id: ObjectId::new(),
        version: 0,
        title: title.to_owned(),
        price: 20.0,
        user_id: ObjectId::new(),
    }
}

pub fn order_cancelled(version: i64) -> OrderCancelled {
    OrderCancelled {
        id: ObjectId::new(),
        version,
        ticket: OrderCancelledTicket {
            id: ObjectId::new(),
        },
    }
}

/// Serves `routes` finished as every service's router is; returns the base URL.
pub async fn serve_routes(routes: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(common::http::serve(
        listener,
        common::http::finish_router(routes, common::http::Readiness::new()),
        std::future::pending(),
    ));
    base
}

/// Logging into a [`Captured`] while it lives.
pub struct Logging(
    #[allow(dead_code)] tracing::subscriber::DefaultGuard,
    #[allow(dead_code)] common::telemetry::Telemetry,
);

/// Where a test's log lines go: a buffer the test reads back.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Logs (and traces, as `settings` say) into this buffer as the services do, until the
    /// guard is dropped. The test runtime is single-threaded, so the tasks a test spawns log
    /// into this thread's subscriber too.
    pub fn logs(&self, settings: common::telemetry::Settings) -> Logging {
        let writer = self.clone();
        let (subscriber, telemetry) =
            common::telemetry::subscriber("test", settings, move || writer.clone());
        Logging(tracing::subscriber::set_default(subscriber), telemetry)
    }

    /// The lines logged so far.
    pub fn lines(&self) -> Vec<String> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        String::from_utf8(bytes)
            .expect("utf-8")
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The lines logged so far, parsed (JSON logs).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A client of `uri` that counts the `update` commands sent to `collection` (the marks), so a
/// test can tell a batch from a write per entry.
pub async fn counting_updates(
    uri: &str,
    collection: &'static str,
) -> (
    mongodb::Client,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let updates = std::sync::Arc::new(AtomicUsize::new(0));
    let mut options = mongodb::options::ClientOptions::parse(uri)
        .await
        .expect("a URI");
    let counted = std::sync::Arc::clone(&updates);
    options.command_event_handler = Some(mongodb::event::EventHandler::callback(
        move |event: mongodb::event::command::CommandEvent| {
            if let mongodb::event::command::CommandEvent::Started(started) = event
                && started.command_name == "update"
                && started.command.get_str("update") == Ok(collection)
            {
                counted.fetch_add(1, Ordering::Relaxed);
            }
        },
    ));
    let client = mongodb::Client::with_options(options).expect("a client");
    (client, updates)
}

/// A test's own database with an outbox on it (embedding in `tickets` when `embedding`), and
/// the `tickets` collection its changes write.
pub struct OutboxSetup {
    pub db: test_support::mongo::TestDb,
    pub outbox: common::outbox::Outbox,
    pub tickets: mongodb::Collection<bson::Document>,
}

pub async fn outbox_setup(
    nats: &TestNats,
    options: common::outbox::OutboxOptions,
    embedding: bool,
) -> OutboxSetup {
    let db = test_support::mongo::TestDb::new().await;
    let bus = connect(nats).await;
    let mut outbox = common::outbox::Outbox::new(db.client.clone(), &db.db, bus.publisher())
        .with_options(options);
    if embedding {
        outbox = outbox.embedding_in("tickets");
    }
    outbox.ensure_indexes().await.expect("indexes");
    let tickets = db.db.collection("tickets");
    OutboxSetup {
        db,
        outbox,
        tickets,
    }
}

/// An event's body as published.
pub fn body_of(event: &TicketCreated) -> serde_json::Value {
    serde_json::to_value(event).expect("serialises")
}
