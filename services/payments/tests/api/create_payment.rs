//! The original's `new.test.ts`, ported, with its input and auth checks.

use bson::oid::ObjectId;
use common::events::OrderStatus;
use serde_json::json;

use crate::helpers::{STRIPE_KEY, TestApp, assert_errors};

#[tokio::test]
async fn returns_a_404_when_purchasing_an_order_that_does_not_exist() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie(ObjectId::new());
    let response = app
        .pay(
            Some(&cookie),
            &json!({ "token": "tok_visa", "orderId": ObjectId::new().to_hex() }),
        )
        .await;
    assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
    assert!(app.standin.requests().is_empty(), "nothing charged");
}

#[tokio::test]
async fn returns_a_401_when_purchasing_an_order_that_doesnt_belong_to_the_user() {
    let app = TestApp::spawn().await;
    let order_id = app
        .seed_order(ObjectId::new(), OrderStatus::Created, 20.0)
        .await;
    let cookie = app.cookie(ObjectId::new());
    let response = app
        .pay(
            Some(&cookie),
            &json!({ "token": "tok_visa", "orderId": order_id.to_hex() }),
        )
        .await;
    assert_errors(response, 401, json!([{ "message": "Not authorized" }])).await;
    assert!(app.standin.requests().is_empty(), "nothing charged");
}

#[tokio::test]
async fn returns_a_400_when_purchasing_a_cancelled_order() {
    let app = TestApp::spawn().await;
    let user = ObjectId::new();
    let order_id = app.seed_order(user, OrderStatus::Cancelled, 20.0).await;
    let response = app
        .pay(
            Some(&app.cookie(user)),
            &json!({ "token": "tok_visa", "orderId": order_id.to_hex() }),
        )
        .await;
    assert_errors(
        response,
        400,
        json!([{ "message": "Cannot pay for an cancelled order" }]),
    )
    .await;
    assert!(app.standin.requests().is_empty(), "nothing charged");
    assert!(app.payments_for(order_id).await.is_empty());
}

#[tokio::test]
async fn returns_a_201_with_valid_inputs() {
    let app = TestApp::spawn().await;
    let user = ObjectId::new();
    let order_id = app.seed_order(user, OrderStatus::Created, 73.0).await;
    let response = app
        .pay(
            Some(&app.cookie(user)),
            &json!({ "token": "tok_visa", "orderId": order_id.to_hex() }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.expect("json");

    // The charge, exactly as Stripe received it.
    let charges = app.standin.charge_requests();
    assert_eq!(charges.len(), 1, "{charges:?}");
    let sent = &charges[0];
    assert_eq!(sent.param("amount"), Some("7300"));
    assert_eq!(sent.param("currency"), Some("usd"));
    assert_eq!(sent.param("source"), Some("tok_visa"));
    assert_eq!(
        sent.param("metadata[order_id]"),
        Some(order_id.to_hex().as_str())
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {STRIPE_KEY}").as_str())
    );
    assert_eq!(
        sent.header("idempotency-key"),
        Some(payments::charges::idempotency_key(&order_id, "tok_visa").as_str())
    );
    assert_eq!(
        sent.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let charge = app.standin.succeeded_charges().pop().expect("a charge");
    assert_eq!(
        (&charge["amount"], &charge["currency"]),
        (&json!(7300), &json!("usd"))
    );

    // The payment, stored and answered.
    let stored = app.payments_for(order_id).await;
    assert_eq!(stored.len(), 1);
    let payment = &stored[0];
    let payment_id = payment.get_object_id("_id").expect("id");
    assert_eq!(
        payment.get_str("stripeId").expect("stripeId"),
        charge["id"].as_str().expect("id")
    );
    assert_eq!(
        body,
        json!({ "id": payment_id.to_hex(), "orderId": order_id.to_hex(), "stripeId": charge["id"] })
    );
    // The replica knows the order is paid; the attempt is over.
    let order = app.order(order_id).await.expect("order");
    assert_eq!(order.get_object_id("paymentId").ok(), Some(payment_id));
    assert!(!order.contains_key("attempt"), "{order}");
}

#[tokio::test]
async fn requires_a_signed_in_user() {
    let app = TestApp::spawn().await;
    let order_id = app
        .seed_order(ObjectId::new(), OrderStatus::Created, 20.0)
        .await;
    let body = json!({ "token": "tok_visa", "orderId": order_id.to_hex() });
    assert_errors(
        app.pay(None, &body).await,
        401,
        json!([{ "message": "Not authorized" }]),
    )
    .await;
    // A forged session is no session.
    let forged = common::SessionKeys::new("another-key", false)
        .cookie_header(&ObjectId::new().to_hex(), "x@y.co")
        .expect("signs");
    assert_errors(
        app.pay(Some(&forged), &body).await,
        401,
        json!([{ "message": "Not authorized" }]),
    )
    .await;
    // Authentication comes before validation, as in the original.
    assert_errors(
        app.pay(None, &json!({})).await,
        401,
        json!([{ "message": "Not authorized" }]),
    )
    .await;
    assert!(app.standin.requests().is_empty());
}

#[tokio::test]
async fn requires_a_token_and_an_order_id() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie(ObjectId::new());
    let both = json!([
        { "message": "Token is required", "field": "token" },
        { "message": "OrderId is required", "field": "orderId" }
    ]);
    assert_errors(app.pay(Some(&cookie), &json!({})).await, 400, both.clone()).await;
    assert_errors(
        app.pay(Some(&cookie), &json!({ "token": "  ", "orderId": 12 }))
            .await,
        400,
        both,
    )
    .await;
    assert_errors(
        app.pay(
            Some(&cookie),
            &json!({ "orderId": ObjectId::new().to_hex() }),
        )
        .await,
        400,
        json!([{ "message": "Token is required", "field": "token" }]),
    )
    .await;
    assert_errors(
        app.pay(Some(&cookie), &json!({ "token": "tok_visa" }))
            .await,
        400,
        json!([{ "message": "OrderId is required", "field": "orderId" }]),
    )
    .await;
    // A malformed id cannot name an order: reported as a missing one (documented choice).
    assert_errors(
        app.pay(
            Some(&cookie),
            &json!({ "token": "tok_visa", "orderId": "not-an-id" }),
        )
        .await,
        400,
        json!([{ "message": "OrderId is required", "field": "orderId" }]),
    )
    .await;
    // A token is stored with the attempt and sent to Stripe: bounded.
    assert_errors(
        app.pay(
            Some(&cookie),
            &json!({ "token": "t".repeat(256), "orderId": ObjectId::new().to_hex() }),
        )
        .await,
        400,
        json!([{ "message": "Token must be at most 255 characters", "field": "token" }]),
    )
    .await;
    assert!(app.standin.requests().is_empty());
}

#[tokio::test]
async fn probes_report_health_and_readiness() {
    let app = TestApp::spawn().await;
    let health: serde_json::Value = app.get("/healthz", None).await.json().await.expect("json");
    assert_eq!(health, json!({"status":"ok"}));
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.expect("json"),
        json!({"status":"ready"})
    );
}
