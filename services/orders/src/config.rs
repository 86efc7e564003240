//! The orders service's settings, from the environment.

use std::time::Duration;

use common::config::{self, ConfigError};

/// How long an order may stay unpaid unless `EXPIRATION_WINDOW_SECONDS` says otherwise (the
/// original's 15 minutes).
pub const DEFAULT_EXPIRATION_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
pub struct Config {
    /// `mongodb://host:port/<database>`; the path names the service's database, which must be on
    /// a replica set (the outbox commits in transactions).
    pub mongo_uri: String,
    pub nats_url: String,
    /// The NATS connection name (`NATS_CLIENT_ID`), the host name by default, as a pod's name.
    pub nats_client_id: String,
    pub jwt_key: String,
    pub port: u16,
    /// How long after its creation an unpaid order expires (`EXPIRATION_WINDOW_SECONDS`).
    pub expiration_window: Duration,
    /// `Secure` on cookies; this service sets none, but reads the variable like every service.
    pub cookie_secure: bool,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            mongo_uri: config::required("MONGO_URI")?,
            nats_url: config::required("NATS_URL")?,
            jwt_key: config::required("JWT_KEY")?,
            nats_client_id: config::nats_client_id("orders"),
            port: config::parsed_or("PORT", 3000)?,
            expiration_window: Duration::from_secs(config::parsed_or(
                "EXPIRATION_WINDOW_SECONDS",
                DEFAULT_EXPIRATION_WINDOW.as_secs(),
            )?),
            cookie_secure: config::flag("COOKIE_SECURE", true)?,
        })
    }
}
