//! Buying a ticket end to end through the ingress: order, pay with the test card, the order
//! completes, and expiry no longer touches it.

use std::time::Duration;

use e2e::{PROPAGATION, User};
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::http::eventually;

#[tokio::test]
async fn a_paid_order_completes_and_survives_its_expiration() {
    let seller = User::sign_up().await;
    let ticket = seller.sell("concert", json!(19.99)).await;
    let ticket_id = ticket["id"].as_str().expect("ticket id").to_owned();

    let buyer = User::sign_up().await;
    let order = buyer.order(&ticket_id).await;
    // The order expires a window after it was created, so at the latest a window from now.
    let ordered_at = tokio::time::Instant::now();
    let order_id = order["id"].as_str().expect("order id").to_owned();
    assert_eq!(order["status"], "created");

    // The payments service learns of the order through `order:created`.
    let payment: Value = eventually("the payment to go through", PROPAGATION, || async {
        let response = buyer
            .post(
                "/api/payments",
                &json!({ "token": "tok_visa", "orderId": order_id }),
            )
            .await;
        match response.status() {
            StatusCode::CREATED => response.json().await.ok(),
            StatusCode::NOT_FOUND => None,
            other => panic!("paying: {other} {:?}", response.text().await),
        }
    })
    .await;
    assert_eq!(payment["orderId"], order_id.as_str());
    assert!(
        payment["stripeId"]
            .as_str()
            .is_some_and(|id| id.starts_with("ch_")),
        "{payment}"
    );
    assert_eq!(payment["id"].as_str().map(str::len), Some(24), "{payment}");

    // Stripe (the stack's stand-in) saw one charge for this order, in cents.
    let charges = standin_charges(&order_id).await;
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(charges[0]["form"]["amount"], "1999");
    assert_eq!(charges[0]["form"]["currency"], "usd");
    assert_eq!(charges[0]["form"]["source"], "tok_visa");

    // Paying again is refused, not charged.
    let again = buyer
        .post(
            "/api/payments",
            &json!({ "token": "tok_visa", "orderId": order_id }),
        )
        .await;
    test_support::http::assert_errors(
        again,
        400,
        json!([{ "message": "Order has already been paid" }]),
    )
    .await;

    assert_eq!(standin_charges(&order_id).await.len(), 1);

    // The orders service completes the order on `payment:created`.
    let path = format!("/api/orders/{order_id}");
    eventually("the order to be complete", PROPAGATION, || async {
        let order: Value = buyer.get(&path).await.json().await.ok()?;
        (order["status"] == "complete").then_some(())
    })
    .await;

    // Past the expiration window (the test stack's is seconds), the expiration event has come
    // and gone: a complete order stays complete and its ticket stays reserved.
    tokio::time::sleep_until(ordered_at + expiration_window() + Duration::from_secs(4)).await;
    let order: Value = buyer.get(&path).await.json().await.expect("json");
    assert_eq!(order["status"], "complete", "{order}");
    let listed: Value = seller.get("/api/tickets").await.json().await.expect("json");
    let listed_ids: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|ticket| ticket["id"].as_str())
        .collect();
    assert!(
        !listed_ids.contains(&ticket_id.as_str()),
        "a sold ticket is not for sale: {listed}"
    );
    let ticket: Value = seller
        .get(&format!("/api/tickets/{ticket_id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ticket["orderId"], order_id.as_str(), "{ticket}");
}

#[tokio::test]
async fn a_declined_card_leaves_the_order_payable() {
    let seller = User::sign_up().await;
    let ticket = seller.sell("play", json!(20)).await;
    let ticket_id = ticket["id"].as_str().expect("ticket id").to_owned();
    let buyer = User::sign_up().await;
    let order = buyer.order(&ticket_id).await;
    let order_id = order["id"].as_str().expect("order id").to_owned();
    let declined = eventually(
        "the payments service to know the order",
        PROPAGATION,
        || async {
            let response = buyer
                .post(
                    "/api/payments",
                    &json!({ "token": "tok_chargeDeclined", "orderId": order_id }),
                )
                .await;
            (response.status() != StatusCode::NOT_FOUND).then_some(response)
        },
    )
    .await;
    test_support::http::assert_errors(
        declined,
        400,
        json!([{ "message": "Your card was declined." }]),
    )
    .await;
    let paid = buyer
        .post(
            "/api/payments",
            &json!({ "token": "tok_visa", "orderId": order_id }),
        )
        .await;
    assert_eq!(paid.status(), StatusCode::CREATED);
}

/// The stack's expiration window: `EXPIRATION_WINDOW_SECONDS` as the test stack is started with
/// (6 unless told otherwise). Waiting it out is the one wait here about time itself rather than
/// a condition to poll.
fn expiration_window() -> Duration {
    let seconds = std::env::var("EXPIRATION_WINDOW_SECONDS")
        .ok()
        .and_then(|value| value.trim().parse::<u64>().ok())
        .unwrap_or(6);
    assert!(
        seconds <= 60,
        "the stack's expiration window is {seconds} s; run the e2e stack with EXPIRATION_WINDOW_SECONDS=6"
    );
    Duration::from_secs(seconds)
}

/// The charge requests the stack's Stripe stand-in (`PORT_BASE` + 7) received for `order_id`.
async fn standin_charges(order_id: &str) -> Vec<Value> {
    e2e::stack_url();
    let base: u16 = std::env::var("PORT_BASE")
        .ok()
        .and_then(|base| base.parse().ok())
        .unwrap_or(13100);
    let requests: Value = test_support::http::client()
        .get(format!("http://127.0.0.1:{}/__requests", base + 7))
        .send()
        .await
        .expect("the stack's Stripe stand-in answers (a stack started without STRIPE_KEY)")
        .json()
        .await
        .expect("json");
    requests
        .as_array()
        .expect("a list")
        .iter()
        .filter(|request| {
            request["path"] == "/v1/charges" && request["form"]["metadata[order_id]"] == order_id
        })
        .cloned()
        .collect()
}
