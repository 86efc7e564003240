//! Spawns the orders service on a random port with a database and a NATS server of its own, and
//! the ways tests drive it: signed-in requests, replica tickets, events in and out.

use std::time::Duration;

use bson::doc;
use bson::oid::ObjectId;
use common::events::{ConsumerStats, Event, Nats, OrderStatus, Publisher, QueueGroup, Subject};
use common::service::{Running, Tuning};
pub use common::testing::DEADLINE;
use common::testing::{service_config, session_cookie};
use orders::models::order::Order;
use orders::models::ticket::Ticket;
use reqwest::Response;
use serde_json::Value;
use test_support::http::Api;
pub use test_support::http::{assert_errors, eventually};
use test_support::mongo::TestDb;
use test_support::nats::{StoredEvent, TestNats};

pub struct TestApp {
    pub api: Api,
    pub db: TestDb,
    pub nats: TestNats,
    /// What the service's event consumers have done.
    pub stats: ConsumerStats,
    publisher: Publisher,
    /// The service, running as long as the test.
    _service: Running,
}

test_support::requests_through_api!(TestApp);

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with_window(orders::config::DEFAULT_EXPIRATION_WINDOW).await
    }

    pub async fn spawn_with_window(expiration_window: Duration) -> Self {
        Self::spawn_with(expiration_window, Tuning::fast()).await
    }

    pub async fn spawn_with(expiration_window: Duration, tuning: Tuning) -> Self {
        let db = TestDb::new().await;
        let nats = TestNats::start().await;
        let config = orders::Config {
            service: service_config(&db.uri, &nats.url, "orders-test"),
            expiration_window,
        };
        let app = orders::build(config, tuning)
            .await
            .expect("orders builds")
            .spawn()
            .expect("orders runs");
        let stats = app.consumer_stats();
        let publisher = Nats::from_client(nats.client().await)
            .await
            .expect("test publisher connects")
            .publisher();
        let app = Self {
            api: Api::new(app.address()),
            db,
            nats,
            stats,
            publisher,
            _service: app,
        };
        app.api.wait_ready().await;
        app
    }

    /// A fresh user: their id and the `Cookie` header of their session (the original's
    /// `global.signin()`).
    pub fn sign_in(&self) -> (ObjectId, String) {
        let id = ObjectId::new();
        (id, session_cookie(id))
    }

    pub async fn post_order(&self, cookie: Option<&str>, body: &Value) -> Response {
        self.post_json("/api/orders", cookie, body).await
    }

    /// `POST /api/orders {ticketId}` as `cookie`'s user.
    pub async fn order(&self, cookie: &str, ticket_id: ObjectId) -> Response {
        self.post_order(
            Some(cookie),
            &serde_json::json!({ "ticketId": ticket_id.to_hex() }),
        )
        .await
    }

    /// Orders `ticket_id` and returns the created order's JSON.
    pub async fn ordered(&self, cookie: &str, ticket_id: ObjectId) -> Value {
        let response = self.order(cookie, ticket_id).await;
        assert_eq!(response.status(), 201);
        response.json().await.expect("order json")
    }

    /// A ticket ordered by a new signed-in user: the ticket, the user's cookie, the order's JSON.
    pub async fn an_order(&self) -> (Ticket, String, Value) {
        let ticket = self.build_ticket("concert", 20.0).await;
        let (_, cookie) = self.sign_in();
        let order = self.ordered(&cookie, ticket.id).await;
        (ticket, cookie, order)
    }

    /// A ticket ordered by one signed-in user, and a second signed-in user: the ticket, the
    /// cookies of both, and the order's JSON.
    pub async fn ordered_with_another_user(&self) -> (Ticket, String, String, Value) {
        let ticket = self.build_ticket("concert", 20.0).await;
        let (_, first) = self.sign_in();
        let (_, second) = self.sign_in();
        let order = self.ordered(&first, ticket.id).await;
        (ticket, first, second, order)
    }

    pub fn tickets(&self) -> mongodb::Collection<Ticket> {
        self.db.db.collection(Ticket::COLLECTION)
    }

    pub fn orders(&self) -> mongodb::Collection<Order> {
        self.db.db.collection(Order::COLLECTION)
    }

    /// A ticket in the replica at version 0, as `ticket:created` would leave it (the original's
    /// `buildTicket`).
    pub async fn build_ticket(&self, title: &str, price: f64) -> Ticket {
        let ticket = Ticket {
            id: ObjectId::new(),
            title: title.to_owned(),
            price,
            version: 0,
        };
        self.tickets()
            .insert_one(&ticket)
            .await
            .expect("ticket inserted");
        ticket
    }

    /// An order written straight to the database, in any status.
    pub async fn insert_order(
        &self,
        user_id: ObjectId,
        ticket_id: ObjectId,
        status: OrderStatus,
    ) -> Order {
        let order = Order {
            status,
            ..Order::new(user_id, ticket_id, Duration::from_secs(60))
        };
        self.orders()
            .insert_one(&order)
            .await
            .expect("order inserted");
        order
    }

    pub async fn stored_order(&self, id: ObjectId) -> Option<Order> {
        self.orders()
            .find_one(doc! { "_id": id })
            .await
            .expect("order read")
    }

    pub async fn stored_ticket(&self, id: ObjectId) -> Option<Ticket> {
        self.tickets()
            .find_one(doc! { "_id": id })
            .await
            .expect("ticket read")
    }

    /// Publishes `event` into the stream as another service would; returns its stream sequence.
    pub async fn publish<E: Event>(&self, event: &E) -> u64 {
        self.publisher
            .publish(event)
            .await
            .expect("event published")
            .sequence
    }

    /// Waits until the stream holds `count` events on `subject`; returns them, oldest first.
    pub async fn wait_published(&self, subject: Subject, count: usize) -> Vec<StoredEvent> {
        self.nats
            .wait_for_published(subject.as_str(), count, DEADLINE)
            .await
    }

    /// Bodies of the events on `subject` in the stream, oldest first.
    pub async fn published(&self, subject: Subject) -> Vec<Value> {
        self.nats.bodies(subject.as_str()).await
    }

    /// Waits until the service has handled (and acked) at least `count` events in all.
    pub async fn wait_handled(&self, count: u64) {
        let stats = self.stats.clone();
        eventually(&format!("{count} events handled"), DEADLINE, || {
            let handled = stats.handled();
            async move { (handled >= count).then_some(()) }
        })
        .await;
    }

    /// The service's durable consumer for `subject`, once everything delivered so far is settled.
    pub async fn idle_consumer(&self, subject: Subject) -> async_nats::jetstream::consumer::Info {
        self.nats
            .wait_consumer_idle(&QueueGroup::ORDERS.durable_name(subject), DEADLINE)
            .await
    }

    /// Events on `subject` kept by the outbox: in its collection (published or not), or still
    /// embedded in the order they are about (until published).
    pub async fn outbox_entries(&self, subject: Subject) -> u64 {
        let collected = self
            .db
            .db
            .collection::<bson::Document>(common::outbox::COLLECTION)
            .count_documents(doc! { "subject": subject.as_str() })
            .await
            .expect("outbox counted");
        let embedded_subject = format!("{}.subject", common::outbox::EMBEDDED);
        let embedded = self
            .orders()
            .count_documents(doc! { embedded_subject: subject.as_str() })
            .await
            .expect("orders counted");
        collected + embedded
    }
}

impl TestApp {
    /// Waits until the stored order satisfies `done`, and returns it.
    pub async fn wait_order(
        &self,
        id: ObjectId,
        what: &str,
        done: impl Fn(&Order) -> bool,
    ) -> Order {
        let done = &done;
        eventually(what, DEADLINE, || async move {
            self.stored_order(id).await.filter(|order| done(order))
        })
        .await
    }

    /// Waits until the replica holds `version` of the ticket, and returns it.
    pub async fn wait_ticket_version(&self, id: ObjectId, version: i64) -> Ticket {
        eventually(
            &format!("ticket at version {version}"),
            DEADLINE,
            || async move {
                self.stored_ticket(id)
                    .await
                    .filter(|ticket| ticket.version == version)
            },
        )
        .await
    }
}

/// The path of an order given as its API JSON.
pub fn order_path(order: &Value) -> String {
    format!("/api/orders/{}", order["id"].as_str().expect("an order id"))
}
