//! Configuration from environment variables, with the original system's names where it had one.
//!
//! A service reads everything it needs at start; a missing or malformed variable stops it with one
//! line naming the variable ([`exit_on_error`]), not a panic and a backtrace.

use std::fmt::Display;
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(String),
    #[error("environment variable {name} has an invalid value {value:?}: {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
}

/// A required variable; empty counts as missing.
pub fn required(name: &str) -> Result<String, ConfigError> {
    optional(name).ok_or_else(|| ConfigError::Missing(name.to_owned()))
}

/// An optional variable; empty counts as unset.
pub fn optional(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// An optional variable parsed as `T`, or `default` when unset.
pub fn parsed_or<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match optional(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|error: T::Err| ConfigError::Invalid {
                name: name.to_owned(),
                reason: error.to_string(),
                value,
            }),
    }
}

/// A boolean flag: `true/false/1/0/yes/no`, or `default` when unset.
pub fn flag(name: &str, default: bool) -> Result<bool, ConfigError> {
    match optional(name).map(|value| value.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(value) => match value.as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::Invalid {
                name: name.to_owned(),
                value,
                reason: "expected true or false".to_owned(),
            }),
        },
    }
}

/// Unwraps a configuration result or stops the process with one clear line on stderr.
pub fn exit_on_error<T>(service: &str, result: Result<T, ConfigError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => {
            eprintln!("{service}: configuration error: {error}");
            std::process::exit(2);
        }
    }
}

/// The NATS connection name: `NATS_CLIENT_ID` (the original's variable), else the host name —
/// in Kubernetes the pod's name, so `/connz` tells replicas apart — else the service's name.
pub fn nats_client_id(service: &str) -> String {
    optional("NATS_CLIENT_ID")
        .or_else(|| optional("HOSTNAME"))
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
        })
        .unwrap_or_else(|| service.to_owned())
}
