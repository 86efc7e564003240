//! The orders service's settings, from the environment.

use std::time::Duration;

use common::config::{self, ConfigError, ServiceConfig};

/// How long an order may stay unpaid unless `EXPIRATION_WINDOW_SECONDS` says otherwise (the
/// original's 15 minutes).
pub const DEFAULT_EXPIRATION_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
pub struct Config {
    /// MongoDB, NATS, the session key, the port: what every event-driven service reads.
    pub service: ServiceConfig,
    /// How long after its creation an unpaid order expires (`EXPIRATION_WINDOW_SECONDS`).
    pub expiration_window: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            service: ServiceConfig::from_env("orders")?,
            expiration_window: Duration::from_secs(config::parsed_or(
                "EXPIRATION_WINDOW_SECONDS",
                DEFAULT_EXPIRATION_WINDOW.as_secs(),
            )?),
        })
    }
}
