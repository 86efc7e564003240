//! Per-test infrastructure (a NATS server and a Redis server of its own) and expiration apps
//! spawned against it on random ports, which a test can stop and start again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::oid::ObjectId;
use chrono::{DateTime, SecondsFormat, Utc};
use common::service::Running;
use expiration::Config;
use expiration::queue::JobQueue;
use futures::StreamExt as _;
use serde_json::{Value, json};
use test_support::http::Api;
use test_support::nats::{STREAM, StoredEvent, TestNats};
use test_support::redis::TestRedis;

pub const ORDER_CREATED: &str = "order:created";
pub const EXPIRATION_COMPLETE: &str = "expiration:complete";
pub const DURABLE: &str = "expiration-service-order-created";
/// How late a job may fire: the poll interval, a publish, and a loaded CI machine.
pub const MAX_LATENESS_MS: i64 = 1_500;

/// The servers one test owns, shared by the apps it starts.
pub struct Infra {
    pub nats: TestNats,
    pub redis: TestRedis,
}

impl Infra {
    pub async fn start() -> Self {
        let (nats, redis) = tokio::join!(TestNats::start(), TestRedis::start());
        Self { nats, redis }
    }

    pub fn config(&self) -> Config {
        Config {
            nats: common::config::NatsConfig::local(&self.nats.url, "expiration-test"),
            redis_url: self.redis.url(),
            redis_prefix: "expiration".to_owned(),
            port: 0,
        }
    }

    /// Starts an expiration app (a replica) and waits until it is ready.
    pub async fn spawn_app(&self) -> TestApp {
        // Logs show with `--no-capture`; filtered by RUST_LOG.
        std::mem::forget(common::telemetry::init("expiration"));
        let service = expiration::build(self.config(), common::service::Tuning::default())
            .await
            .expect("expiration builds")
            .spawn()
            .expect("expiration runs");
        let app = TestApp {
            api: Api::new(service.address()),
            service,
        };
        app.api.wait_ready().await;
        app
    }

    /// The queue as the app sees it, for looking into Redis (and for playing a dead worker).
    pub async fn queue(&self) -> JobQueue {
        JobQueue::connect(&self.redis.url(), &self.config().redis_prefix)
            .await
            .expect("connects to redis")
    }

    /// Publishes an `order:created` for `order` due at `expires_at`, as the orders service would,
    /// under the message id `msg_id`.
    pub async fn publish_order_created(
        &self,
        order: ObjectId,
        expires_at: DateTime<Utc>,
        msg_id: &str,
    ) {
        let body = order_created(order, expires_at);
        self.nats
            .publish_raw(ORDER_CREATED, msg_id, body.to_string().as_bytes())
            .await;
    }

    /// Waits for `count` `expiration:complete` events in the stream.
    pub async fn wait_for_expirations(&self, count: usize, deadline: Duration) -> Vec<StoredEvent> {
        self.nats
            .wait_for_published(EXPIRATION_COMPLETE, count, deadline)
            .await
    }

    /// When JetStream stored the event at `sequence`, in ms since the Unix epoch.
    pub async fn stored_at_ms(&self, sequence: u64) -> i64 {
        let stream = self
            .nats
            .jetstream()
            .await
            .get_stream(STREAM)
            .await
            .expect("the stream exists");
        let message = stream
            .get_raw_message(sequence)
            .await
            .expect("the message is stored");
        i64::try_from(message.time.unix_timestamp_nanos() / 1_000_000).expect("a sane time")
    }

    /// Waits until every job in Redis has fired and been completed.
    pub async fn wait_queue_empty(&self, deadline: Duration) {
        let queue = self.queue().await;
        test_support::http::eventually("the queue to be empty", deadline, || {
            let queue = queue.clone();
            async move { (queue.counts().await.ok()? == (0, 0)).then_some(()) }
        })
        .await;
    }

    /// Waits until the job of `order` is in Redis, waiting to fall due.
    pub async fn wait_scheduled(&self, order: ObjectId) -> i64 {
        let queue = self.queue().await;
        let job = order.to_hex();
        test_support::http::eventually("the job to be scheduled", Duration::from_secs(10), || {
            let queue = queue.clone();
            let job = job.clone();
            async move { queue.due_at(&job).await.ok().flatten() }
        })
        .await
    }

    /// Records every `expiration:complete` *sent* (a core subscription sees a publish even when
    /// JetStream drops it as a duplicate), so tests can count publishes, not just stored events.
    pub async fn watch_publishes(&self) -> PublishWatch {
        let client = async_nats::connect(&self.nats.url)
            .await
            .expect("connects to nats");
        let mut subscription = client
            .subscribe(EXPIRATION_COMPLETE)
            .await
            .expect("subscribes");
        client.flush().await.expect("subscription registered");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Some(message) = subscription.next().await {
                let body: Value = serde_json::from_slice(&message.payload).unwrap_or(Value::Null);
                sink.lock().expect("not poisoned").push(body);
            }
        });
        PublishWatch { client, seen }
    }
}

pub struct PublishWatch {
    client: async_nats::Client,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl PublishWatch {
    /// Every body published so far. The flush round trip makes the server deliver whatever it
    /// routed to this subscription before answering.
    pub async fn bodies(&self) -> Vec<Value> {
        self.client.flush().await.expect("flushes");
        // The subscription task may still be moving the last delivered message into the list.
        tokio::task::yield_now().await;
        self.seen.lock().expect("not poisoned").clone()
    }
}

/// The `order:created` body the orders service publishes.
pub fn order_created(order: ObjectId, expires_at: DateTime<Utc>) -> Value {
    json!({
        "id": order.to_hex(),
        "version": 0,
        "status": "created",
        "userId": ObjectId::new().to_hex(),
        "expiresAt": expires_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "ticket": { "id": ObjectId::new().to_hex(), "price": 20 },
    })
}

/// Now plus `millis`, truncated to whole milliseconds as the wire format carries them.
pub fn in_ms(millis: i64) -> DateTime<Utc> {
    let at = Utc::now() + chrono::Duration::milliseconds(millis);
    DateTime::from_timestamp_millis(at.timestamp_millis()).expect("a valid time")
}

/// One running expiration app.
pub struct TestApp {
    pub api: Api,
    service: Running,
}

test_support::requests_through_api!(TestApp);

impl TestApp {
    /// Shuts the app down as SIGTERM would, and waits until it has stopped.
    pub async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(15), self.service.stop())
            .await
            .expect("the app stops within 15 s")
            .expect("the app stops cleanly");
    }
}
