//! The binary itself: configuration errors stop it with one clear line.

fn run_orders(env: &[(&str, &str)]) -> std::process::Output {
    test_support::process::run_with_env(env!("CARGO_BIN_EXE_orders"), env)
}

#[test]
fn each_missing_required_variable_is_named() {
    let all = [
        ("MONGO_URI", "mongodb://127.0.0.1:1/orders"),
        ("NATS_URL", "nats://127.0.0.1:1"),
        ("JWT_KEY", "k"),
    ];
    for missing in ["MONGO_URI", "NATS_URL", "JWT_KEY"] {
        let env: Vec<_> = all
            .iter()
            .copied()
            .filter(|(name, _)| *name != missing)
            .collect();
        let output = run_orders(&env);
        assert_eq!(output.status.code(), Some(2), "without {missing}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr).trim(),
            format!("orders: configuration error: missing required environment variable {missing}")
        );
    }
}

#[test]
fn a_malformed_expiration_window_is_named() {
    let output = run_orders(&[
        ("MONGO_URI", "mongodb://127.0.0.1:1/orders"),
        ("NATS_URL", "nats://127.0.0.1:1"),
        ("JWT_KEY", "k"),
        ("EXPIRATION_WINDOW_SECONDS", "soon"),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("EXPIRATION_WINDOW_SECONDS") && stderr.contains("\"soon\""),
        "{stderr}"
    );
}
