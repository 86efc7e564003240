use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_errors, cookie_pair, set_cookie};

#[tokio::test]
async fn fails_when_an_email_that_does_not_exist_is_supplied() {
    let app = TestApp::spawn().await;
    let response = app.signin("test@test.com", "password").await;
    assert!(set_cookie(&response).is_none());
    assert_errors(response, 400, json!([{ "message": "Invalid credentials" }])).await;
}

#[tokio::test]
async fn fails_when_an_incorrect_password_is_supplied() {
    let app = TestApp::spawn().await;
    assert_eq!(app.signup("test@test.com", "password").await.status(), 201);
    let response = app.signin("test@test.com", "aslkdfjalskdfj").await;
    assert!(set_cookie(&response).is_none());
    assert_errors(response, 400, json!([{ "message": "Invalid credentials" }])).await;
}

#[tokio::test]
async fn responds_with_a_cookie_when_given_valid_credentials() {
    let app = TestApp::spawn().await;
    let signup: serde_json::Value = app
        .signup("test@test.com", "password")
        .await
        .json()
        .await
        .expect("json");
    let response = app.signin("test@test.com", "password").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = cookie_pair(&response).expect("a session cookie");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({ "id": signup["id"], "email": "test@test.com" })
    );
    let me = app.current_user(Some(&cookie)).await;
    assert_eq!(me["currentUser"]["id"], signup["id"]);
}

#[tokio::test]
async fn requires_a_password_and_a_valid_email() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json("/api/users/signin", None, &json!({ "email": "nope" }))
        .await;
    assert_errors(
        response,
        400,
        json!([
            { "message": "Email must be valid", "field": "email" },
            { "message": "You must supply a password", "field": "password" }
        ]),
    )
    .await;
    let response = app.signin("a@b.co", "   ").await;
    assert_errors(
        response,
        400,
        json!([{ "message": "You must supply a password", "field": "password" }]),
    )
    .await;
}
