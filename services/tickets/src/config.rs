//! The tickets service's settings, from the environment.

use common::config::{self, ConfigError};
use common::events::ListenerOptions;
use common::outbox::OutboxOptions;

#[derive(Debug, Clone)]
pub struct Config {
    /// `mongodb://host:port/<database>`; the path names the service's database.
    pub mongo_uri: String,
    pub nats_url: String,
    /// The NATS connection name (the original's `NATS_CLIENT_ID`); the host name by default.
    pub nats_client_id: String,
    pub jwt_key: String,
    pub port: u16,
    /// `Secure` on cookies; the local stack runs plain http and turns it off. Tickets sets no
    /// cookie, but reads the same setting as every service.
    pub cookie_secure: bool,
    /// Event delivery (the contract's settings by default).
    pub listener: ListenerOptions,
    pub outbox: OutboxOptions,
    /// Run the outbox relay. Always on in the service; tests turn it off to stage a crash.
    pub relay: bool,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            mongo_uri: config::required("MONGO_URI")?,
            nats_url: config::required("NATS_URL")?,
            jwt_key: config::required("JWT_KEY")?,
            nats_client_id: config::nats_client_id("tickets"),
            port: config::parsed_or("PORT", 3000)?,
            cookie_secure: config::flag("COOKIE_SECURE", true)?,
            listener: ListenerOptions::default(),
            outbox: OutboxOptions::default(),
            relay: true,
        })
    }
}
