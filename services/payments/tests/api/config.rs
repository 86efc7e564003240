//! The binary itself: configuration errors stop it with one clear line.

fn run_payments(env: &[(&str, &str)]) -> std::process::Output {
    test_support::process::run_with_env(env!("CARGO_BIN_EXE_payments"), env)
}

const ALL: [(&str, &str); 4] = [
    ("MONGO_URI", "mongodb://127.0.0.1:1/payments"),
    ("NATS_URL", "nats://127.0.0.1:1"),
    ("JWT_KEY", "k"),
    ("STRIPE_KEY", "sk_test_x"),
];

#[test]
fn each_missing_variable_is_named() {
    for missing in ["MONGO_URI", "NATS_URL", "JWT_KEY", "STRIPE_KEY"] {
        let env: Vec<_> = ALL
            .iter()
            .copied()
            .filter(|(name, _)| *name != missing)
            .collect();
        let output = run_payments(&env);
        assert_eq!(output.status.code(), Some(2), "{missing}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr).trim(),
            format!(
                "payments: configuration error: missing required environment variable {missing}"
            )
        );
    }
}

#[test]
fn a_malformed_port_is_named() {
    let mut env = ALL.to_vec();
    env.push(("PORT", "http"));
    let output = run_payments(&env);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("payments: configuration error:")
            && stderr.contains("PORT")
            && stderr.contains("\"http\""),
        "{stderr}"
    );
}
