//! A NATS that gives each service a user allowed only its own subjects (production's NATS users,
//! `NATS_USER`/`NATS_PASSWORD`): the services' connection, stream set-up, publishing and
//! consuming work within those permissions, and a publish outside them is refused.

use std::sync::Arc;

use bson::oid::ObjectId;
use common::config::NatsConfig;
use common::events::{Nats, OrderCreated, OrderCreatedTicket, OrderStatus, QueueGroup, Subject};
use test_support::http::eventually;
use test_support::nats::TestNats;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::helpers::{DEADLINE, ticket_created};

/// What a service needs besides its own subjects: JetStream's API (streams, consumers, pull
/// requests), acks, and replies on inboxes.
const USERS: &str = r#"
authorization {
  users = [
    { user: test-support, password: test-support }
    { user: tickets, password: "tickets-secret",
      permissions: {
        publish: ["$JS.API.>", "$JS.ACK.>", "ticket:created", "ticket:updated"],
        subscribe: ["_INBOX.>"] } }
    { user: orders, password: "orders-secret",
      permissions: {
        publish: ["$JS.API.>", "$JS.ACK.>", "order:created", "order:cancelled"],
        subscribe: ["_INBOX.>"] } }
  ]
}
"#;

fn as_user(nats: &TestNats, user: &str, password: &str) -> NatsConfig {
    NatsConfig::local(&nats.url, user).with_credentials(user, password)
}

#[tokio::test]
async fn each_service_publishes_its_own_subjects_and_consumes_within_its_permissions() {
    let nats = TestNats::start_with_config(USERS).await;
    let tickets = Nats::connect(&as_user(&nats, "tickets", "tickets-secret"))
        .await
        .expect("tickets connects and sets up the streams as its user");
    let orders = Nats::connect(&as_user(&nats, "orders", "orders-secret"))
        .await
        .expect("orders connects as its user");

    let shutdown = CancellationToken::new();
    let received = Arc::new(Mutex::new(Vec::new()));
    let mut consumers = tickets.consumers(QueueGroup::TICKETS, shutdown.clone());
    consumers
        .listen(
            received.clone(),
            |event: OrderCreated, received: Arc<Mutex<Vec<ObjectId>>>| async move {
                received.lock().await.push(event.id);
                Ok(())
            },
        )
        .await
        .expect("tickets' consumer is created and pulls as its user");

    let order = OrderCreated {
        id: ObjectId::new(),
        version: 0,
        status: OrderStatus::Created,
        user_id: ObjectId::new(),
        expires_at: chrono::Utc::now() + chrono::Duration::minutes(15),
        ticket: OrderCreatedTicket {
            id: ObjectId::new(),
            price: 20.0,
        },
    };
    orders
        .publisher()
        .publish(&order)
        .await
        .expect("orders publishes order:created");
    eventually("tickets to handle the order", DEADLINE, || async {
        (received.lock().await.as_slice() == [order.id]).then_some(())
    })
    .await;
    tickets
        .publisher()
        .publish(&ticket_created("allowed"))
        .await
        .expect("tickets publishes ticket:created");

    // Someone else's subject: refused by the server, so never stored.
    let refused = tickets.publisher().publish(&order).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(nats.published("order:created").await.len(), 1);

    shutdown.cancel();
    consumers.join().await;
}

#[tokio::test]
async fn a_wrong_or_missing_password_is_refused_at_start() {
    let nats = TestNats::start_with_config(USERS).await;
    let wrong = Nats::connect(&as_user(&nats, "tickets", "not-it")).await;
    assert!(wrong.is_err(), "a wrong password connects");
    let anonymous = Nats::connect(&NatsConfig::local(&nats.url, "anonymous")).await;
    assert!(anonymous.is_err(), "no credentials connects");
}

/// What each service does on NATS, as its code does it: the events it publishes, the events it
/// consumes (one durable consumer each, which parks on `parked.<durable>`), and the database
/// whose outbox parks on `parked.outbox.<database>`.
struct Service {
    user: &'static str,
    group: QueueGroup,
    publishes: &'static [Subject],
    consumes: &'static [Subject],
    outbox: Option<&'static str>,
}

impl Service {
    /// Where its consumers and its outbox record what they give up on.
    fn parking_subjects(&self) -> impl Iterator<Item = String> + '_ {
        self.consumes
            .iter()
            .map(|subject| format!("parked.{}", self.group.durable_name(*subject)))
            .chain(
                self.outbox
                    .map(|database| format!("parked.outbox.{database}")),
            )
    }
}

const FLEET: [Service; 4] = [
    Service {
        user: "tickets",
        group: QueueGroup::TICKETS,
        publishes: &[Subject::TicketCreated, Subject::TicketUpdated],
        consumes: &[Subject::OrderCreated, Subject::OrderCancelled],
        outbox: Some("tickets"),
    },
    Service {
        user: "orders",
        group: QueueGroup::ORDERS,
        publishes: &[Subject::OrderCreated, Subject::OrderCancelled],
        consumes: &[
            Subject::TicketCreated,
            Subject::TicketUpdated,
            Subject::PaymentExpired,
            Subject::PaymentCreated,
        ],
        outbox: Some("orders"),
    },
    Service {
        user: "payments",
        group: QueueGroup::PAYMENTS,
        publishes: &[
            Subject::PaymentCreated,
            Subject::PaymentExpired,
            Subject::PaymentRefunded,
        ],
        consumes: &[
            Subject::OrderCreated,
            Subject::OrderCancelled,
            Subject::ExpirationComplete,
        ],
        outbox: Some("payments"),
    },
    Service {
        user: "expiration",
        group: QueueGroup::EXPIRATION,
        publishes: &[Subject::ExpirationComplete],
        consumes: &[Subject::OrderCreated],
        outbox: None,
    },
];

/// The `authorization` block of the production NATS (`infra/k8s-prod/nats.yaml`'s nats.conf),
/// each `$<USER>_NATS_PASSWORD` given the value `<user>-secret`, and the test kit's own user added.
fn production_users() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../infra/k8s-prod/nats.yaml"
    );
    let manifest = std::fs::read_to_string(path).expect("the production NATS manifest is readable");
    let start = manifest
        .find("    authorization {")
        .expect("the production NATS has an authorization block");
    let end = start
        + manifest[start..]
            .find("\n    }\n")
            .expect("the authorization block ends")
        + "\n    }\n".len();
    let mut block = manifest[start..end].replacen(
        "users = [",
        "users = [\n { user: test-support, password: test-support }",
        1,
    );
    for user in ["admin"].into_iter().chain(FLEET.iter().map(|s| s.user)) {
        let variable = format!("${}_NATS_PASSWORD", user.to_uppercase());
        block = block.replace(&variable, &format!("\"{user}-secret\""));
    }
    assert!(
        !block.contains("password: $"),
        "a password variable is left: {block}"
    );
    block
}

/// Publishes `body` on `subject` as `jetstream`'s user and waits for the stream's ack.
async fn publish(
    jetstream: &async_nats::jetstream::Context,
    subject: String,
) -> Result<(), String> {
    let ack = jetstream
        .publish(subject, bytes::Bytes::from_static(b"{}"))
        .await
        .map_err(|error| error.to_string())?;
    ack.await.map(|_| ()).map_err(|error| error.to_string())
}

async fn messages_in(nats: &TestNats, stream: &str) -> u64 {
    let mut stream = nats
        .jetstream()
        .await
        .get_stream(stream)
        .await
        .expect("the stream exists");
    stream.info().await.expect("stream info").state.messages
}

#[tokio::test]
async fn the_production_users_let_each_service_publish_what_it_publishes_and_nothing_else() {
    let nats = TestNats::start_with_config(&production_users()).await;
    let mut stored = 0;
    let mut parked = 0;
    let mut connections = Vec::new();
    for service in &FLEET {
        let password = format!("{}-secret", service.user);
        let connected = Nats::connect(&as_user(&nats, service.user, &password))
            .await
            .unwrap_or_else(|error| {
                panic!("{} sets up the streams as its user: {error}", service.user)
            });
        let jetstream = connected.jetstream();

        for subject in service.publishes {
            publish(jetstream, subject.as_str().to_owned())
                .await
                .unwrap_or_else(|error| panic!("{} publishes {subject:?}: {error}", service.user));
            stored += 1;
        }
        for subject in service.parking_subjects() {
            publish(jetstream, subject.clone())
                .await
                .unwrap_or_else(|error| panic!("{} records {subject}: {error}", service.user));
            parked += 1;
        }

        // Everyone else's events and parking records, all at once. A refused publish gets no ack
        // and ends at the publish timeout, shortened here: the stream counts at the end prove that
        // none of them was stored.
        let mut jetstream = jetstream.clone();
        jetstream.set_timeout(std::time::Duration::from_secs(1));
        let jetstream = &jetstream;
        let others = Subject::ALL
            .iter()
            .filter(|subject| !service.publishes.contains(subject))
            .map(|subject| subject.as_str().to_owned())
            .chain(
                FLEET
                    .iter()
                    .filter(|other| other.user != service.user)
                    .flat_map(Service::parking_subjects),
            );
        let refused = futures::future::join_all(others.map(|subject| async move {
            (publish(jetstream, subject.clone()).await.is_err(), subject)
        }))
        .await;
        let allowed: Vec<_> = refused
            .iter()
            .filter(|(err, _)| !err)
            .map(|(_, s)| s)
            .collect();
        assert!(
            allowed.is_empty(),
            "{} may also publish {allowed:?}",
            service.user
        );
        connections.push(connected);
    }

    // Each consumes as its user (once every event above is stored): a durable pull consumer, a
    // fetch, an ack.
    for (service, connected) in FLEET.iter().zip(&connections) {
        let jetstream = connected.jetstream();
        let subject = service.consumes[0];
        let consumer = jetstream
            .get_stream(common::events::STREAM)
            .await
            .expect("stream info as the user")
            .get_or_create_consumer(
                &service.group.durable_name(subject),
                async_nats::jetstream::consumer::pull::Config {
                    durable_name: Some(service.group.durable_name(subject)),
                    filter_subject: subject.as_str().to_owned(),
                    ..Default::default()
                },
            )
            .await
            .expect("the user creates its durable consumer");
        let mut batch = consumer
            .fetch()
            .max_messages(1)
            .expires(DEADLINE)
            .messages()
            .await
            .expect("the user pulls");
        let message = futures::StreamExt::next(&mut batch)
            .await
            .expect("an event was published on the subject")
            .expect("the event is delivered");
        message.ack().await.expect("the user acks");
    }
    assert_eq!(messages_in(&nats, common::events::STREAM).await, stored);
    assert_eq!(
        messages_in(&nats, common::events::parked::PARKED_STREAM).await,
        parked
    );
}
