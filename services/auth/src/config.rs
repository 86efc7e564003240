//! The auth service's settings, from the environment.

use common::config::{self, ConfigError, MongoConfig, SessionConfig};

#[derive(Debug, Clone)]
pub struct Config {
    pub mongo: MongoConfig,
    pub session: SessionConfig,
    pub port: u16,
    pub limits: crate::limits::LimitSettings,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            session: SessionConfig::from_env()?,
            mongo: MongoConfig::from_env()?,
            port: config::port_from_env()?,
            limits: crate::limits::LimitSettings::from_env()?,
        })
    }
}
