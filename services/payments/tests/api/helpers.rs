//! Spawns the payments service on a random port with a database, a NATS server and a Stripe
//! stand-in of its own.

use std::net::SocketAddr;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{Document, doc};
use common::SessionKeys;
use common::events::{Event, OrderCreated, OrderCreatedTicket, OrderStatus, Publisher};
use common::service::{Running, Tuning};
use reqwest::Response;
use reqwest::header::COOKIE;
use serde_json::Value;
use stripe_standin::StandIn;
pub use test_support::http::{assert_errors, eventually};
use test_support::mongo::TestDb;
use test_support::nats::{StoredEvent, TestNats};

pub const JWT_KEY: &str = "test-jwt-key";
pub const STRIPE_KEY: &str = "sk_test_payments";
pub const WAIT: Duration = Duration::from_secs(15);

pub struct TestApp {
    pub address: SocketAddr,
    pub http: reqwest::Client,
    pub db: TestDb,
    pub standin: StandIn,
    pub nats: TestNats,
    /// The service, running as long as the test.
    _service: Running,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with the configuration changed by `configure` first.
    pub async fn spawn_with(configure: impl FnOnce(&mut payments::Config)) -> Self {
        Self::spawn_tuned(configure, |_| {}).await
    }

    /// Spawns with the configuration and the tuning changed first.
    pub async fn spawn_tuned(
        configure: impl FnOnce(&mut payments::Config),
        tune: impl FnOnce(&mut Tuning),
    ) -> Self {
        // Logs show up in the output of a failing test (RUST_LOG to filter).
        common::telemetry::init();
        let db = TestDb::new().await;
        let nats = TestNats::start().await;
        let standin = StandIn::spawn().await;
        let mut config = payments::Config {
            service: common::config::ServiceConfig::local(
                &db.uri.clone(),
                &nats.url.clone(),
                "payments-test",
                JWT_KEY,
            ),
            stripe_key: STRIPE_KEY.into(),
            stripe_api_base: standin.url(),
        };
        configure(&mut config);
        let mut tuning = Tuning::fast();
        tune(&mut tuning);
        let service = payments::build(config, tuning)
            .await
            .expect("payments builds")
            .spawn()
            .expect("payments runs");
        let app = Self {
            address: service.address(),
            _service: service,
            http: test_support::http::client(),
            db,
            standin,
            nats,
        };
        test_support::http::wait_ready(&app.http, &app.url(""), Duration::from_secs(20)).await;
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// The `Cookie` header of a signed-in user (the original's `global.signin(id)`).
    pub fn cookie(&self, user_id: ObjectId) -> String {
        SessionKeys::new(JWT_KEY, false)
            .cookie_header(&user_id.to_hex(), "test@test.com")
            .expect("signs")
    }

    pub async fn pay(&self, cookie: Option<&str>, body: &Value) -> Response {
        let mut request = self.http.post(self.url("/api/payments")).json(body);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send().await.expect("request sent")
    }

    /// An order in the replica, as the original's tests build one directly.
    pub async fn seed_order(&self, user_id: ObjectId, status: OrderStatus, price: f64) -> ObjectId {
        let id = ObjectId::new();
        self.orders()
            .insert_one(doc! {
                "_id": id, "version": 0_i64, "status": status.as_str(), "userId": user_id, "price": price,
            })
            .await
            .expect("order seeded");
        id
    }

    /// An order as orders announces it (`order:created`, expiring `expires_in` from now), once
    /// the replica holds it.
    pub async fn announce_order(
        &self,
        user_id: ObjectId,
        price: f64,
        expires_in: chrono::Duration,
    ) -> OrderCreated {
        let order = OrderCreated {
            id: ObjectId::new(),
            version: 0,
            status: OrderStatus::Created,
            user_id,
            expires_at: chrono::Utc::now() + expires_in,
            ticket: OrderCreatedTicket {
                id: ObjectId::new(),
                price,
            },
        };
        self.publish(&order).await;
        eventually("the replica to hold the order", WAIT, || async {
            self.order(order.id).await.map(|_| ())
        })
        .await;
        order
    }

    pub fn orders(&self) -> mongodb::Collection<Document> {
        self.db.db.collection("orders")
    }

    pub fn payments(&self) -> mongodb::Collection<Document> {
        self.db.db.collection("payments")
    }

    pub async fn order(&self, id: ObjectId) -> Option<Document> {
        self.orders()
            .find_one(doc! { "_id": id })
            .await
            .expect("query")
    }

    pub async fn payments_for(&self, order_id: ObjectId) -> Vec<Document> {
        use futures::TryStreamExt as _;
        self.payments()
            .find(doc! { "orderId": order_id })
            .await
            .expect("query")
            .try_collect()
            .await
            .expect("cursor")
    }

    pub async fn publish<E: Event>(&self, event: &E) {
        Publisher::new(self.nats.jetstream().await)
            .publish(event)
            .await
            .expect("event published");
    }

    /// Every event stored on `subject`, oldest first.
    pub async fn stored(&self, subject: &str) -> Vec<StoredEvent> {
        self.nats.published(subject).await
    }

    /// Waits until `durable` has acknowledged everything it was given.
    pub async fn wait_acked(&self, durable: &str) {
        let info = self.nats.wait_consumer_idle(durable, WAIT).await;
        assert!(
            info.delivered.stream_sequence > 0,
            "{durable} delivered nothing: {info:?}"
        );
    }
}
