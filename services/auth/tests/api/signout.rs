use reqwest::StatusCode;

use crate::helpers::{TestApp, set_cookie};

#[tokio::test]
async fn clears_the_cookie_after_signing_out() {
    let app = TestApp::spawn().await;
    let cookie = app.signed_in_cookie("test@test.com").await;
    let response = app
        .send(
            reqwest::Method::POST,
            "/api/users/signout",
            Some(&cookie),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let cleared = set_cookie(&response).expect("a Set-Cookie header");
    assert!(cleared.starts_with("session=;"), "{cleared}");
    assert!(cleared.contains("Path=/"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(cleared.contains("Expires="), "{cleared}");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body, serde_json::json!({}));
}
