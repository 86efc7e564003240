//! The expiration service's settings, from the environment.

use common::config::{self, ConfigError};

#[derive(Debug, Clone)]
pub struct Config {
    pub nats_url: String,
    /// The NATS connection name (`NATS_CLIENT_ID`, as the original's client id).
    pub nats_client_id: String,
    /// `REDIS_URL` if set, otherwise `redis://$REDIS_HOST:6379` as the original's Bull config.
    pub redis_url: String,
    /// The prefix of every key this service writes (`REDIS_PREFIX`, default `expiration`).
    pub redis_prefix: String,
    pub port: u16,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let nats_url = config::required("NATS_URL")?;
        let redis_url = match config::optional("REDIS_URL") {
            Some(url) => url,
            None => format!("redis://{}:6379", config::required("REDIS_HOST")?.trim()),
        };
        Ok(Self {
            nats_url,
            nats_client_id: config::optional("NATS_CLIENT_ID")
                .or_else(|| config::optional("HOSTNAME"))
                .unwrap_or_else(|| "expiration".to_owned()),
            redis_url,
            redis_prefix: config::optional("REDIS_PREFIX")
                .map(|prefix| prefix.trim().to_owned())
                .unwrap_or_else(|| "expiration".to_owned()),
            port: config::parsed_or("PORT", 3000)?,
        })
    }
}
