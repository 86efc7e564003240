//! `/tickets/new` and `/tickets/{ticketId}`.

use axum::http::Method;
use serde_json::json;

use crate::helpers::{
    ALICE, TICKET_ID, TestApp, as_alice, between, nav_links, signed_in_nav, signed_out_nav, ticket,
};

#[tokio::test]
async fn the_sell_form_posts_title_and_price_and_formats_the_price() {
    let app = TestApp::spawn().await;

    let (status, html) = app.page("/tickets/new", Some(ALICE)).await;

    assert_eq!(status, 200);
    assert_eq!(nav_links(&html), signed_in_nav());
    // The page's own form, in its main (the header holds the sign-out one).
    let main = &html[html.find("<main").expect("a main")..];
    let form = between(main, "<form", "</form>").expect("a form");
    assert_eq!(
        form,
        concat!(
            r#" class="card form" data-api="/api/tickets" data-redirect="/" data-errors="form-errors" method="post" novalidate>"#,
            r#"<h1>Create a Ticket</h1>"#,
            r#"<div class="form-group"><label for="title">Title</label><input class="form-control" id="title" name="title" type="text" autocomplete="off" required></div>"#,
            r#"<div class="form-group"><label for="price">Price</label><input class="form-control" id="price" name="price" type="text" inputmode="decimal" autocomplete="off" data-money required></div>"#,
            r#"<div class="error-slot" id="form-errors" aria-live="polite"></div>"#,
            r#"<noscript><p class="note">This needs JavaScript: please turn it on to continue.</p></noscript>"#,
            r#"<button class="btn btn-primary" type="submit">Submit</button>"#,
        )
    );
}

#[tokio::test]
async fn selling_needs_a_signed_in_user() {
    let app = TestApp::spawn().await;

    let (status, html) = app.page("/tickets/new", None).await;

    assert_eq!(status, 401);
    assert_eq!(nav_links(&html), signed_out_nav());
    assert!(html.contains("<h1>Sign in required</h1>"));
    assert!(html.contains(r#"<a class="btn btn-primary" href="/auth/signin">Sign In</a>"#));
}

#[tokio::test]
async fn a_ticket_page_shows_title_price_and_a_purchase_button() {
    let app = TestApp::spawn().await;
    let path = format!("/api/tickets/{TICKET_ID}");
    app.ingress.respond(
        Method::GET,
        &path,
        200,
        ticket(TICKET_ID, "concert", json!(20)),
    );

    let (status, html) = app
        .page(&format!("/tickets/{TICKET_ID}"), Some(ALICE))
        .await;

    assert_eq!(status, 200);
    assert_eq!(nav_links(&html), signed_in_nav());
    let card = between(&html, r#"<article class="card">"#, "</article>").expect("a card");
    assert_eq!(
        card,
        concat!(
            "<h1>concert</h1><h4>Price: 20.00</h4>",
            r#"<div class="error-slot" id="purchase-errors" aria-live="polite"></div>"#,
            r#"<noscript><p class="note">This needs JavaScript: please turn it on to continue.</p></noscript>"#,
            r#"<button class="btn btn-primary" type="button" data-api="/api/orders" data-body="{&quot;ticketId&quot;:&quot;5f0f5b1c2a7d3e0012345678&quot;}" data-redirect="/orders/{id}" data-errors="purchase-errors">Purchase</button>"#,
        )
    );
    let mut seen = app.ingress.seen();
    seen.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(
        seen,
        vec![
            as_alice("GET", &path),
            as_alice("GET", "/api/users/currentuser")
        ]
    );
}

#[tokio::test]
async fn a_visitor_is_asked_to_sign_in_instead_of_purchasing() {
    let app = TestApp::spawn().await;
    app.ingress.respond(
        Method::GET,
        &format!("/api/tickets/{TICKET_ID}"),
        200,
        ticket(TICKET_ID, "concert", json!(20)),
    );

    let (status, html) = app.page(&format!("/tickets/{TICKET_ID}"), None).await;

    assert_eq!(status, 200);
    assert!(html.contains(
        r#"<h4>Price: 20.00</h4><p><a class="btn btn-primary" href="/auth/signin">Sign in to purchase</a></p>"#
    ));
    assert!(!html.contains("Purchase</button>"));
}

#[tokio::test]
async fn a_reserved_ticket_says_so_instead_of_offering_purchase() {
    let app = TestApp::spawn().await;
    let mut reserved = ticket(TICKET_ID, "concert", json!(20));
    reserved["orderId"] = json!("6a1b2c3d4e5f60718293a4b5");
    app.ingress.respond(
        Method::GET,
        &format!("/api/tickets/{TICKET_ID}"),
        200,
        reserved,
    );

    let (status, html) = app
        .page(&format!("/tickets/{TICKET_ID}"), Some(ALICE))
        .await;

    assert_eq!(status, 200);
    assert!(html.contains(
        r#"<p class="note">This ticket is reserved by someone else right now. It comes back if their order expires.</p>"#
    ));
    assert!(!html.contains("Purchase</button>"));
}

#[tokio::test]
async fn an_unknown_ticket_is_the_404_page() {
    let app = TestApp::spawn().await;

    let (status, html) = app
        .page(&format!("/tickets/{TICKET_ID}"), Some(ALICE))
        .await;

    assert_eq!(status, 404);
    assert_eq!(nav_links(&html), signed_in_nav());
    assert!(html.contains("<h1>Page not found</h1>"));
}

#[tokio::test]
async fn a_malformed_ticket_id_is_the_404_page_without_asking_the_api_for_it() {
    let app = TestApp::spawn().await;

    for path in ["/tickets/..%2F..%2Fapi%2Fusers", "/tickets/%FF"] {
        let (status, html) = app.page(path, Some(ALICE)).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("<h1>Page not found</h1>"), "{path}: {html}");
    }
    assert_eq!(
        app.ingress.requests(),
        vec!["GET /api/users/currentuser", "GET /api/users/currentuser"]
    );
}
