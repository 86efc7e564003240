//! An unpaid order expires through the whole fleet: orders publishes `order:created`, expiration
//! fires `expiration:complete` at `expiresAt`, orders cancels the order, tickets frees the ticket.
//! The e2e stack runs with a short `EXPIRATION_WINDOW_SECONDS`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2e::User;
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::http::eventually;

#[tokio::test]
async fn an_unpaid_order_is_cancelled_at_expires_at_and_its_ticket_freed() {
    let seller = User::sign_up().await;
    let buyer = User::sign_up().await;
    let response = seller
        .post(
            "/api/tickets",
            &json!({ "title": "expiring concert", "price": 15 }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let ticket: Value = response.json().await.expect("json");
    let ticket_id = ticket["id"].as_str().expect("ticket id").to_owned();

    let response = buyer
        .post("/api/orders", &json!({ "ticketId": ticket_id }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let order: Value = response.json().await.expect("json");
    assert_eq!(order["status"], "created");
    let order_id = order["id"].as_str().expect("order id").to_owned();
    let expires_at = order["expiresAt"].as_str().expect("expiresAt").to_owned();
    let expires_at_ms = unix_ms(&expires_at);

    let window = Duration::from_millis(u64::try_from(expires_at_ms - now_ms()).unwrap_or(0));
    let cancelled_seen_at = eventually(
        "the order to be cancelled by its expiration",
        window + Duration::from_secs(15),
        || {
            let (buyer, path) = (&buyer, format!("/api/orders/{order_id}"));
            async move {
                let body: Value = buyer.get(&path).await.json().await.ok()?;
                (body["status"] == "cancelled").then(now_ms)
            }
        },
    )
    .await;
    assert!(
        cancelled_seen_at >= expires_at_ms,
        "cancelled {}ms before expiresAt {expires_at}",
        expires_at_ms - cancelled_seen_at
    );

    let ticket: Value = eventually(
        "the ticket to be free again",
        Duration::from_secs(10),
        || {
            let (buyer, path) = (&buyer, format!("/api/tickets/{ticket_id}"));
            async move {
                let body: Value = buyer.get(&path).await.json().await.ok()?;
                body.get("orderId").is_none().then_some(body)
            }
        },
    )
    .await;
    assert_eq!(ticket["id"], ticket_id.as_str());
    // Free again: it can be reserved once more.
    let response = buyer
        .post("/api/orders", &json!({ "ticketId": ticket_id }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(since_epoch.as_millis()).expect("a sane time")
}

/// Milliseconds since the Unix epoch of a UTC RFC 3339 time such as `2024-05-01T12:15:00.250Z`.
fn unix_ms(text: &str) -> i64 {
    let text = text.trim_end_matches('Z').trim_end_matches("+00:00");
    let (date, time) = text.split_once('T').expect("date and time");
    let date: Vec<i64> = date
        .split('-')
        .map(|part| part.parse().expect("a number"))
        .collect();
    let time: Vec<f64> = time
        .split(':')
        .map(|part| part.parse().expect("a number"))
        .collect();
    let [year, month, day] = date[..] else {
        panic!("a date: {text}")
    };
    let [hours, minutes, seconds] = time[..] else {
        panic!("a time: {text}")
    };
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let seconds_of_day = hours * 3600.0 + minutes * 60.0 + seconds;
    days * 86_400_000 + (seconds_of_day * 1000.0).round() as i64
}

#[test]
fn rfc3339_times_convert_to_unix_milliseconds() {
    assert_eq!(unix_ms("1970-01-01T00:00:00Z"), 0);
    assert_eq!(unix_ms("2024-05-01T12:15:00.250Z"), 1_714_565_700_250);
    assert_eq!(unix_ms("2000-02-29T23:59:59.999+00:00"), 951_868_799_999);
}
