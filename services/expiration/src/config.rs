//! The expiration service's settings, from the environment.

use common::config::{self, ConfigError, NatsConfig};

#[derive(Debug, Clone)]
pub struct Config {
    /// `NATS_URL`, and the connection name (`NATS_CLIENT_ID`, as the original's client id).
    pub nats: NatsConfig,
    /// `REDIS_URL` if set, otherwise `redis://$REDIS_HOST:6379` as the original's Bull config.
    pub redis_url: String,
    /// The prefix of every key this service writes (`REDIS_PREFIX`, default `expiration`).
    pub redis_prefix: String,
    pub port: u16,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let nats = NatsConfig::from_env("expiration")?;
        let redis_url = redis_url(
            config::optional("REDIS_URL"),
            config::optional("REDIS_HOST"),
        )?;
        Ok(Self {
            nats,
            redis_url,
            redis_prefix: config::optional("REDIS_PREFIX")
                .map(|prefix| prefix.trim().to_owned())
                .unwrap_or_else(|| "expiration".to_owned()),
            port: config::port_from_env()?,
        })
    }
}

/// `REDIS_URL` as given, otherwise the original's `REDIS_HOST` on Redis's default port.
fn redis_url(url: Option<String>, host: Option<String>) -> Result<String, ConfigError> {
    match (url, host) {
        (Some(url), _) => Ok(url.trim().to_owned()),
        (None, Some(host)) => Ok(format!("redis://{}:6379", host.trim())),
        (None, None) => Err(ConfigError::Missing("REDIS_HOST".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_url_wins_over_redis_host_which_gets_the_default_port() {
        let some = |text: &str| Some(text.to_owned());
        assert_eq!(
            redis_url(some("redis://cache:6380/2"), some("expiration-redis-srv")),
            Ok("redis://cache:6380/2".to_owned())
        );
        assert_eq!(
            redis_url(None, some("expiration-redis-srv")),
            Ok("redis://expiration-redis-srv:6379".to_owned())
        );
        assert_eq!(
            redis_url(None, None),
            Err(ConfigError::Missing("REDIS_HOST".to_owned()))
        );
    }
}
