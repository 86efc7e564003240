use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_errors, set_cookie};

fn password_length() -> serde_json::Value {
    json!({ "message": "Password must be between 4 and 20 characters", "field": "password" })
}

#[tokio::test]
async fn returns_201_on_successful_signup() {
    let app = TestApp::spawn().await;
    let response = app.signup("test@test.com", "password").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: serde_json::Value = response.json().await.expect("json");
    let id = body["id"].as_str().expect("id is a string");
    assert_eq!(id.len(), 24, "id is an ObjectId hex string");
    assert_eq!(body, json!({ "id": id, "email": "test@test.com" }));
}

#[tokio::test]
async fn returns_400_with_an_invalid_email() {
    let app = TestApp::spawn().await;
    let too_long_local = format!("{}@test.com", "a".repeat(65));
    let too_long_domain = format!("a@{}.com", "d".repeat(300));
    // Each part within its bound, 255 characters in all: one more than mail can be sent to.
    let label = "a".repeat(63);
    let too_long = format!("0@{}.{label}.{label}.{}", "0".repeat(63), "a".repeat(61));
    for email in [
        "alskdflaskjfd",
        too_long_local.as_str(),
        too_long_domain.as_str(),
        too_long.as_str(),
    ] {
        let response = app.signup(email, "password").await;
        assert_errors(
            response,
            400,
            json!([{ "message": "Email must be valid", "field": "email" }]),
        )
        .await;
    }
}

#[tokio::test]
async fn returns_400_with_an_invalid_password() {
    let app = TestApp::spawn().await;
    for password in ["p", "   p   ", "123456789012345678901"] {
        let response = app.signup("test@test.com", password).await;
        assert_errors(response, 400, json!([password_length()])).await;
    }
}

#[tokio::test]
async fn returns_400_with_missing_email_and_password() {
    let app = TestApp::spawn().await;
    let both = json!([
        { "message": "Email must be valid", "field": "email" },
        password_length()
    ]);
    assert_errors(
        app.post_json("/api/users/signup", None, &json!({})).await,
        400,
        both.clone(),
    )
    .await;
    // Wrong types are reported against their fields, not as a parse failure.
    let wrong_types = json!({ "email": 42, "password": ["x"] });
    assert_errors(
        app.post_json("/api/users/signup", None, &wrong_types).await,
        400,
        both,
    )
    .await;
    let email_only = json!({ "email": "test@test.com" });
    let response = app.post_json("/api/users/signup", None, &email_only).await;
    assert_errors(response, 400, json!([password_length()])).await;
}

/// Emails compare case-insensitively: one account, whichever way it is typed, kept as first
/// typed.
#[tokio::test]
async fn an_email_differing_only_in_case_is_the_same_account() {
    let app = TestApp::spawn().await;
    let created = app.signup("Mixed@Case.com", "password").await;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.expect("json");
    assert_eq!(created["email"], "Mixed@Case.com");

    let response = app.signup("mixed@CASE.COM", "password").await;
    assert_errors(response, 400, json!([{ "message": "Email in use" }])).await;

    let signed_in = app.signin("MIXED@case.com", "password").await;
    assert_eq!(signed_in.status(), 200);
    let signed_in: serde_json::Value = signed_in.json().await.expect("json");
    assert_eq!(signed_in, created);
}

/// Racing sign-ups of one address in two cases: the unique index (which compares without case)
/// lets exactly one through.
#[tokio::test]
async fn concurrent_signups_differing_only_in_case_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let (a, b) = tokio::join!(
        app.signup("race@case.com", "password"),
        app.signup("RACE@case.com", "password")
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 400]);
}

#[tokio::test]
async fn disallows_duplicate_emails() {
    let app = TestApp::spawn().await;
    assert_eq!(app.signup("test@test.com", "password").await.status(), 201);
    let response = app.signup("test@test.com", "password").await;
    assert_errors(response, 400, json!([{ "message": "Email in use" }])).await;
}

#[tokio::test]
async fn sets_a_cookie_after_successful_signup() {
    let app = TestApp::spawn().await;
    let response = app.signup("test@test.com", "password").await;
    let cookie = set_cookie(&response).expect("a Set-Cookie header");
    assert!(cookie.starts_with("session="), "{cookie}");
    for attribute in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
}

#[tokio::test]
async fn concurrent_signups_with_one_email_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let attempts = (0..6).map(|_| app.signup("race@test.com", "password"));
    let responses = futures::future::join_all(attempts).await;
    let created = responses.iter().filter(|r| r.status() == 201).count();
    assert_eq!(created, 1, "exactly one signup wins");
    for response in responses.into_iter().filter(|r| r.status() != 201) {
        assert_errors(response, 400, json!([{ "message": "Email in use" }])).await;
    }
    let stored = app
        .db
        .db
        .collection::<bson::Document>("users")
        .count_documents(bson::doc! { "email": "race@test.com" })
        .await
        .expect("counts");
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn stores_an_argon2id_hash_and_never_returns_it() {
    let app = TestApp::spawn().await;
    let response = app.signup("hash@test.com", "  secret  ").await;
    let body = response.text().await.expect("body");
    assert!(
        !body.contains("secret") && !body.contains("argon2"),
        "{body}"
    );
    let user = app
        .db
        .db
        .collection::<bson::Document>("users")
        .find_one(bson::doc! { "email": "hash@test.com" })
        .await
        .expect("query")
        .expect("stored");
    let hash = user.get_str("password").expect("password field");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    // The password is trimmed before hashing, as the original's validator does.
    let signin = app.signin("hash@test.com", "secret").await;
    assert_eq!(signin.status(), 200);
}
