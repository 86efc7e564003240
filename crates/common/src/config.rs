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

/// What every service that owns a database and speaks events reads alike (tickets, orders,
/// payments): `MONGO_URI`, `NATS_URL`, `NATS_CLIENT_ID`, `JWT_KEY`, `PORT`, `COOKIE_SECURE`.
/// Each service's own `Config` holds one of these beside its own settings.
#[derive(Clone)]
pub struct ServiceConfig {
    /// `mongodb://host:port/<database>`; the path names the service's database, which must be on
    /// a replica set (the outbox commits in transactions).
    pub mongo_uri: String,
    pub nats_url: String,
    /// The NATS connection name; see [`nats_client_id`].
    pub nats_client_id: String,
    pub jwt_key: String,
    pub port: u16,
    /// `Secure` on cookies; the local stack runs plain http and turns it off.
    pub cookie_secure: bool,
}

impl ServiceConfig {
    /// Reads the shared variables; `service` names the NATS connection when nothing else does.
    pub fn from_env(service: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            mongo_uri: required("MONGO_URI")?,
            nats_url: required("NATS_URL")?,
            jwt_key: required("JWT_KEY")?,
            nats_client_id: nats_client_id(service),
            port: parsed_or("PORT", 3000)?,
            cookie_secure: flag("COOKIE_SECURE", true)?,
        })
    }
}

// The session key stays out of logs and panic messages.
impl std::fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("mongo_uri", &self.mongo_uri)
            .field("nats_url", &self.nats_url)
            .field("nats_client_id", &self.nats_client_id)
            .field("port", &self.port)
            .field("cookie_secure", &self.cookie_secure)
            .finish_non_exhaustive()
    }
}
