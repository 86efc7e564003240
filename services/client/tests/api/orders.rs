//! `/orders` and `/orders/{orderId}`.

use axum::http::Method;
use chrono::{Duration, SecondsFormat, Utc};
use serde_json::json;

use crate::helpers::{
    ALICE, ORDER_ID, TestApp, as_alice, between, nav_links, order, signed_in_nav, signed_out_nav,
};

fn in_seconds(seconds: i64) -> String {
    (Utc::now() + Duration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[tokio::test]
async fn my_orders_lists_title_price_and_status() {
    let app = TestApp::spawn().await;
    let mut second = order("cancelled", &in_seconds(-5));
    second["id"] = json!("6a1b2c3d4e5f60718293a4b6");
    second["ticket"]["title"] = json!("opera");
    second["ticket"]["price"] = json!(12.5);
    app.ingress.respond(
        Method::GET,
        "/api/orders",
        200,
        json!([order("complete", &in_seconds(60)), second]),
    );

    let (status, html) = app.page("/orders", Some(ALICE)).await;

    assert_eq!(status, 200);
    assert_eq!(nav_links(&html), signed_in_nav());
    assert!(html.contains(concat!(
        r#"<ul class="orders">"#,
        r#"<li data-status="complete"><a href="/orders/6a1b2c3d4e5f60718293a4b5">concert</a> - 20.00 - <span class="status">complete</span></li>"#,
        r#"<li data-status="cancelled"><a href="/orders/6a1b2c3d4e5f60718293a4b6">opera</a> - 12.50 - <span class="status">cancelled</span></li>"#,
        r#"</ul>"#,
    )), "{html}");
    assert_eq!(
        app.ingress.seen(),
        vec![
            as_alice("GET", "/api/users/currentuser"),
            as_alice("GET", "/api/orders")
        ]
    );
}

#[tokio::test]
async fn my_orders_needs_a_signed_in_user_and_does_not_ask_the_api_otherwise() {
    let app = TestApp::spawn().await;

    let (status, html) = app.page("/orders", None).await;

    assert_eq!(status, 401);
    assert_eq!(nav_links(&html), signed_out_nav());
    assert!(html.contains("<h1>Sign in required</h1>"));
    assert_eq!(app.ingress.requests(), vec!["GET /api/users/currentuser"]);
}

#[tokio::test]
async fn an_open_order_counts_down_and_pays_with_the_test_token() {
    let app = TestApp::spawn().await;
    let expires_at = in_seconds(60);
    app.ingress.respond(
        Method::GET,
        &format!("/api/orders/{ORDER_ID}"),
        200,
        order("created", &expires_at),
    );

    let (status, html) = app.page(&format!("/orders/{ORDER_ID}"), Some(ALICE)).await;

    assert_eq!(status, 200);
    let card = between(&html, r#"<article class="card">"#, "</article>").expect("a card");
    let timer = between(card, "data-hide-when-expired=\"pay-area\">", "</p>").expect("a timer");
    assert!(
        timer == "60 seconds until order expires" || timer == "59 seconds until order expires",
        "{timer}"
    );
    assert!(card.starts_with(&format!(
        r#"<h1>Order for concert</h1><h4>Price: 20.00</h4><p class="status-line" id="countdown" role="timer" data-expires-at="{expires_at}" data-now=""#
    )), "{card}");
    assert!(card.ends_with(concat!(
        r#"<div id="pay-area">"#,
        r#"<div class="error-slot" id="pay-errors" aria-live="polite"></div>"#,
        r#"<noscript><p class="note">This needs JavaScript: please turn it on to continue.</p></noscript>"#,
        r#"<button class="btn btn-primary" type="button" data-api="/api/payments" data-body="{&quot;token&quot;:&quot;tok_visa&quot;,&quot;orderId&quot;:&quot;6a1b2c3d4e5f60718293a4b5&quot;}" data-redirect="/orders" data-errors="pay-errors" data-amount="2000" data-email="alice@test.com">Pay</button>"#,
        r#"</div>"#,
    )), "{card}");
}

#[tokio::test]
async fn with_a_publishable_key_pay_opens_stripe_checkout() {
    let app = TestApp::spawn_with(Some("pk_test_123")).await;
    app.ingress.respond(
        Method::GET,
        &format!("/api/orders/{ORDER_ID}"),
        200,
        order("created", &in_seconds(60)),
    );

    let (_, html) = app.page(&format!("/orders/{ORDER_ID}"), Some(ALICE)).await;

    assert!(
        html.contains(r#"data-stripe-key="pk_test_123" data-amount="2000""#),
        "{html}"
    );
}

#[tokio::test]
async fn an_order_past_its_expiry_reads_order_expired_without_a_pay_button() {
    let app = TestApp::spawn().await;
    for (status, expected) in [("created", "Order Expired"), ("cancelled", "Order Expired")] {
        app.ingress.respond(
            Method::GET,
            &format!("/api/orders/{ORDER_ID}"),
            200,
            order(status, &in_seconds(-3)),
        );

        let (_, html) = app.page(&format!("/orders/{ORDER_ID}"), Some(ALICE)).await;

        assert!(
            html.contains(&format!(
                r#"<h4>Price: 20.00</h4><p class="status-line" id="countdown">{expected}</p></article>"#
            )),
            "{status}: {html}"
        );
    }
}

#[tokio::test]
async fn a_paid_order_says_so() {
    let app = TestApp::spawn().await;
    app.ingress.respond(
        Method::GET,
        &format!("/api/orders/{ORDER_ID}"),
        200,
        order("complete", &in_seconds(60)),
    );

    let (_, html) = app.page(&format!("/orders/{ORDER_ID}"), Some(ALICE)).await;

    assert!(html.contains(
        r#"<h4>Price: 20.00</h4><p class="status-line ok">Paid. Enjoy the show!</p></article>"#
    ));
}

#[tokio::test]
async fn someone_elses_order_asks_to_sign_in_with_the_right_account() {
    let app = TestApp::spawn().await;
    app.ingress.respond(
        Method::GET,
        &format!("/api/orders/{ORDER_ID}"),
        401,
        json!({ "errors": [{ "message": "Not authorized" }] }),
    );

    let (status, html) = app.page(&format!("/orders/{ORDER_ID}"), Some(ALICE)).await;

    assert_eq!(status, 401);
    assert_eq!(nav_links(&html), signed_in_nav());
    assert!(html.contains(
        "<h1>Sign in required</h1><p>Please sign in with the account this page belongs to.</p>"
    ));
}

#[tokio::test]
async fn an_order_page_for_a_visitor_asks_to_sign_in_without_asking_for_the_order() {
    let app = TestApp::spawn().await;

    let (status, _) = app.page(&format!("/orders/{ORDER_ID}"), None).await;

    assert_eq!(status, 401);
    assert_eq!(app.ingress.requests(), vec!["GET /api/users/currentuser"]);
}

#[tokio::test]
async fn an_order_cancelled_before_its_expiry_reads_order_cancelled() {
    let app = TestApp::spawn().await;
    app.ingress.respond(
        Method::GET,
        &format!("/api/orders/{ORDER_ID}"),
        200,
        order("cancelled", &in_seconds(60)),
    );

    let (_, html) = app.page(&format!("/orders/{ORDER_ID}"), Some(ALICE)).await;

    assert!(
        html.contains(
            r#"<h4>Price: 20.00</h4><p class="status-line">Order Cancelled</p></article>"#
        )
    );
}
