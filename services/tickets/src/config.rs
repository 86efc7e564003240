//! The tickets service's settings, from the environment.

use common::config::{ConfigError, ServiceConfig};

#[derive(Debug, Clone)]
pub struct Config {
    /// MongoDB, NATS, the session key, the port: what every event-driven service reads.
    pub service: ServiceConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            service: ServiceConfig::from_env("tickets")?,
        })
    }
}
