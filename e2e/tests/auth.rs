//! The auth flow as a new user runs it with curl against the local stack.

use e2e::{User, stack_url};
use reqwest::StatusCode;
use serde_json::json;
use test_support::http::{assert_errors, client, set_cookie};

#[tokio::test]
async fn signup_then_currentuser_through_the_ingress() {
    let user = User::sign_up().await;
    let cookie = user
        .cookie
        .as_deref()
        .expect("signup sets the session cookie");
    assert!(cookie.starts_with("session="), "{cookie}");
    let me = user.current_user().await;
    assert_eq!(me["currentUser"]["id"], user.id.as_str());
    assert_eq!(me["currentUser"]["email"], user.email.as_str());
}

#[tokio::test]
async fn the_local_stack_sets_a_cookie_that_works_over_plain_http() {
    let response = client()
        .post(format!("{}/api/users/signup", stack_url()))
        .json(&json!({ "email": format!("{}@e2e.test", uuid::Uuid::new_v4().simple()), "password": "pass" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    let header = set_cookie(&response).expect("Set-Cookie");
    assert!(
        !header.contains("Secure"),
        "a Secure cookie would not come back over http: {header}"
    );
    assert!(
        header.contains("HttpOnly") && header.contains("Path=/"),
        "{header}"
    );
}

#[tokio::test]
async fn signout_then_currentuser_is_null() {
    let mut user = User::sign_up().await;
    let response = user.post("/api/users/signout", &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    user.cookie = test_support::http::cookie_pair(&response);
    let me = user.current_user().await;
    assert_eq!(me, json!({ "currentUser": null }));
}

#[tokio::test]
async fn errors_come_back_through_the_ingress_with_the_contract_body() {
    let response = client()
        .post(format!("{}/api/users/signup", stack_url()))
        .json(&json!({ "email": "nope", "password": "p" }))
        .send()
        .await
        .expect("sent");
    assert_errors(
        response,
        400,
        json!([
            { "message": "Email must be valid", "field": "email" },
            { "message": "Password must be between 4 and 20 characters", "field": "password" }
        ]),
    )
    .await;
    let response = client()
        .get(format!("{}/api/users/nothing-here", stack_url()))
        .send()
        .await
        .expect("sent");
    assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
}
