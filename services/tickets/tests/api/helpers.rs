//! Spawns the tickets service on a random port with a database and a NATS server of its own.

use std::net::SocketAddr;
use std::time::Duration;

use bson::oid::ObjectId;
use common::SessionKeys;
use common::events::{
    Event, ListenerOptions, Nats, OrderCancelled, OrderCancelledTicket, OrderCreated,
    OrderCreatedTicket, OrderStatus, Published,
};
use common::outbox::OutboxOptions;
use reqwest::Response;
use reqwest::header::COOKIE;
use serde_json::{Value, json};
pub use test_support::http::{assert_errors, eventually};
use test_support::mongo::TestDb;
use test_support::nats::TestNats;
use tickets::models::ticket::TicketStore;

pub const JWT_KEY: &str = "test-jwt-key";
/// How long any awaited condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub const ORDER_CREATED_CONSUMER: &str = "tickets-service-order-created";
pub const ORDER_CANCELLED_CONSUMER: &str = "tickets-service-order-cancelled";

pub struct TestApp {
    pub app: tickets::App,
    pub address: SocketAddr,
    pub http: reqwest::Client,
    pub db: TestDb,
    pub nats: TestNats,
    keys: SessionKeys,
}

/// The service's configuration with the contract's rules but test-sized delays.
pub fn test_config(db: &TestDb, nats: &TestNats) -> tickets::Config {
    tickets::Config {
        service: common::config::ServiceConfig {
            mongo_uri: db.uri.clone(),
            nats_url: nats.url.clone(),
            nats_client_id: "tickets-test".to_owned(),
            jwt_key: JWT_KEY.to_owned(),
            port: 0,
            cookie_secure: false,
        },
        listener: ListenerOptions {
            not_yet_delay: Duration::from_millis(20),
            retry_delay: Duration::from_millis(20),
            max_retry_delay: Duration::from_millis(200),
            ..ListenerOptions::default()
        },
        outbox: OutboxOptions {
            relay_interval: Duration::from_millis(50),
            relay_grace: Duration::from_millis(200),
            ..OutboxOptions::default()
        },
        relay: true,
    }
}

async fn start(config: tickets::Config) -> tickets::App {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    tickets::start(config, tcp).await.expect("tickets starts")
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with a configuration adjusted by `tweak`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut tickets::Config)) -> Self {
        let (db, nats) = tokio::join!(TestDb::new(), TestNats::start());
        let mut config = test_config(&db, &nats);
        tweak(&mut config);
        let app = start(config).await;
        Self {
            address: app.address(),
            app,
            http: test_support::http::client(),
            db,
            nats,
            keys: SessionKeys::new(JWT_KEY, false),
        }
    }

    /// Another instance of the service on the same database and NATS server.
    pub async fn spawn_replica(&self, tweak: impl FnOnce(&mut tickets::Config)) -> tickets::App {
        let mut config = test_config(&self.db, &self.nats);
        config.service.nats_client_id = "tickets-test-replica".to_owned();
        tweak(&mut config);
        start(config).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub fn store(&self) -> &TicketStore {
        self.app.store()
    }

    /// A `Cookie` header for a signed-in user with this id.
    pub fn cookie_for(&self, user_id: &str) -> String {
        self.keys
            .cookie_header(user_id, "test@test.com")
            .expect("signs")
    }

    /// A `Cookie` header for a new signed-in user.
    pub fn cookie(&self) -> String {
        self.cookie_for(&ObjectId::new().to_hex())
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_json(&self, cookie: Option<&str>, path: &str, body: &Value) -> Response {
        let mut request = self.http.post(self.url(path)).json(body);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send().await.expect("request sent")
    }

    pub async fn put_json(&self, cookie: Option<&str>, path: &str, body: &Value) -> Response {
        let mut request = self.http.put(self.url(path)).json(body);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send().await.expect("request sent")
    }

    /// Creates a ticket through the API; returns its JSON.
    pub async fn create_ticket(&self, cookie: &str, title: &str, price: f64) -> Value {
        let response = self
            .post_json(
                Some(cookie),
                "/api/tickets",
                &json!({ "title": title, "price": price }),
            )
            .await;
        assert_eq!(response.status(), 201);
        response.json().await.expect("ticket JSON")
    }

    /// `GET /api/tickets/:id`, which must answer 200.
    pub async fn ticket(&self, id: &str) -> Value {
        let response = self.get(&format!("/api/tickets/{id}")).await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("ticket JSON")
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
    OrderCreated {
        id: ObjectId::new(),
        version: 0,
        status: OrderStatus::Created,
        user_id: ObjectId::new(),
        expires_at: chrono::Utc::now() + chrono::Duration::minutes(15),
        ticket: OrderCreatedTicket {
            id: oid(&ticket["id"]),
            price: ticket["price"].as_f64().expect("price"),
        },
    }
}

/// The `order:cancelled` of an order.
pub fn order_cancelled(order: &OrderCreated) -> OrderCancelled {
    OrderCancelled {
        id: order.id,
        version: order.version + 1,
        ticket: OrderCancelledTicket {
            id: order.ticket.id,
        },
    }
}

pub fn oid(value: &Value) -> ObjectId {
    ObjectId::parse_str(value.as_str().expect("an id string")).expect("a 24-hex id")
}
