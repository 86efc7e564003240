//! Issue 11: paid in time or expired, decided by payments whatever the order of events; every
//! charge ends recorded (the order's payment or a refund); nothing charged after `expiresAt`.

use std::time::Duration;

use bson::doc;
use bson::oid::ObjectId;
use common::events::{ExpirationComplete, OrderCreated};
use common::testing::{order_cancelled, order_created};
use serde_json::{Value, json};

use crate::helpers::{DEADLINE, TestApp, assert_errors, eventually};

/// The answer to a payment for an order whose time ran out: Stripe is never called.
async fn refused_as_expired(response: reqwest::Response) {
    let errors = json!([{ "message": "Cannot pay for an expired order" }]);
    assert_errors(response, 400, errors).await;
}

fn body(token: &str, order_id: ObjectId) -> Value {
    json!({ "token": token, "orderId": order_id.to_hex() })
}

/// A service whose reconciler runs often and takes over attempts after a short lease.
async fn quick_reconciler() -> TestApp {
    TestApp::spawn_tuned(
        |_| {},
        |tuning| {
            tuning.attempt_lease = Duration::from_millis(300);
            tuning.reconcile_interval = Duration::from_millis(50);
        },
    )
    .await
}

async fn wait_for_field(app: &TestApp, order_id: ObjectId, field: &str) {
    eventually(
        &format!("the replica to show {field}"),
        DEADLINE,
        || async {
            let order = app.order(order_id).await?;
            order.get_bool(field).unwrap_or(false).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_payment_at_or_after_expires_at_is_refused_and_charges_nothing() {
    let app = TestApp::spawn().await;
    let user = ObjectId::new();
    let order = app
        .announce_order(user, 20.0, chrono::Duration::milliseconds(-1))
        .await;
    let response = app
        .pay(Some(&app.cookie(user)), &body("tok_visa", order.id))
        .await;
    refused_as_expired(response).await;
    assert!(app.standin.requests().is_empty(), "Stripe was not called");
    assert!(app.payments_for(order.id).await.is_empty());
}

#[tokio::test]
async fn expiry_with_no_payment_is_announced_once_and_closes_the_order_to_payment() {
    let app = TestApp::spawn().await;
    let user = ObjectId::new();
    // Expiration's clock may run a little ahead of ours: its word counts, not our clock.
    let order = app
        .announce_order(user, 20.0, chrono::Duration::minutes(15))
        .await;
    app.publish(&ExpirationComplete { order_id: order.id })
        .await;
    app.publish(&ExpirationComplete { order_id: order.id })
        .await;
    let expired = app.wait_published("payment:expired", 1).await;
    assert_eq!(expired[0].body, json!({ "orderId": order.id.to_hex() }));
    app.wait_idle("payments-service-expiration-complete").await;
    assert_eq!(
        app.stored("payment:expired").await.len(),
        1,
        "redelivery: once"
    );

    let response = app
        .pay(Some(&app.cookie(user)), &body("tok_visa", order.id))
        .await;
    refused_as_expired(response).await;
    assert!(app.standin.requests().is_empty());
}

/// Pays for an order expiring in `expires_in_ms` with `token`, while Stripe takes `latency_ms`;
/// after `fire_after_ms`, `expiration:complete` arrives and is deferred by the attempt in
/// flight. The margins (seconds, not milliseconds) keep the order of these steps on a loaded
/// machine.
async fn pay_while_expiring(
    app: &TestApp,
    token: &str,
    [latency_ms, expires_in_ms, fire_after_ms]: [u64; 3],
) -> (OrderCreated, reqwest::Response) {
    let (latency, fire_after) = (
        Duration::from_millis(latency_ms),
        Duration::from_millis(fire_after_ms),
    );
    let expires_in = chrono::Duration::milliseconds(i64::try_from(expires_in_ms).expect("ms"));
    app.standin.state.set_latency(latency);
    let user = ObjectId::new();
    let order = app.announce_order(user, 20.0, expires_in).await;
    let cookie = app.cookie(user);
    let request = body(token, order.id);
    let paying = app.pay(Some(&cookie), &request);
    let expiring = async {
        tokio::time::sleep(fire_after).await;
        app.publish(&ExpirationComplete { order_id: order.id })
            .await;
        wait_for_field(app, order.id, "expiryDue").await;
        assert!(app.stored("payment:expired").await.is_empty(), "deferred");
    };
    let (response, ()) = tokio::join!(paying, expiring);
    (order, response)
}

#[tokio::test]
async fn a_payment_accepted_in_time_completes_though_expiry_is_heard_during_the_charge() {
    let app = TestApp::spawn().await;
    // The timer fires while Stripe is still charging.
    let (order, response) = pay_while_expiring(&app, "tok_visa", [3500, 2000, 2200]).await;
    assert_eq!(response.status(), 201);
    let payment: Value = response.json().await.expect("json");

    let created = app.wait_published("payment:created", 1).await;
    assert_eq!(created[0].body, payment);
    app.wait_idle("payments-service-expiration-complete").await;
    assert!(
        app.stored("payment:expired").await.is_empty(),
        "never expired"
    );
    let replica = app.order(order.id).await.expect("order");
    assert!(!replica.get_bool("expired").unwrap_or(false), "{replica}");
}

#[tokio::test]
async fn a_declined_card_during_expiry_ends_in_payment_expired() {
    let app = TestApp::spawn().await;
    let (order, response) =
        pay_while_expiring(&app, "tok_chargeDeclined", [3000, 1500, 1700]).await;
    assert_errors(
        response,
        400,
        json!([{ "message": "Your card was declined." }]),
    )
    .await;
    let expired = app.wait_published("payment:expired", 1).await;
    assert_eq!(expired[0].body, json!({ "orderId": order.id.to_hex() }));
}

#[tokio::test]
async fn an_expiry_heard_before_the_order_waits_for_it() {
    let app = TestApp::spawn().await;
    let order_id = ObjectId::new();
    app.publish(&ExpirationComplete { order_id }).await;
    // Let at least one delivery find nothing.
    eventually("a delivery to be retried", DEADLINE, || async {
        let info = app
            .nats
            .consumer_info("payments-service-expiration-complete")
            .await?;
        (info.num_redelivered > 0 || info.num_ack_pending > 0).then_some(())
    })
    .await;
    app.publish(&OrderCreated {
        id: order_id,
        expires_at: chrono::Utc::now(),
        ..order_created(ObjectId::new(), ObjectId::new(), 5.0)
    })
    .await;
    let expired = app.wait_published("payment:expired", 1).await;
    assert_eq!(expired[0].body, json!({ "orderId": order_id.to_hex() }));
}

/// Issue 11, case 4: the request dies after Stripe charged (here: every answer lost, so the
/// service answers 500 having recorded nothing but its attempt). The reconciler asks Stripe
/// again with the same key and records the charge as the order's payment.
#[tokio::test]
async fn a_charge_whose_answer_was_lost_is_recorded_by_the_reconciler() {
    // The lease outlasts the request's own retries (about 1.5 s), as the default does.
    let app = TestApp::spawn_tuned(
        |_| {},
        |tuning| {
            tuning.attempt_lease = Duration::from_millis(2500);
            tuning.reconcile_interval = Duration::from_millis(50);
        },
    )
    .await;
    let user = ObjectId::new();
    let order = app
        .announce_order(user, 20.0, chrono::Duration::minutes(15))
        .await;
    app.standin
        .drop_next_responses(payments::charges::ATTEMPTS as usize);
    let failed = app
        .pay(Some(&app.cookie(user)), &body("tok_visa", order.id))
        .await;
    assert_errors(failed, 500, json!([{ "message": "Something went wrong" }])).await;

    let created = app.wait_published("payment:created", 1).await;
    let charges = app.standin.succeeded_charges();
    assert_eq!(charges.len(), 1, "charged once");
    assert_eq!(created[0].body["stripeId"], charges[0]["id"]);
    assert_eq!(created[0].body["orderId"], order.id.to_hex());
    let payments = app.payments_for(order.id).await;
    assert_eq!(payments.len(), 1);
    let sent = app.standin.charge_requests();
    assert!(
        sent.iter()
            .all(|request| request.header("idempotency-key") == sent[0].header("idempotency-key")),
        "the reconciler used the request's key"
    );
    let replica = app.order(order.id).await.expect("order");
    assert!(!replica.contains_key("attempt"), "{replica}");
    // Past the expiry now: the order is paid, so no verdict.
    app.publish(&ExpirationComplete { order_id: order.id })
        .await;
    app.wait_idle("payments-service-expiration-complete").await;
    assert!(app.stored("payment:expired").await.is_empty());
}

/// The buyer cancels while Stripe is charging: the charge cannot be the order's payment, so it
/// is refunded through Stripe, recorded and announced, and the request says why.
#[tokio::test]
async fn a_charge_for_an_order_cancelled_meanwhile_is_refunded_and_announced() {
    let app = quick_reconciler().await;
    // Long enough for the cancellation to reach the replica while Stripe is still charging,
    // however loaded the machine.
    app.standin.state.set_latency(Duration::from_millis(2500));
    let user = ObjectId::new();
    let order = app
        .announce_order(user, 20.0, chrono::Duration::minutes(15))
        .await;
    let cookie = app.cookie(user);
    let request = body("tok_visa", order.id);
    let paying = app.pay(Some(&cookie), &request);
    let cancelling = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.publish(&order_cancelled(&order)).await;
        eventually("the replica to be cancelled", DEADLINE, || async {
            let replica = app.order(order.id).await?;
            (replica.get_str("status").ok() == Some("cancelled")).then_some(())
        })
        .await;
    };
    let (response, ()) = tokio::join!(paying, cancelling);
    assert_errors(
        response,
        400,
        json!([{ "message": "Cannot pay for an cancelled order" }]),
    )
    .await;
    assert_refunded_once(&app, order.id).await;
    assert!(app.payments_for(order.id).await.is_empty());
    assert!(app.stored("payment:created").await.is_empty());
}

#[tokio::test]
async fn cancelling_a_paid_order_refunds_its_charge_once() {
    let app = quick_reconciler().await;
    let user = ObjectId::new();
    let order = app
        .announce_order(user, 20.0, chrono::Duration::minutes(15))
        .await;
    let paid = app
        .pay(Some(&app.cookie(user)), &body("tok_visa", order.id))
        .await;
    assert_eq!(paid.status(), 201);
    // Redelivered: still one refund.
    app.publish(&order_cancelled(&order)).await;
    app.publish(&order_cancelled(&order)).await;
    assert_refunded_once(&app, order.id).await;
    app.wait_idle("payments-service-order-cancelled").await;
    assert_eq!(app.standin.refunds().len(), 1);
}

/// One refund of the order's one charge at Stripe, recorded done, and one `payment:refunded`.
async fn assert_refunded_once(app: &TestApp, order_id: ObjectId) {
    let announced = app.wait_published("payment:refunded", 1).await;
    let charges = app.standin.succeeded_charges();
    assert_eq!(charges.len(), 1);
    let refunds = app.standin.refunds();
    assert_eq!(refunds.len(), 1, "{refunds:#?}");
    assert_eq!(refunds[0]["charge"], charges[0]["id"]);
    assert_eq!(refunds[0]["amount"], 2000);
    assert_eq!(
        announced[0].body,
        json!({ "orderId": order_id.to_hex(), "stripeId": charges[0]["id"], "refundId": refunds[0]["id"] })
    );
    let sent = app.standin.refund_requests();
    let key = format!("refund-{}", charges[0]["id"].as_str().expect("id"));
    assert!(
        sent.iter()
            .all(|r| r.header("idempotency-key") == Some(key.as_str()))
    );
    assert_eq!(
        sent[0].param("metadata[order_id]"),
        Some(order_id.to_hex().as_str())
    );
    let stored = app
        .db
        .db
        .collection::<bson::Document>("refunds")
        .find_one(doc! { "_id": charges[0]["id"].as_str().expect("id") })
        .await
        .expect("query")
        .expect("the refund is recorded");
    assert_eq!(stored.get_str("refundId").ok(), refunds[0]["id"].as_str());
    assert!(stored.get_datetime("refundedAt").is_ok(), "{stored}");
}
