//! The auth service's settings, from the environment.

use common::config::{self, ConfigError};

#[derive(Debug, Clone)]
pub struct Config {
    /// `mongodb://host:port/<database>`; the path names the service's database.
    pub mongo_uri: String,
    pub jwt_key: String,
    pub port: u16,
    /// `Secure` on the session cookie; the local stack runs plain http and turns it off.
    pub cookie_secure: bool,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            jwt_key: config::required("JWT_KEY")?,
            mongo_uri: config::required("MONGO_URI")?,
            port: config::parsed_or("PORT", 3000)?,
            cookie_secure: config::flag("COOKIE_SECURE", true)?,
        })
    }
}
