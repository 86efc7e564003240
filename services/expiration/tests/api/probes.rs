//! `/healthz` and `/readyz`, the only HTTP the service serves.

use std::time::Duration;

use serde_json::{Value, json};
use test_support::http::{assert_errors, eventually};

use crate::helpers::Infra;

#[tokio::test]
async fn healthz_answers_while_the_process_lives() {
    let infra = Infra::start().await;
    let app = infra.spawn_app().await;

    let response = app.get("/healthz", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({ "status": "ok" })
    );
}

#[tokio::test]
async fn readyz_reports_redis() {
    let mut infra = Infra::start().await;
    let app = infra.spawn_app().await;

    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({ "status": "ready" })
    );

    infra.redis.stop();
    let body = eventually("readyz to report redis", Duration::from_secs(10), || {
        let response = app.get("/readyz", None);
        async move {
            let response = response.await;
            (response.status() == 503).then_some(())?;
            response.json::<Value>().await.ok()
        }
    })
    .await;
    assert_eq!(
        body,
        json!({ "status": "unavailable", "failing": ["redis"] })
    );
}

#[tokio::test]
async fn there_are_no_other_routes() {
    let infra = Infra::start().await;
    let app = infra.spawn_app().await;

    assert_errors(
        app.get("/api/expiration", None).await,
        404,
        json!([{ "message": "Not Found" }]),
    )
    .await;
}
