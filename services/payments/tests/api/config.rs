//! The binary itself: configuration errors stop it with one clear line.

use std::process::Command;

fn run_payments(env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payments"));
    command.env_clear();
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("payments binary runs")
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
