//! The web UI through the ingress: pages render server-side with the browser's session, which
//! the client forwards through nginx to auth and back.

use e2e::{User, stack_url};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use test_support::http::client;

async fn page(path: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let mut request = client().get(format!("{}{path}", stack_url()));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.expect("sent");
    let status = response.status();
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "text/html; charset=utf-8",
        "{path}"
    );
    (status, response.text().await.expect("a body"))
}

#[tokio::test]
async fn a_visitor_gets_the_sign_in_page_with_sign_up_and_sign_in_links() {
    let (status, html) = page("/auth/signin", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<a class="nav-link" href="/auth/signup">Sign Up</a>"#));
    assert!(html.contains(r#"data-api="/api/users/signin""#));
}

#[tokio::test]
async fn the_client_renders_the_signed_in_header_from_the_forwarded_cookie() {
    let user = User::sign_up().await;
    let (status, html) = page("/auth/signup", user.cookie.as_deref()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!(
        r#"<span class="visually-hidden">Signed in as </span>{}</li>"#,
        user.email
    )));
    assert!(html.contains(
        r#"<form class="nav-form" method="post" action="/auth/signout"><button class="nav-link" type="submit">Sign Out</button></form>"#
    ));
}

#[tokio::test]
async fn signing_out_through_the_page_clears_the_session() {
    let user = User::sign_up().await;
    // Following a link only asks.
    let asked = client()
        .get(format!("{}/auth/signout", stack_url()))
        .header(COOKIE, user.cookie.as_deref().expect("a session"))
        .send()
        .await
        .expect("sent");
    assert_eq!(asked.status(), StatusCode::OK);
    assert_eq!(
        user.current_user().await["currentUser"]["email"],
        user.email.as_str()
    );
    // The header's button posts the form, as a browser on the page does.
    let response = client()
        .post(format!("{}/auth/signout", stack_url()))
        .header(COOKIE, user.cookie.as_deref().expect("a session"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/");
    let cleared = response.headers()[SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cleared.starts_with("session=;"), "{cleared}");

    let me: Value = client()
        .get(format!("{}/api/users/currentuser", stack_url()))
        .header(COOKIE, "session=")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(me, json!({ "currentUser": null }));
}

#[tokio::test]
async fn an_unknown_page_is_the_clients_404_page() {
    let (status, html) = page("/no/such/page", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("<h1>Page not found</h1>"));
}

#[tokio::test]
async fn the_landing_page_lists_a_ticket_listed_through_the_api() {
    let user = User::sign_up().await;
    let title = format!("e2e show {}", uuid::Uuid::new_v4().simple());
    let created = user
        .post("/api/tickets", &json!({ "title": title, "price": "12.5" }))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let ticket: Value = created.json().await.expect("json");
    let id = ticket["id"].as_str().expect("an id");

    let (status, html) = page("/", None).await;

    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!(
        r#"<tr><td>{title}</td><td class="price">12.50</td><td><a href="/tickets/{id}">View<span class="visually-hidden"> {title}</span></a></td></tr>"#
    )), "{html}");
    let (status, html) = page(&format!("/tickets/{id}"), user.cookie.as_deref()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("<h1>{title}</h1><h4>Price: 12.50</h4>")));
}
