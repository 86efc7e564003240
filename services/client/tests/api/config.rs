//! The binary itself: configuration errors stop it with one clear line; probes.

use std::process::Command;

use crate::helpers::TestApp;

fn run_client(env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
    command.env_clear();
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("client binary runs")
}

#[test]
fn a_missing_ingress_url_stops_the_service_with_a_clear_message() {
    let output = run_client(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "client: configuration error: missing required environment variable INGRESS_URL"
    );
}

#[test]
fn an_ingress_url_that_is_not_http_is_named() {
    let output = run_client(&[("INGRESS_URL", "ingress:80")]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        r#"client: configuration error: environment variable INGRESS_URL has an invalid value "ingress:80": expected an http:// or https:// URL"#
    );
}

#[tokio::test]
async fn healthz_and_readyz_answer_without_asking_the_ingress() {
    let app = TestApp::spawn().await;

    for (path, body) in [
        ("/healthz", serde_json::json!({ "status": "ok" })),
        ("/readyz", serde_json::json!({ "status": "ready" })),
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<serde_json::Value>().await.expect("json"),
            body
        );
    }
    assert!(app.ingress.seen().is_empty());
}
