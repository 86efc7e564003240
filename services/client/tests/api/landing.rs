//! `/`: the header for signed-in and signed-out visitors, and the ticket table.

use axum::http::Method;
use serde_json::json;

use crate::helpers::{ALICE, TestApp, as_alice, nav_links, signed_in_nav, signed_out_nav, ticket};

#[tokio::test]
async fn a_visitor_sees_sign_up_and_sign_in_and_the_tickets_in_a_table() {
    let app = TestApp::spawn().await;
    app.ingress.respond(
        Method::GET,
        "/api/tickets",
        200,
        json!([
            ticket("5f0f5b1c2a7d3e0012345678", "concert", json!(20)),
            ticket("5f0f5b1c2a7d3e0012345679", "<b>opera</b> & co", json!(12.5)),
        ]),
    );

    let (status, html) = app.page("/", None).await;

    assert_eq!(status, 200);
    assert_eq!(nav_links(&html), signed_out_nav());
    assert!(html.contains(r#"<a class="navbar-brand" href="/">GitTix</a>"#));
    assert!(html.contains(
        r#"<thead><tr><th scope="col">Title</th><th scope="col">Price</th><th scope="col">Link</th></tr></thead>"#
    ));
    let rows = concat!(
        r#"<tbody>"#,
        r#"<tr><td>concert</td><td class="price">20.00</td><td><a href="/tickets/5f0f5b1c2a7d3e0012345678">View<span class="visually-hidden"> concert</span></a></td></tr>"#,
        r#"<tr><td>&lt;b&gt;opera&lt;/b&gt; &amp; co</td><td class="price">12.50</td><td><a href="/tickets/5f0f5b1c2a7d3e0012345679">View<span class="visually-hidden"> &lt;b&gt;opera&lt;/b&gt; &amp; co</span></a></td></tr>"#,
        r#"</tbody>"#,
    );
    assert!(html.contains(rows), "{html}");
}

#[tokio::test]
async fn a_signed_in_user_sees_sell_ticket_my_orders_and_sign_out() {
    let app = TestApp::spawn().await;
    app.ingress
        .respond(Method::GET, "/api/tickets", 200, json!([]));

    let (status, html) = app.page("/", Some(ALICE)).await;

    assert_eq!(status, 200);
    assert_eq!(nav_links(&html), signed_in_nav());
    assert!(html.contains(
        r#"<li class="nav-user"><span class="visually-hidden">Signed in as </span>alice@test.com</li>"#
    ));
    assert!(html.contains(
        r#"<p class="empty">No tickets for sale right now. <a href="/tickets/new">Sell one</a>.</p>"#
    ));
}

#[tokio::test]
async fn the_page_fetches_through_the_ingress_with_the_browsers_cookie_and_host() {
    let app = TestApp::spawn().await;
    app.ingress
        .respond(Method::GET, "/api/tickets", 200, json!([]));

    app.page("/", Some(ALICE)).await;

    let mut seen = app.ingress.seen();
    seen.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(
        seen,
        vec![
            as_alice("GET", "/api/tickets"),
            as_alice("GET", "/api/users/currentuser"),
        ]
    );
}

#[tokio::test]
async fn pages_are_not_cached_by_shared_caches_and_carry_security_headers() {
    let app = TestApp::spawn().await;
    app.ingress
        .respond(Method::GET, "/api/tickets", 200, json!([]));

    let response = app.browse("/", None).await;

    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("cache-control").as_deref(),
        Some("private, no-cache")
    );
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert!(
        header("content-security-policy")
            .is_some_and(|csp| csp.starts_with("default-src 'self'; script-src 'self'"))
    );
}
