//! The tickets service's settings, from the environment.

use common::config::{ConfigError, ServiceConfig};
use common::events::ListenerOptions;
use common::outbox::OutboxOptions;

#[derive(Debug, Clone)]
pub struct Config {
    /// MongoDB, NATS, the session key, the port: what every event-driven service reads.
    pub service: ServiceConfig,
    /// Event delivery (the contract's settings by default).
    pub listener: ListenerOptions,
    pub outbox: OutboxOptions,
    /// Run the outbox relay. Always on in the service; tests turn it off to stage a crash.
    pub relay: bool,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            service: ServiceConfig::from_env("tickets")?,
            listener: ListenerOptions::default(),
            outbox: OutboxOptions::default(),
            relay: true,
        })
    }
}
