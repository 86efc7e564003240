//! The binary itself: configuration errors stop it with one clear line.

fn run_auth(env: &[(&str, &str)]) -> std::process::Output {
    test_support::process::run_with_env(env!("CARGO_BIN_EXE_auth"), env)
}

#[test]
fn a_missing_jwt_key_stops_the_service_with_a_clear_message() {
    let output = run_auth(&[("MONGO_URI", "mongodb://127.0.0.1:1/auth")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "auth: configuration error: missing required environment variable JWT_KEY"
    );
}

#[test]
fn a_missing_mongo_uri_stops_the_service_with_a_clear_message() {
    let output = run_auth(&[("JWT_KEY", "k")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "auth: configuration error: missing required environment variable MONGO_URI"
    );
}

#[test]
fn a_malformed_port_is_named() {
    let output = run_auth(&[
        ("JWT_KEY", "k"),
        ("MONGO_URI", "mongodb://x/auth"),
        ("PORT", "http"),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("PORT") && stderr.contains("\"http\""),
        "{stderr}"
    );
}
