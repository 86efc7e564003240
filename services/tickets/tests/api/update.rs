//! `PUT /api/tickets/:id`.

use bson::oid::ObjectId;
use serde_json::json;

use crate::helpers::{TestApp, assert_errors};

fn path(ticket: &serde_json::Value) -> String {
    format!("/api/tickets/{}", ticket["id"].as_str().expect("id"))
}

/// `PUT /api/tickets/:id` of `ticket` as `cookie`'s user.
async fn update(
    app: &TestApp,
    cookie: &str,
    ticket: &serde_json::Value,
    body: &serde_json::Value,
) -> reqwest::Response {
    app.put_json(&path(ticket), Some(cookie), body).await
}

#[tokio::test]
async fn returns_a_404_if_the_provided_id_does_not_exist() {
    let app = TestApp::spawn().await;
    let response = app
        .put_json(
            &format!("/api/tickets/{}", ObjectId::new().to_hex()),
            Some(&app.cookie()),
            &json!({ "title": "concert", "price": 20 }),
        )
        .await;
    assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
}

#[tokio::test]
async fn returns_a_401_if_the_user_is_not_authenticated() {
    let app = TestApp::spawn().await;
    let response = app
        .put_json(
            &format!("/api/tickets/{}", ObjectId::new().to_hex()),
            None,
            &json!({ "title": "concert", "price": 20 }),
        )
        .await;
    assert_errors(response, 401, json!([{ "message": "Not authorized" }])).await;
}

#[tokio::test]
async fn returns_a_401_if_the_user_does_not_own_the_ticket() {
    let app = TestApp::spawn().await;
    let ticket = app.create_ticket(&app.cookie(), "concert", 20.0).await;

    let response = update(
        &app,
        &app.cookie(),
        &ticket,
        &json!({ "title": "stolen", "price": 1000 }),
    )
    .await;
    assert_errors(response, 401, json!([{ "message": "Not authorized" }])).await;
    assert_eq!(app.ticket(ticket["id"].as_str().expect("id")).await, ticket);
    assert!(app.nats.published("ticket:updated").await.is_empty());
}

#[tokio::test]
async fn returns_a_400_if_the_user_provides_an_invalid_title_or_price() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    let ticket = app.create_ticket(&cookie, "concert", 20.0).await;
    let title = json!({ "message": "Title is required", "field": "title" });
    let price = json!({ "message": "Price must be greater than 0", "field": "price" });

    for (body, errors) in [
        (json!({ "title": "", "price": 20 }), json!([title])),
        (json!({ "price": 20 }), json!([title])),
        (json!({ "title": "concert", "price": -10 }), json!([price])),
        (json!({ "title": "concert" }), json!([price])),
        (json!({}), json!([title, price])),
    ] {
        let response = app.put_json(&path(&ticket), Some(&cookie), &body).await;
        assert_errors(response, 400, errors).await;
    }
    assert_eq!(app.ticket(ticket["id"].as_str().expect("id")).await, ticket);
}

#[tokio::test]
async fn updates_the_ticket_provided_valid_inputs() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    let ticket = app.create_ticket(&cookie, "concert", 20.0).await;

    let body = json!({ "title": "new title", "price": "100" });
    let response = update(&app, &cookie, &ticket, &body).await;
    assert_eq!(response.status(), 200);
    let expected = json!({
        "id": ticket["id"], "title": "new title", "price": 100, "userId": ticket["userId"], "version": 1
    });
    let updated: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(updated, expected);
    assert_eq!(
        app.ticket(ticket["id"].as_str().expect("id")).await,
        expected
    );
}

#[tokio::test]
async fn publishes_an_event() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    let ticket = app.create_ticket(&cookie, "concert", 20.0).await;

    let body = json!({ "title": "new title", "price": 100.5 });
    assert_eq!(update(&app, &cookie, &ticket, &body).await.status(), 200);

    assert_eq!(
        app.nats.bodies("ticket:updated").await,
        [json!({
            "id": ticket["id"], "version": 1, "title": "new title", "price": 100.5, "userId": ticket["userId"]
        })]
    );
}

#[tokio::test]
async fn rejects_updates_if_the_ticket_is_reserved() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    let ticket = app.create_ticket(&cookie, "concert", 20.0).await;
    app.reserve(&ticket).await;

    let response = update(
        &app,
        &cookie,
        &ticket,
        &json!({ "title": "new title", "price": 100 }),
    )
    .await;
    assert_errors(
        response,
        400,
        json!([{ "message": "Cannot edit a reserved ticket" }]),
    )
    .await;
    let now = app.ticket(ticket["id"].as_str().expect("id")).await;
    assert_eq!(
        (now["title"].clone(), now["version"].clone()),
        (json!("concert"), json!(1))
    );
}

/// Issue 11, case 7: concurrent `PUT`s of one ticket by its owner are normal contention, not a
/// 500: each succeeds in turn with a version of its own, and each publishes its `ticket:updated`.
#[tokio::test]
async fn concurrent_updates_of_one_ticket_all_succeed_in_turn() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    let ticket = app.create_ticket(&cookie, "concert", 20.0).await;
    const EDITS: usize = 16;

    let responses = futures::future::join_all((0..EDITS).map(|n| {
        let body = json!({ "title": format!("edit {n}"), "price": n + 1 });
        let (app, cookie, path) = (&app, &cookie, path(&ticket));
        async move {
            let response = app.put_json(&path, Some(cookie), &body).await;
            let status = response.status().as_u16();
            (
                status,
                response.json::<serde_json::Value>().await.expect("JSON"),
            )
        }
    }))
    .await;
    let failed: Vec<_> = responses
        .iter()
        .filter(|(status, _)| *status != 200)
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let mut versions: Vec<i64> = responses
        .iter()
        .map(|(_, body)| body["version"].as_i64().expect("version"))
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=EDITS as i64).collect::<Vec<_>>());

    let last = responses
        .iter()
        .find(|(_, body)| body["version"] == EDITS)
        .map(|(_, body)| body.clone())
        .expect("the last edit");
    assert_eq!(app.ticket(ticket["id"].as_str().expect("id")).await, last);
    let events = app.wait_published("ticket:updated", EDITS).await;
    let mut published: Vec<_> = events
        .iter()
        .map(|event| event.body["version"].clone())
        .collect();
    published.sort_by_key(|version| version.as_i64());
    assert_eq!(
        published,
        (1..=EDITS as i64).map(|v| json!(v)).collect::<Vec<_>>()
    );
}
