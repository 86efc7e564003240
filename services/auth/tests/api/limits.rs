//! Rate limits: guessing one account's password is stopped after a few attempts a minute, many
//! sign-ups or sign-ins from one client address after many more; the answer is a 429 in the
//! contract's shape with `Retry-After`, and other accounts and addresses are not held up.

use std::num::NonZeroU32;

use auth::limits::LimitSettings;
use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::TestApp;

fn limits(per_account: u32, per_address: u32) -> LimitSettings {
    LimitSettings {
        signins_per_account: NonZeroU32::new(per_account).expect("not zero"),
        requests_per_address: NonZeroU32::new(per_address).expect("not zero"),
    }
}

/// A request from `address` as the ingress forwards it (the test connects from loopback, which
/// is a trusted proxy by default).
async fn post_from(app: &TestApp, address: &str, path: &str, body: &Value) -> Response {
    app.api
        .http()
        .post(app.api.url(path))
        .header("x-forwarded-for", address)
        .json(body)
        .send()
        .await
        .expect("sent")
}

async fn assert_limited(response: Response) {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({ "errors": [{ "message": format!("Too many attempts; try again in {retry_after} seconds") }] })
    );
}

#[tokio::test]
async fn guessing_one_accounts_password_is_stopped_and_others_are_not_held_up() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.signup("victim@test.com", "password").await.status(),
        201
    );
    assert_eq!(
        app.signup("bystander@test.com", "password").await.status(),
        201
    );

    // The default: ten attempts a minute per account.
    for guess in 0..10 {
        let response = app
            .signin("victim@test.com", &format!("guess{guess}"))
            .await;
        assert_eq!(response.status(), 400, "guess {guess}");
    }
    // The eleventh is refused before any hashing, even with the right password, in any case.
    assert_limited(app.signin("victim@test.com", "password").await).await;
    assert_limited(app.signin("VICTIM@test.com", "guess").await).await;
    // Another account, from the same address, signs in as ever.
    assert_eq!(
        app.signin("bystander@test.com", "password").await.status(),
        200
    );
}

#[tokio::test]
async fn many_requests_from_one_address_are_limited_and_other_addresses_are_not() {
    let app = TestApp::spawn_with_limits(limits(100, 3)).await;
    for n in 0..3 {
        let body = json!({ "email": format!("user{n}@test.com"), "password": "password" });
        let response = post_from(&app, "203.0.113.7", "/api/users/signup", &body).await;
        assert_eq!(response.status(), 201, "sign-up {n}");
    }
    let fourth = json!({ "email": "user3@test.com", "password": "password" });
    assert_limited(post_from(&app, "203.0.113.7", "/api/users/signup", &fourth).await).await;
    // Sign-ins count with sign-ups.
    let signin = json!({ "email": "user0@test.com", "password": "password" });
    assert_limited(post_from(&app, "203.0.113.7", "/api/users/signin", &signin).await).await;
    // The address is the last one the trusted ingress saw: what the client wrote before it
    // (`X-Forwarded-For: <anything>, <its own>`) does not change it.
    assert_limited(
        post_from(
            &app,
            "198.51.100.1, 203.0.113.7",
            "/api/users/signin",
            &signin,
        )
        .await,
    )
    .await;
    let elsewhere = post_from(&app, "203.0.113.8", "/api/users/signup", &fourth).await;
    assert_eq!(elsewhere.status(), 201);
}

#[test]
fn the_limits_are_settings_with_defaults_that_let_honest_traffic_through() {
    assert_eq!(LimitSettings::default(), limits(10, 1200));
}
