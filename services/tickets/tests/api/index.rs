//! `GET /api/tickets`.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn can_fetch_a_list_of_tickets() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    let mut created = Vec::new();
    for (title, price) in [("first", 10.0), ("second", 20.0), ("third", 30.5)] {
        created.push(app.create_ticket(&cookie, title, price).await);
    }

    let response = app.get("/api/tickets", None).await;
    assert_eq!(response.status(), 200);
    let listed: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(listed, json!(created), "all of them, oldest first");
}

#[tokio::test]
async fn reserved_tickets_are_not_listed() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    let reserved = app.create_ticket(&cookie, "reserved", 10.0).await;
    let free = app.create_ticket(&cookie, "free", 20.0).await;
    app.reserve(&reserved).await;

    let listed: serde_json::Value = app
        .get("/api/tickets", None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed, json!([free]));
}

/// `?limit=` pages the list, oldest first; `Link: rel="next"` says where the next page starts,
/// and the last page has none. Without `limit` the list is whole (above).
#[tokio::test]
async fn the_list_can_be_paged_with_a_limit_and_a_cursor() {
    let app = TestApp::spawn().await;
    let cookie = app.cookie();
    let mut created = Vec::new();
    for title in ["a", "b", "c", "d", "e"] {
        created.push(app.create_ticket(&cookie, title, 10.0).await);
    }

    let mut path = "/api/tickets?limit=2".to_owned();
    let mut pages = Vec::new();
    loop {
        let response = app.get(&path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        let next = response
            .headers()
            .get("link")
            .map(|link| link.to_str().expect("ascii").to_owned());
        let page: serde_json::Value = response.json().await.expect("JSON");
        pages.push(page);
        let Some(next) = next else { break };
        let target = next
            .strip_prefix('<')
            .and_then(|rest| rest.strip_suffix(">; rel=\"next\""))
            .expect("a next link");
        path = target.to_owned();
    }
    assert_eq!(
        pages,
        [
            json!([created[0], created[1]]),
            json!([created[2], created[3]]),
            json!([created[4]])
        ]
    );
    let after_last = format!(
        "/api/tickets?limit=2&after={}",
        created[4]["id"].as_str().expect("id")
    );
    let response = app.get(&after_last, None).await;
    assert!(response.headers().get("link").is_none());
    assert_eq!(
        response.json::<serde_json::Value>().await.expect("JSON"),
        json!([])
    );
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_a_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/tickets?limit=1000&after=nope", None).await;
    test_support::http::assert_errors(
        response,
        400,
        json!([
            { "message": "limit must be an integer from 1 to 100", "field": "limit" },
            { "message": "after must be the id of an item", "field": "after" },
        ]),
    )
    .await;
}
