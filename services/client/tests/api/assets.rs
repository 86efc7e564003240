//! The stylesheet and script: embedded, linked under a content hash, cached.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};

use crate::helpers::{TestApp, between};

async fn linked_urls(app: &TestApp) -> (String, String) {
    let (_, html) = app.page("/auth/signin", None).await;
    let css = between(&html, r#"<link rel="stylesheet" href=""#, "\"")
        .expect("a stylesheet")
        .to_owned();
    let js = between(&html, r#"<script src=""#, "\"")
        .expect("a script")
        .to_owned();
    (css, js)
}

#[tokio::test]
async fn pages_link_the_stylesheet_and_script_under_their_content_hash() {
    let app = TestApp::spawn().await;

    let (css, js) = linked_urls(&app).await;

    assert!(css.starts_with("/static/app.css?v="), "{css}");
    assert!(js.starts_with("/static/app.js?v="), "{js}");
    for (url, content_type, needle) in [
        (&css, "text/css; charset=utf-8", ".navbar"),
        (&js, "text/javascript; charset=utf-8", "Ooops...."),
    ] {
        let response = app.browse(url, None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[CONTENT_TYPE], content_type);
        assert_eq!(
            response.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let hash = url.split("v=").nth(1).expect("a hash");
        assert_eq!(response.headers()[ETAG], format!("\"{hash}\"").as_str());
        assert!(response.text().await.expect("a body").contains(needle));
    }
}

#[tokio::test]
async fn an_unversioned_url_gets_the_file_with_a_short_lifetime_and_revalidates() {
    let app = TestApp::spawn().await;

    let response = app.browse("/static/app.css", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[CACHE_CONTROL], "public, max-age=300");
    let etag = response.headers()[ETAG].clone();

    let revalidated = app
        .http()
        .get(app.url("/static/app.css"))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(revalidated.text().await.expect("a body"), "");
}

/// `v` only busts caches: one that does not parse is no version, not an error.
#[tokio::test]
async fn a_query_that_does_not_parse_gets_the_file_with_a_short_lifetime() {
    let app = TestApp::spawn().await;

    let plain = app.browse("/static/app.css", None).await;
    let expected = plain.text().await.expect("a body");
    let response = app.browse("/static/app.css?v=a&v=b", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[CACHE_CONTROL], "public, max-age=300");
    assert_eq!(response.text().await.expect("a body"), expected);

    let (status, html) = app.page("/static/%FF", None).await;
    assert_eq!(status, 404);
    assert!(html.contains("<h1>Page not found</h1>"));
}

#[tokio::test]
async fn an_unknown_static_file_is_the_404_page() {
    let app = TestApp::spawn().await;

    let (status, html) = app.page("/static/secret.txt", None).await;

    assert_eq!(status, 404);
    assert!(html.contains("<h1>Page not found</h1>"));
}

/// The API's OpenAPI document, at the address the ingress gives it (`location /` is the client).
#[tokio::test]
async fn the_openapi_document_is_served_as_checked_in() {
    let app = TestApp::spawn().await;

    let response = app.browse("/api/docs/openapi.json", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(response.headers()[CACHE_CONTROL], "public, max-age=300");
    let etag = response.headers()[ETAG].clone();
    let body = response.text().await.expect("a body");
    assert_eq!(body, include_str!("../../static/openapi.json"));
    let document: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["title"], "Ticketing");

    let revalidated = app
        .http()
        .get(app.url("/api/docs/openapi.json"))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
}

/// A reader's glance at the API: every operation of the document, in one table.
#[tokio::test]
async fn the_api_page_lists_every_operation_of_the_document() {
    let app = TestApp::spawn().await;

    let (status, html) = app.page("/api/docs", None).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<a href="/api/docs/openapi.json">"#),
        "{html}"
    );
    let rows = html.matches("<tr><td><code>").count();
    assert_eq!(rows, 13, "{html}");
    for row in [
        "<td><code>POST</code></td><td><code>/api/users/signup</code></td><td>signUp</td>",
        "<td><code>GET</code></td><td><code>/api/users/currentuser</code></td><td>currentUser</td>",
        "<td><code>POST</code></td><td><code>/api/payments</code></td><td>createPayment (signed in)</td>",
        "<td><code>GET</code></td><td><code>/api/tickets/{id}</code></td><td>getTicket</td>",
    ] {
        assert!(html.contains(row), "{row} in {html}");
    }
}
