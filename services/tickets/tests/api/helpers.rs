//! Spawns the tickets service on a random port with a database and a NATS server of its own.

use bson::oid::ObjectId;
use common::events::{ConsumerStats, Event, Nats, OrderCreated, Published};
use common::outbox::Outbox;
use common::service::{Running, Tuning};
pub use common::testing::{DEADLINE, order_cancelled};
use common::testing::{service_config, session_cookie};
use serde_json::{Value, json};
use test_support::http::Api;
pub use test_support::http::{assert_errors, eventually};
use test_support::mongo::TestDb;
use test_support::nats::{StoredEvent, TestNats};
use tickets::store::Store;

pub const ORDER_CREATED_CONSUMER: &str = "tickets-service-order-created";
pub const ORDER_CANCELLED_CONSUMER: &str = "tickets-service-order-cancelled";

pub struct TestApp {
    pub app: Running,
    store: Store,
    pub api: Api,
    pub db: TestDb,
    pub nats: TestNats,
}

test_support::requests_through_api!(TestApp);

/// The service's configuration for a test's own database and NATS server.
pub fn test_config(db: &TestDb, nats: &TestNats) -> tickets::Config {
    tickets::Config {
        service: service_config(&db.uri, &nats.url, "tickets-test"),
    }
}

async fn start(config: tickets::Config, tuning: Tuning) -> Running {
    tickets::build(config, tuning)
        .await
        .expect("tickets builds")
        .spawn()
        .expect("tickets runs")
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with the test tuning adjusted by `tweak`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Tuning)) -> Self {
        let (db, nats) = tokio::join!(TestDb::new(), TestNats::start());
        let mut tuning = Tuning::fast();
        tweak(&mut tuning);
        let app = start(test_config(&db, &nats), tuning).await;
        // The store as the handlers see it, for tests that drive it directly.
        let bus = Nats::from_client(nats.client().await)
            .await
            .expect("the stream exists");
        let outbox = Outbox::new(db.client.clone(), &db.db, bus.publisher());
        Self {
            api: Api::new(app.address()),
            app,
            store: Store::new(&db.db, outbox),
            db,
            nats,
        }
    }

    /// Another instance of the service on the same database and NATS server.
    pub async fn spawn_replica(&self, tweak: impl FnOnce(&mut Tuning)) -> Running {
        let mut config = test_config(&self.db, &self.nats);
        config.service.nats.client_id = "tickets-test-replica".to_owned();
        let mut tuning = Tuning::fast();
        tweak(&mut tuning);
        start(config, tuning).await
    }

    /// What this instance's event consumers did.
    pub fn consumer_stats(&self) -> ConsumerStats {
        self.app.consumer_stats()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The stored ticket `id`, which must exist.
    pub async fn stored(&self, id: ObjectId) -> tickets::models::ticket::Ticket {
        tickets::models::ticket::find(&self.store.tickets, id)
            .await
            .expect("reads")
            .expect("the ticket exists")
    }

    /// A `Cookie` header for a signed-in user with this id.
    pub fn cookie_for(&self, user_id: ObjectId) -> String {
        session_cookie(user_id)
    }

    /// A `Cookie` header for a new signed-in user.
    pub fn cookie(&self) -> String {
        session_cookie(ObjectId::new())
    }

    /// Creates a ticket through the API; returns its JSON.
    pub async fn create_ticket(&self, cookie: &str, title: &str, price: f64) -> Value {
        let response = self
            .post_json(
                "/api/tickets",
                Some(cookie),
                &json!({ "title": title, "price": price }),
            )
            .await;
        assert_eq!(response.status(), 201);
        response.json().await.expect("ticket JSON")
    }

    /// `GET /api/tickets/:id`, which must answer 200.
    pub async fn ticket(&self, id: &str) -> Value {
        let response = self.get(&format!("/api/tickets/{id}"), None).await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("ticket JSON")
    }

    /// Waits until the stream holds `count` events on `subject`; returns them, oldest first.
    pub async fn wait_published(&self, subject: &str, count: usize) -> Vec<StoredEvent> {
        self.nats.wait_for_published(subject, count, DEADLINE).await
    }

    /// Publishes an event as another service would.
    pub async fn publish<E: Event>(&self, event: &E) -> Published {
        let nats = Nats::from_client(self.nats.client().await)
            .await
            .expect("stream exists");
        nats.publisher().publish(event).await.expect("published")
    }

    /// Publishes `order:created` for the ticket and waits until the ticket shows the order.
    pub async fn reserve(&self, ticket: &Value) -> OrderCreated {
        let order = order_created(ticket);
        self.publish(&order).await;
        let id = ticket["id"].as_str().expect("ticket id");
        let order_id = order.id.to_hex();
        eventually("the ticket to be reserved", DEADLINE, || async {
            (self.ticket(id).await["orderId"] == order_id.as_str()).then_some(())
        })
        .await;
        order
    }
}

/// An `order:created` for a ticket given as its API JSON.
pub fn order_created(ticket: &Value) -> OrderCreated {
    common::testing::order_created(
        ObjectId::new(),
        oid(&ticket["id"]),
        ticket["price"].as_f64().expect("price"),
    )
}

pub fn oid(value: &Value) -> ObjectId {
    ObjectId::parse_str(value.as_str().expect("an id string")).expect("a 24-hex id")
}
