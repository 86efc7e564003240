//! When the API fails: the error list, the friendly error page, the 404 page. Never a stack trace.

use axum::http::Method;
use serde_json::json;

use crate::helpers::{ALICE, TestApp, between, nav_links, signed_in_nav, spawn_client};

#[tokio::test]
async fn an_api_error_is_shown_as_the_error_list() {
    let app = TestApp::spawn().await;
    app.ingress.respond(
        Method::GET,
        "/api/tickets",
        400,
        json!({ "errors": [
            { "message": "Title is required", "field": "title" },
            { "message": "Something <odd> happened" },
        ]}),
    );

    let (status, html) = app.page("/", Some(ALICE)).await;

    assert_eq!(status, 502);
    assert_eq!(nav_links(&html), signed_in_nav());
    let problem = between(&html, r#"<section class="problem">"#, "</section>").expect("a problem");
    assert_eq!(
        problem,
        concat!(
            "<h1>Something went wrong</h1>",
            "<p>We could not load this page just now. Please try again in a moment.</p>",
            r#"<div class="alert alert-danger" role="alert"><h4>Ooops....</h4><ul class="my-0">"#,
            r#"<li data-field="title">Title is required</li>"#,
            "<li>Something &lt;odd&gt; happened</li>",
            "</ul></div>",
            r#"<p><a class="btn btn-primary" href="/">Back to the tickets</a></p>"#,
        )
    );
}

#[tokio::test]
async fn a_non_json_answer_from_the_ingress_is_the_friendly_error_page() {
    let app = TestApp::spawn().await;
    app.ingress.respond_raw(
        Method::GET,
        "/api/tickets",
        503,
        "<html><body>503 Service Temporarily Unavailable</body></html>",
    );

    let (status, html) = app.page("/", None).await;

    assert_eq!(status, 502);
    assert!(html.contains(
        "<h1>Something went wrong</h1><p>We could not load this page just now. Please try again in a moment.</p><p>"
    ));
    assert!(!html.contains("Ooops"));
    assert!(!html.contains("503 Service"));
}

#[tokio::test]
async fn a_success_answer_that_is_not_the_contracts_json_is_the_friendly_error_page() {
    let app = TestApp::spawn().await;
    app.ingress.respond(
        Method::GET,
        "/api/tickets",
        200,
        json!({ "unexpected": true }),
    );

    let (status, html) = app.page("/", None).await;

    assert_eq!(status, 502);
    assert!(html.contains("<h1>Something went wrong</h1>"));
    assert!(!html.contains("unexpected"));
}

#[tokio::test]
async fn with_the_ingress_down_every_page_is_the_friendly_error_page_and_the_client_stays_ready() {
    // A port nothing listens on: bind one, then let it go.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds")
        .local_addr()
        .expect("an address");
    let client = spawn_client(format!("http://{closed}"), None).await;
    let address = client.address();
    let http = test_support::http::client();

    for path in ["/", "/auth/signin", "/tickets/new", "/orders"] {
        let response = http
            .get(format!("http://{address}{path}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 502, "{path}");
        let html = response.text().await.expect("a body");
        assert!(html.contains("<h1>Something went wrong</h1>"), "{path}");
        assert!(
            nav_links(&html).is_empty(),
            "the header cannot tell who is signed in"
        );
        assert!(
            !html.to_lowercase().contains("error sending request"),
            "{html}"
        );
    }
    let readyz = http
        .get(format!("http://{address}/readyz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(readyz.status(), 200);
}

#[tokio::test]
async fn an_unknown_page_is_the_404_page_with_the_visitors_header() {
    let app = TestApp::spawn().await;

    let (status, html) = app.page("/no/such/page", Some(ALICE)).await;

    assert_eq!(status, 404);
    assert_eq!(nav_links(&html), signed_in_nav());
    assert!(html.contains("<title>Page not found · GitTix</title>"));
    let problem = between(&html, r#"<section class="problem">"#, "</section>").expect("a problem");
    assert_eq!(
        problem,
        concat!(
            "<h1>Page not found</h1>",
            "<p>There is nothing here. The ticket or order may have been removed, or the address is mistyped.</p>",
            r#"<p><a class="btn btn-primary" href="/">Back to the tickets</a></p>"#,
        )
    );
}
