//! A NATS that gives each service a user allowed only its own subjects (production's NATS users,
//! `NATS_USER`/`NATS_PASSWORD`): the services' connection, stream set-up, publishing and
//! consuming work within those permissions, and a publish outside them is refused.

use std::sync::Arc;

use bson::oid::ObjectId;
use common::config::NatsConfig;
use common::events::{Nats, OrderCreated, OrderCreatedTicket, OrderStatus, QueueGroup};
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
