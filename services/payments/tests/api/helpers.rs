//! Spawns the payments service on a random port with a database, a NATS server and a Stripe
//! stand-in of its own.

use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream;
use bson::oid::ObjectId;
use bson::{Document, doc};
use common::SessionKeys;
use common::events::{Event, OrderStatus, Publisher, STREAM};
use reqwest::Response;
use reqwest::header::COOKIE;
use serde_json::Value;
use stripe_standin::StandIn;
pub use test_support::http::{assert_errors, eventually};
use test_support::mongo::TestDb;

use crate::nats_server::NatsServer;

pub const JWT_KEY: &str = "test-jwt-key";
pub const STRIPE_KEY: &str = "sk_test_payments";
pub const WAIT: Duration = Duration::from_secs(15);

pub struct TestApp {
    pub address: SocketAddr,
    pub http: reqwest::Client,
    pub db: TestDb,
    pub standin: StandIn,
    /// The test's own JetStream context, to publish events and read the stream.
    pub jetstream: jetstream::Context,
    _nats_server: NatsServer,
}

/// A message as it sits in the stream.
#[derive(Debug, Clone)]
pub struct Stored {
    pub body: Value,
    pub msg_id: Option<String>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        // Logs show up in the output of a failing test (RUST_LOG to filter).
        common::telemetry::init();
        let db = TestDb::new().await;
        let nats_server = NatsServer::start().await;
        let standin = StandIn::spawn().await;
        let config = payments::Config {
            mongo_uri: db.uri.clone(),
            nats_url: nats_server.url.clone(),
            nats_client_id: "payments-test".to_owned(),
            jwt_key: JWT_KEY.to_owned(),
            stripe_key: STRIPE_KEY.to_owned(),
            stripe_api_base: standin.url(),
            port: 0,
            cookie_secure: false,
        };
        let mut tuning = payments::Tuning::default();
        tuning.listener.not_yet_delay = Duration::from_millis(50);
        tuning.listener.retry_delay = Duration::from_millis(100);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let address = listener.local_addr().expect("has an address");
        tokio::spawn(async move {
            if let Err(error) =
                payments::run_tuned(config, tuning, listener, std::future::pending()).await
            {
                panic!("payments stopped: {error:?}");
            }
        });
        // The service has created the stream by the time it is ready.
        let client = async_nats::connect(&nats_server.url)
            .await
            .expect("test connects to NATS");
        let jetstream = jetstream::new(client);
        let app = Self {
            address,
            http: test_support::http::client(),
            db,
            standin,
            jetstream,
            _nats_server: nats_server,
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
        Publisher::new(self.jetstream.clone())
            .publish(event)
            .await
            .expect("event published");
    }

    /// Every message on `subject` in the stream, oldest first.
    pub async fn stored(&self, subject: &str) -> Vec<Stored> {
        let stream = self
            .jetstream
            .get_stream(STREAM)
            .await
            .expect("the stream exists");
        let last = stream
            .get_info()
            .await
            .expect("stream info")
            .state
            .last_sequence;
        let mut found = Vec::new();
        for sequence in 1..=last {
            let Ok(message) = stream.get_raw_message(sequence).await else {
                continue;
            };
            if message.subject.as_str() != subject {
                continue;
            }
            found.push(Stored {
                body: serde_json::from_slice(&message.payload).expect("a JSON body"),
                msg_id: message
                    .headers
                    .get("Nats-Msg-Id")
                    .map(|value| value.as_str().to_owned()),
            });
        }
        found
    }

    /// Waits until `durable` has acknowledged everything it was given.
    pub async fn wait_acked(&self, durable: &str) {
        let js = &self.jetstream;
        eventually(&format!("{durable} to ack everything"), WAIT, || async {
            let mut consumer: jetstream::consumer::PullConsumer =
                js.get_consumer_from_stream(durable, STREAM).await.ok()?;
            let info = consumer.info().await.ok()?;
            (info.num_pending == 0
                && info.num_ack_pending == 0
                && info.delivered.stream_sequence > 0)
                .then_some(())
        })
        .await;
    }
}
