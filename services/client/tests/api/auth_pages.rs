//! `/auth/signup`, `/auth/signin` and `/auth/signout`.

use axum::http::Method;
use reqwest::header::{COOKIE, HOST, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::helpers::{ALICE, TestApp, as_alice, between, nav_links, signed_out_nav};

#[tokio::test]
async fn the_sign_up_form_posts_email_and_password_to_the_api() {
    let app = TestApp::spawn().await;

    let (status, html) = app.page("/auth/signup", None).await;

    assert_eq!(status, 200);
    assert_eq!(nav_links(&html), signed_out_nav());
    let form = between(&html, "<form", "</form>").expect("a form");
    assert_eq!(
        form,
        concat!(
            r#" class="card form" data-api="/api/users/signup" data-redirect="/" data-errors="form-errors" method="post" novalidate>"#,
            r#"<h1>Sign Up</h1>"#,
            r#"<div class="form-group"><label for="email">Email Address</label><input class="form-control" id="email" name="email" type="email" autocomplete="email" required></div>"#,
            r#"<div class="form-group"><label for="password">Password</label><input class="form-control" id="password" name="password" type="password" autocomplete="new-password" required></div>"#,
            r#"<div class="error-slot" id="form-errors" aria-live="polite"></div>"#,
            r#"<noscript><p class="note">This needs JavaScript: please turn it on to continue.</p></noscript>"#,
            r#"<button class="btn btn-primary" type="submit">Sign Up</button>"#,
        )
    );
}

#[tokio::test]
async fn the_sign_in_form_posts_to_signin() {
    let app = TestApp::spawn().await;

    let (status, html) = app.page("/auth/signin", None).await;

    assert_eq!(status, 200);
    assert!(html.contains("<title>Sign In · GitTix</title>"));
    assert!(html.contains(r#"data-api="/api/users/signin" data-redirect="/""#));
    assert!(html.contains(r#"autocomplete="current-password""#));
    assert!(html.contains(r#"<button class="btn btn-primary" type="submit">Sign In</button>"#));
}

#[tokio::test]
async fn a_form_submitted_without_javascript_explains_instead_of_failing() {
    let app = TestApp::spawn().await;

    let response = app
        .http()
        .post(app.url("/auth/signup"))
        .form(&[("email", "a@b.co"), ("password", "pass")])
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), 400);
    let html = response.text().await.expect("a body");
    assert!(html.contains("<h1>JavaScript needed</h1>"), "{html}");
    assert!(app.ingress.seen().is_empty(), "nothing reaches the API");
}

/// Alice presses Sign Out: the header's form posted from a page of `site`.
async fn sign_out(app: &TestApp, site: &str) -> reqwest::Response {
    app.http()
        .post(app.url("/auth/signout"))
        .header(HOST, "ticketing.dev")
        .header(COOKIE, ALICE)
        .header("sec-fetch-site", site)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn sign_out_posts_to_the_api_as_the_browser_relays_its_cookie_and_goes_home() {
    let app = TestApp::spawn().await;
    let cleared = "session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax";
    app.ingress
        .respond_with_cookie(Method::POST, "/api/users/signout", json!({}), cleared);

    let response = sign_out(&app, "same-origin").await;

    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], "/");
    assert_eq!(response.headers()[SET_COOKIE], cleared);
    assert_eq!(
        app.ingress.seen(),
        vec![as_alice("POST", "/api/users/signout")]
    );
}

#[tokio::test]
async fn sign_out_with_the_api_down_shows_the_error_page() {
    let app = TestApp::spawn().await;
    app.ingress.respond_raw(
        Method::POST,
        "/api/users/signout",
        503,
        "<html>503 Service Temporarily Unavailable</html>",
    );

    let response = sign_out(&app, "same-origin").await;
    let status = response.status().as_u16();
    let html = response.text().await.expect("a body");

    assert_eq!(status, 502);
    assert!(html.contains("<h1>Something went wrong</h1>"));
}

/// Following a link to `/auth/signout` (from anywhere) only asks: a page with the Sign Out
/// button, and the session untouched.
#[tokio::test]
async fn a_link_to_sign_out_only_asks_and_signs_no_one_out() {
    let app = TestApp::spawn().await;
    let (status, html) = app.page("/auth/signout", Some(ALICE)).await;

    assert_eq!(status, 200);
    assert!(html.contains("<h1>Sign out?</h1>"), "{html}");
    assert!(
        html.contains(r#"<form class="nav-form" method="post" action="/auth/signout"><button class="nav-link" type="submit">Sign Out</button></form>"#),
        "{html}"
    );
    assert_eq!(
        app.ingress.seen(),
        vec![as_alice("GET", "/api/users/currentuser")]
    );
}

/// A sign-out form posted from another site is refused before anything is asked of the API.
#[tokio::test]
async fn a_sign_out_posted_from_another_site_is_refused() {
    let app = TestApp::spawn().await;
    let response = sign_out(&app, "cross-site").await;
    assert_eq!(response.status(), 403);
    assert!(app.ingress.seen().is_empty());
}
