//! Every route needs a session; probes and unknown routes answer as everywhere else.

use bson::oid::ObjectId;
use serde_json::json;

use crate::helpers::{TestApp, assert_errors};

#[tokio::test]
async fn every_route_exists_and_requires_a_signed_in_user() {
    let app = TestApp::spawn().await;
    let id = ObjectId::new().to_hex();
    let order_path = format!("/api/orders/{id}");
    let garbage = Some("session=bm90IGEgc2Vzc2lvbg==");
    for cookie in [None, garbage] {
        let responses = [
            app.post_order(cookie, &json!({ "ticketId": id })).await,
            app.get("/api/orders", cookie).await,
            app.get(&order_path, cookie).await,
            app.delete(&order_path, cookie).await,
        ];
        for response in responses {
            assert_errors(response, 401, json!([{ "message": "Not authorized" }])).await;
        }
    }
}

#[tokio::test]
async fn a_session_without_an_object_id_is_not_signed_in() {
    let app = TestApp::spawn().await;
    let cookie = common::SessionKeys::new(common::testing::JWT_KEY, false)
        .cookie_header("not-an-object-id", "a@b.co")
        .expect("signs");
    let response = app.get("/api/orders", Some(&cookie)).await;
    assert_errors(response, 401, json!([{ "message": "Not authorized" }])).await;
}

#[tokio::test]
async fn probes_report_mongodb_and_nats_and_unknown_routes_are_404() {
    let app = TestApp::spawn().await;
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.expect("json"),
        json!({ "status": "ready" })
    );
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status(), 200);
    let response = app.get("/api/orders/a/b", None).await;
    assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
}

#[tokio::test]
async fn readiness_fails_while_nats_is_down() {
    let mut app = TestApp::spawn().await;
    app.nats.stop().await;
    let app = &app;
    let response =
        crate::helpers::eventually("readyz to fail", crate::helpers::DEADLINE, || async move {
            let response = app.get("/readyz", None).await;
            (response.status() == 503).then_some(response)
        })
        .await;
    assert_eq!(
        response.json::<serde_json::Value>().await.expect("json"),
        json!({ "status": "unavailable", "failing": ["nats"] })
    );
}
