//! The binary itself: configuration errors stop it with one clear line; `REDIS_URL` wins over
//! `REDIS_HOST`; SIGTERM stops it cleanly.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::Infra;

fn run_expiration(env: &[(&str, &str)]) -> std::process::Output {
    test_support::process::run_with_env(env!("CARGO_BIN_EXE_expiration"), env)
}

#[test]
fn a_missing_nats_url_stops_the_service_with_a_clear_message() {
    let output = run_expiration(&[("REDIS_HOST", "localhost")]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "expiration: configuration error: missing required environment variable NATS_URL"
    );
}

#[test]
fn a_missing_redis_host_stops_the_service_with_a_clear_message() {
    let output = run_expiration(&[("NATS_URL", "nats://127.0.0.1:1")]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "expiration: configuration error: missing required environment variable REDIS_HOST"
    );
}

#[test]
fn a_malformed_port_is_named() {
    let output = run_expiration(&[
        ("NATS_URL", "nats://127.0.0.1:1"),
        ("REDIS_HOST", "localhost"),
        ("PORT", "http"),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("PORT") && stderr.contains("\"http\""),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_binary_prefers_redis_url_and_stops_cleanly_on_sigterm() {
    let infra = Infra::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_expiration"))
        .env_clear()
        .env("NATS_URL", &infra.nats.url)
        .env("NATS_CLIENT_ID", "expiration-binary")
        // A host that does not resolve: only REDIS_URL can make the service ready.
        .env("REDIS_HOST", "redis.invalid")
        .env("REDIS_URL", infra.redis.url())
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("expiration binary starts");

    let http = test_support::http::client();
    test_support::http::wait_ready(
        &http,
        &format!("http://127.0.0.1:{port}"),
        Duration::from_secs(20),
    )
    .await;

    let pid = child.id().expect("running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("stops within 15 s")
        .expect("exit status");
    assert!(status.success(), "{status}");
}
