use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::session::{SessionKeys, UserClaims, encode_cookie_value};
use serde_json::json;

use crate::helpers::{JWT_KEY, TestApp};

#[tokio::test]
async fn responds_with_details_about_the_current_user() {
    let app = TestApp::spawn().await;
    let cookie = app.signed_in_cookie("test@test.com").await;
    let body = app.current_user(Some(&cookie)).await;
    let user = &body["currentUser"];
    assert_eq!(user["email"], "test@test.com");
    assert_eq!(user["id"].as_str().map(str::len), Some(24));
    let iat = user["iat"].as_i64().expect("iat");
    let exp = user["exp"].as_i64().expect("exp");
    assert_eq!(exp - iat, 24 * 60 * 60);
    assert_eq!(
        user.as_object().map(|o| o.len()),
        Some(4),
        "only id, email, iat, exp: {user}"
    );
}

#[tokio::test]
async fn responds_with_null_if_not_authenticated() {
    let app = TestApp::spawn().await;
    assert_eq!(app.current_user(None).await, json!({ "currentUser": null }));
}

#[tokio::test]
async fn bad_cookies_mean_not_signed_in() {
    let app = TestApp::spawn().await;
    let keys = SessionKeys::new(JWT_KEY, true);
    let now = chrono_now();
    let expired = keys
        .sign(&UserClaims {
            id: "5f5f5f5f5f5f5f5f5f5f5f5f".into(),
            email: "old@test.com".into(),
            iat: now - 7200,
            exp: now - 3600,
        })
        .expect("signs");
    let forged = SessionKeys::new("not-the-key", true)
        .issue("5f5f5f5f5f5f5f5f5f5f5f5f", "evil@test.com")
        .expect("signs");
    let valid = keys
        .issue("5f5f5f5f5f5f5f5f5f5f5f5f", "ok@test.com")
        .expect("signs");
    let mut tampered_token = valid.clone();
    tampered_token.replace_range(tampered_token.len() - 4.., "AAAA");

    let cases = [
        format!("session={}", encode_cookie_value(&expired)),
        format!("session={}", encode_cookie_value(&forged)),
        format!("session={}", encode_cookie_value(&tampered_token)),
        format!("session={}", STANDARD.encode(r#"{"jwt":"garbage"}"#)),
        format!("session={}", STANDARD.encode("not json at all")),
        "session=!!!not-base64!!!".to_owned(),
        "session=".to_owned(),
    ];
    for cookie in &cases {
        assert_eq!(
            app.current_user(Some(cookie)).await,
            json!({ "currentUser": null }),
            "cookie {cookie}"
        );
    }
    // The same token, untampered, is accepted: the cases above fail for the reason they name.
    let ok = format!("session={}", encode_cookie_value(&valid));
    assert_eq!(
        app.current_user(Some(&ok)).await["currentUser"]["email"],
        "ok@test.com"
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
