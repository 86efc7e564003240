//! Spawns the payments service on a random port with a database, a NATS server and a Stripe
//! stand-in of its own.

use bson::oid::ObjectId;
use bson::{Document, doc};
use common::events::{Event, OrderCreated, OrderStatus, Publisher};
use common::service::{Running, Tuning};
pub use common::testing::DEADLINE;
use common::testing::{service_config, session_cookie};
use reqwest::Response;
use serde_json::Value;
use stripe_standin::StandIn;
use test_support::http::Api;
pub use test_support::http::{assert_errors, eventually};
use test_support::mongo::TestDb;
use test_support::nats::{StoredEvent, TestNats};

pub const STRIPE_KEY: &str = "sk_test_payments";

pub struct TestApp {
    pub api: Api,
    pub db: TestDb,
    pub standin: StandIn,
    pub nats: TestNats,
    /// The service, running as long as the test.
    _service: Running,
}

test_support::requests_through_api!(TestApp);

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
        std::mem::forget(common::telemetry::init("payments"));
        let db = TestDb::new().await;
        let nats = TestNats::start().await;
        let standin = StandIn::spawn().await;
        let mut config = payments::Config {
            service: service_config(&db.uri, &nats.url, "payments-test"),
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
            api: Api::new(service.address()),
            _service: service,
            db,
            standin,
            nats,
        };
        app.api.wait_ready().await;
        app
    }

    /// The `Cookie` header of a signed-in user (the original's `global.signin(id)`).
    pub fn cookie(&self, user_id: ObjectId) -> String {
        session_cookie(user_id)
    }

    pub async fn pay(&self, cookie: Option<&str>, body: &Value) -> Response {
        self.post_json("/api/payments", cookie, body).await
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
            expires_at: chrono::Utc::now() + expires_in,
            ..common::testing::order_created(user_id, ObjectId::new(), price)
        };
        self.publish(&order).await;
        eventually("the replica to hold the order", DEADLINE, || async {
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

    /// Waits until the stream holds `count` events on `subject`; returns them, oldest first.
    pub async fn wait_published(&self, subject: &str, count: usize) -> Vec<StoredEvent> {
        self.nats.wait_for_published(subject, count, DEADLINE).await
    }

    /// Waits until `durable` has settled everything delivered so far.
    pub async fn wait_idle(&self, durable: &str) {
        self.nats.wait_consumer_idle(durable, DEADLINE).await;
    }

    /// Waits until `durable` has acknowledged everything it was given.
    pub async fn wait_acked(&self, durable: &str) {
        let info = self.nats.wait_consumer_idle(durable, DEADLINE).await;
        assert!(
            info.delivered.stream_sequence > 0,
            "{durable} delivered nothing: {info:?}"
        );
    }
}
