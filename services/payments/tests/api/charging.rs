//! What the original gets wrong or leaves out: never charging twice, declines, exact amounts,
//! and the `payment:created` event.

use bson::doc;
use bson::oid::ObjectId;
use common::events::OrderStatus;
use serde_json::{Value, json};

use crate::helpers::{DEADLINE, TestApp, assert_errors, eventually};

async fn paid_order(app: &TestApp, price: f64) -> (ObjectId, String) {
    let user = ObjectId::new();
    let order_id = app.seed_order(user, OrderStatus::Created, price).await;
    (order_id, app.cookie(user))
}

fn body(token: &str, order_id: ObjectId) -> Value {
    json!({ "token": token, "orderId": order_id.to_hex() })
}

#[tokio::test]
async fn paying_twice_is_refused_and_charges_once() {
    let app = TestApp::spawn().await;
    let (order_id, cookie) = paid_order(&app, 20.0).await;
    let first = app.pay(Some(&cookie), &body("tok_visa", order_id)).await;
    assert_eq!(first.status(), 201);
    let again = app.pay(Some(&cookie), &body("tok_visa", order_id)).await;
    assert_errors(
        again,
        400,
        json!([{ "message": "Order has already been paid" }]),
    )
    .await;
    assert_eq!(
        app.standin.charge_requests().len(),
        1,
        "the second request never reached Stripe"
    );
    assert_eq!(app.standin.succeeded_charges().len(), 1);
    assert_eq!(app.payments_for(order_id).await.len(), 1);
}

#[tokio::test]
async fn concurrent_identical_requests_charge_once() {
    let app = TestApp::spawn().await;
    let (order_id, cookie) = paid_order(&app, 20.0).await;
    // A card network's latency, so that the requests meet at Stripe: the twins get
    // `idempotency_key_in_use` there and retry into the replayed charge.
    app.standin
        .state
        .set_latency(std::time::Duration::from_millis(300));
    let request = body("tok_visa", order_id);
    let attempts = (0..4).map(|_| app.pay(Some(&cookie), &request));
    let responses = futures::future::join_all(attempts).await;
    let created = responses.iter().filter(|r| r.status() == 201).count();
    assert_eq!(created, 1, "exactly one request records the payment");
    for response in responses.into_iter().filter(|r| r.status() != 201) {
        assert_errors(
            response,
            400,
            json!([{ "message": "Order has already been paid" }]),
        )
        .await;
    }
    let sent = app.standin.charge_requests();
    assert!(sent.len() > 1, "the twins reached Stripe too: {sent:?}");
    let key = sent[0].header("idempotency-key");
    assert!(
        sent.iter()
            .all(|request| request.header("idempotency-key") == key)
    );
    assert_eq!(
        app.standin.succeeded_charges().len(),
        1,
        "one charge at Stripe"
    );
    assert_eq!(app.payments_for(order_id).await.len(), 1);
    assert_eq!(app.stored("payment:created").await.len(), 1);
}

#[tokio::test]
async fn concurrent_requests_with_different_cards_charge_once() {
    let app = TestApp::spawn().await;
    let (order_id, cookie) = paid_order(&app, 20.0).await;
    // Different cards, so different idempotency keys: only the claim keeps them apart.
    let (visa, mastercard) = (body("tok_visa", order_id), body("tok_mastercard", order_id));
    let responses = futures::future::join_all([
        app.pay(Some(&cookie), &visa),
        app.pay(Some(&cookie), &mastercard),
        app.pay(Some(&cookie), &visa),
        app.pay(Some(&cookie), &mastercard),
    ])
    .await;
    assert_eq!(responses.iter().filter(|r| r.status() == 201).count(), 1);
    for response in responses.into_iter().filter(|r| r.status() != 201) {
        let body: Value = response.json().await.expect("json");
        let message = body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            [
                "Order has already been paid",
                "A payment for this order is already in progress"
            ]
            .contains(&message.as_str()),
            "{body}"
        );
    }
    assert_eq!(app.standin.succeeded_charges().len(), 1);
    assert_eq!(app.payments_for(order_id).await.len(), 1);
}

#[tokio::test]
async fn another_card_waits_while_an_attempt_is_in_flight() {
    let app = TestApp::spawn_tuned(
        |_| {},
        |tuning| {
            tuning.reconcile_interval = std::time::Duration::from_millis(50);
        },
    )
    .await;
    let (order_id, cookie) = paid_order(&app, 20.0).await;
    // As if a request with another card were talking to Stripe right now.
    let now = bson::DateTime::now();
    let until = bson::DateTime::from_millis(now.timestamp_millis() + 60_000);
    let attempt = doc! {
        "key": "payments-other", "token": "tok_lost_card", "amountCents": 2000_i64,
        "startedAt": now, "leaseUntil": until,
    };
    app.orders()
        .update_one(
            doc! { "_id": order_id },
            doc! { "$set": { "attempt": attempt } },
        )
        .await
        .expect("attempt taken");
    let response = app.pay(Some(&cookie), &body("tok_visa", order_id)).await;
    assert_errors(
        response,
        400,
        json!([{ "message": "A payment for this order is already in progress" }]),
    )
    .await;
    assert!(app.standin.requests().is_empty());
    // An attempt whose lease ran out (its request died) is settled by the reconciler, which
    // asks Stripe again: this token is unknown, so nothing was charged and the order is free.
    let lapsed = bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() - 1);
    app.orders()
        .update_one(
            doc! { "_id": order_id },
            doc! { "$set": { "attempt.leaseUntil": lapsed } },
        )
        .await
        .expect("lapsed");
    eventually("the reconciler to end the attempt", DEADLINE, || async {
        let order = app.order(order_id).await.expect("order");
        (!order.contains_key("attempt")).then_some(())
    })
    .await;
    assert_eq!(
        app.standin.charge_requests()[0].param("source"),
        Some("tok_lost_card")
    );
    assert_eq!(
        app.pay(Some(&cookie), &body("tok_visa", order_id))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_response_lost_after_charging_is_retried_with_the_same_key() {
    let app = TestApp::spawn().await;
    let (order_id, cookie) = paid_order(&app, 20.0).await;
    app.standin.drop_next_responses(1);
    let response = app.pay(Some(&cookie), &body("tok_visa", order_id)).await;
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.expect("json");
    let sent = app.standin.charge_requests();
    assert_eq!(sent.len(), 2, "the service asked again");
    assert_eq!(
        sent[0].header("idempotency-key"),
        sent[1].header("idempotency-key")
    );
    assert_eq!(sent[0].form, sent[1].form);
    let charges = app.standin.succeeded_charges();
    assert_eq!(charges.len(), 1, "Stripe charged once");
    assert_eq!(answer["stripeId"], charges[0]["id"]);
}

#[tokio::test]
async fn a_user_retry_after_a_failed_request_does_not_charge_twice() {
    let app = TestApp::spawn().await;
    let (order_id, cookie) = paid_order(&app, 20.0).await;
    // Every attempt of the first request loses its response: the card was charged, but the
    // service cannot know it and answers 500 without recording anything.
    app.standin
        .drop_next_responses(payments::charges::ATTEMPTS as usize);
    let failed = app.pay(Some(&cookie), &body("tok_visa", order_id)).await;
    assert_errors(failed, 500, json!([{ "message": "Something went wrong" }])).await;
    assert!(app.payments_for(order_id).await.is_empty());
    assert_eq!(app.standin.succeeded_charges().len(), 1);
    // Another card must not go ahead while the first may have been charged.
    let other = app
        .pay(Some(&cookie), &body("tok_mastercard", order_id))
        .await;
    assert_errors(
        other,
        400,
        json!([{ "message": "A payment for this order is already in progress" }]),
    )
    .await;
    assert_eq!(
        app.standin.charge_requests().len(),
        payments::charges::ATTEMPTS as usize
    );
    // The user presses Pay again: the same key, so Stripe answers with the charge it made.
    let retried = app.pay(Some(&cookie), &body("tok_visa", order_id)).await;
    assert_eq!(retried.status(), 201);
    let answer: Value = retried.json().await.expect("json");
    let charges = app.standin.succeeded_charges();
    assert_eq!(charges.len(), 1, "still one charge");
    assert_eq!(answer["stripeId"], charges[0]["id"]);
}

#[tokio::test]
async fn a_declined_card_stores_nothing_and_another_card_then_works() {
    let app = TestApp::spawn().await;
    let (order_id, cookie) = paid_order(&app, 20.0).await;
    let declined = app
        .pay(Some(&cookie), &body("tok_chargeDeclined", order_id))
        .await;
    assert_errors(
        declined,
        400,
        json!([{ "message": "Your card was declined." }]),
    )
    .await;
    assert!(app.payments_for(order_id).await.is_empty());
    let order = app.order(order_id).await.expect("order");
    assert!(
        !order.contains_key("paymentId") && !order.contains_key("attempt"),
        "{order}"
    );
    assert!(
        app.stored("payment:created").await.is_empty(),
        "nothing published"
    );
    let outbox = app.db.db.collection::<bson::Document>("outbox");
    assert_eq!(outbox.count_documents(doc! {}).await.expect("count"), 0);

    let paid = app.pay(Some(&cookie), &body("tok_visa", order_id)).await;
    assert_eq!(paid.status(), 201);
    let sent = app.standin.charge_requests();
    assert_eq!(sent.len(), 2);
    assert_ne!(
        sent[0].header("idempotency-key"),
        sent[1].header("idempotency-key"),
        "a new card is a new key"
    );
    assert_eq!(app.standin.succeeded_charges().len(), 1);
    assert_eq!(app.payments_for(order_id).await.len(), 1);
}

#[tokio::test]
async fn an_unknown_token_is_a_400_with_stripes_message() {
    let app = TestApp::spawn().await;
    let (order_id, cookie) = paid_order(&app, 20.0).await;
    let response = app.pay(Some(&cookie), &body("tok_bogus", order_id)).await;
    assert_errors(
        response,
        400,
        json!([{ "message": "No such token: 'tok_bogus'" }]),
    )
    .await;
    assert!(app.payments_for(order_id).await.is_empty());
}

#[tokio::test]
async fn prices_are_charged_in_exact_cents() {
    let app = TestApp::spawn().await;
    for (price, cents) in [
        (19.99, "1999"),
        (4.35, "435"),
        (1.005, "101"),
        (20.0, "2000"),
    ] {
        let (order_id, cookie) = paid_order(&app, price).await;
        assert_eq!(
            app.pay(Some(&cookie), &body("tok_visa", order_id))
                .await
                .status(),
            201
        );
        let sent = app
            .standin
            .charge_requests()
            .pop()
            .expect("a charge request");
        assert_eq!(sent.param("amount"), Some(cents), "{price}");
    }
}

#[tokio::test]
async fn payment_created_is_published_with_the_payment() {
    let app = TestApp::spawn().await;
    let (order_id, cookie) = paid_order(&app, 20.0).await;
    let response = app.pay(Some(&cookie), &body("tok_visa", order_id)).await;
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.expect("json");
    let published = eventually("payment:created in the stream", DEADLINE, || async {
        let stored = app.stored("payment:created").await;
        (!stored.is_empty()).then_some(stored)
    })
    .await;
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0].body, answer,
        "{{id, orderId, stripeId}} as the original"
    );
    assert!(
        published[0]
            .msg_id
            .as_deref()
            .is_some_and(|id| !id.is_empty()),
        "a Nats-Msg-Id"
    );
    let outbox = app.db.db.collection::<bson::Document>("outbox");
    eventually("the outbox entry marked published", DEADLINE, || async {
        let pending = outbox
            .count_documents(doc! { "publishedAt": null })
            .await
            .ok()?;
        (pending == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_stripe_that_refuses_our_key_is_a_500_and_changes_nothing() {
    let app = TestApp::spawn_with(|config| config.stripe_key = "rk_wrong".into()).await;
    let (order_id, cookie) = paid_order(&app, 20.0).await;
    let response = app.pay(Some(&cookie), &body("tok_visa", order_id)).await;
    assert_errors(
        response,
        500,
        json!([{ "message": "Something went wrong" }]),
    )
    .await;
    let sent = app.standin.charge_requests();
    assert_eq!(sent.len(), 1, "an answer, even a refusal, is not retried");
    assert_eq!(sent[0].header("authorization"), Some("Bearer rk_wrong"));
    assert!(app.standin.charges().is_empty());
    assert!(app.payments_for(order_id).await.is_empty());
    assert!(app.stored("payment:created").await.is_empty());
}

/// Where a test's log lines go.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A card token is user input: one holding CR/LF cannot write a line of its own into the log
/// (Stripe's message echoes it), and no token is logged at all. The test runtime is
/// single-threaded, so the service's tasks log into this test's subscriber.
#[tokio::test]
async fn a_token_never_reaches_the_log_and_cannot_forge_a_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let settings = common::telemetry::Settings {
        json: false,
        export: false,
    };
    let (subscriber, _telemetry) =
        common::telemetry::subscriber("payments", settings, move || writer.clone());
    let _logging = tracing::subscriber::set_default(subscriber);

    let app = TestApp::spawn().await;
    let (order_id, cookie) = paid_order(&app, 20.0).await;
    let token = "tok_x\r\n2026-12-02T00:00:00.000000Z ERROR payments: forged";
    let response = app.pay(Some(&cookie), &body(token, order_id)).await;
    // The payer still reads Stripe's own words about the token they sent.
    assert_errors(
        response,
        400,
        json!([{ "message": format!("No such token: '{token}'") }]),
    )
    .await;

    let bytes = captured.0.lock().expect("not poisoned").clone();
    let logs = String::from_utf8(bytes).expect("utf-8");
    let rejected: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("Stripe rejected the charge"))
        .collect();
    assert_eq!(rejected.len(), 1, "{logs}");
    assert!(
        rejected[0].contains("stripe_message=No such token: '[card token]'"),
        "{}",
        rejected[0]
    );
    assert!(!logs.contains("tok_x"), "no token in the log: {logs}");
    assert!(
        logs.lines().all(|line| !line.contains("forged")),
        "no forged line: {logs}"
    );
}
