//! Ordering a ticket through the ingress, with every service and the events between them real:
//! tickets → `ticket:created` → orders' replica; orders → `order:created` → tickets (reserved)
//! and expiration (scheduled); expiration → `expiration:complete` → orders (cancelled) →
//! `order:cancelled` → tickets (released). The stack runs with `EXPIRATION_WINDOW_SECONDS=6`.

use e2e::{PROPAGATION, User};
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::http::eventually;

/// The ticket as `GET /api/tickets` lists it, if it is listed.
async fn listed(user: &User, ticket_id: &str) -> Option<Value> {
    let tickets: Value = user.get("/api/tickets").await.json().await.ok()?;
    tickets
        .as_array()?
        .iter()
        .find(|ticket| ticket["id"] == ticket_id)
        .cloned()
}

#[tokio::test]
async fn an_unpaid_order_expires_and_the_ticket_is_for_sale_again() {
    let seller = User::sign_up().await;
    let ticket = seller.sell("e2e expiring concert", json!(20)).await;
    let ticket_id = ticket["id"].as_str().expect("ticket id").to_owned();
    let ticket_id = ticket_id.as_str();

    let buyer = User::sign_up().await;
    let order = buyer.order(ticket_id).await;
    assert_eq!(order["status"], "created");
    assert_eq!(order["userId"], buyer.id.as_str());
    assert_eq!(
        order["ticket"],
        json!({ "id": ticket_id, "title": "e2e expiring concert", "price": 20, "version": 0 })
    );
    let order_id = order["id"].as_str().expect("order id");

    // Reserved: the tickets service heard `order:created` and no longer lists it.
    eventually(
        "the reserved ticket to leave the listing",
        PROPAGATION,
        || async { listed(&buyer, ticket_id).await.is_none().then_some(()) },
    )
    .await;

    let response = buyer.get(&format!("/api/orders/{order_id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let shown: Value = response.json().await.expect("order json");
    // The replica may by now hold the ticket's next version (reserved by the tickets service).
    let mut expected = order.clone();
    expected["ticket"]["version"] = shown["ticket"]["version"].clone();
    assert_eq!(shown, expected);
    assert!(
        matches!(shown["ticket"]["version"].as_i64(), Some(0 | 1)),
        "{shown}"
    );

    // Six seconds later the expiration service says so, and orders cancels it.
    let cancelled = eventually("the order to expire", PROPAGATION, || async {
        let shown: Value = buyer
            .get(&format!("/api/orders/{order_id}"))
            .await
            .json()
            .await
            .ok()?;
        (shown["status"] == "cancelled").then_some(shown)
    })
    .await;
    assert_eq!(cancelled["version"], 1);

    // Released: listed again, at a later version than it was created with.
    let relisted = eventually("the ticket to be listed again", PROPAGATION, || async {
        listed(&seller, ticket_id).await
    })
    .await;
    assert!(
        relisted["version"].as_i64().expect("version")
            > ticket["version"].as_i64().expect("version"),
        "{relisted} vs {ticket}"
    );
    assert_eq!(relisted["orderId"], Value::Null, "{relisted}");
}

#[tokio::test]
async fn cancelling_an_order_releases_the_ticket_for_another_buyer() {
    let seller = User::sign_up().await;
    let ticket = seller.sell("e2e cancelled concert", json!(20)).await;
    let ticket_id = ticket["id"].as_str().expect("ticket id").to_owned();
    let ticket_id = ticket_id.as_str();

    let buyer = User::sign_up().await;
    let order = buyer.order(ticket_id).await;
    let order_id = order["id"].as_str().expect("order id");

    let rival = User::sign_up().await;
    let response = rival
        .post("/api/orders", &json!({ "ticketId": ticket_id }))
        .await;
    test_support::http::assert_errors(
        response,
        400,
        json!([{ "message": "Ticket is already reserved" }]),
    )
    .await;

    let response = buyer.delete(&format!("/api/orders/{order_id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let mine: Value = buyer.get("/api/orders").await.json().await.expect("json");
    assert_eq!(mine[0]["id"], order_id);
    assert_eq!(mine[0]["status"], "cancelled");

    eventually("the ticket to be listed again", PROPAGATION, || async {
        listed(&seller, ticket_id).await
    })
    .await;
    let second = rival.order(ticket_id).await;
    assert_eq!(second["status"], "created");
}
