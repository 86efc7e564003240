//! The payments service's settings, from the environment.

use common::config::{self, ConfigError};

/// Stripe's API, unless `STRIPE_API_BASE` points elsewhere (the stand-in, in tests and offline).
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";

#[derive(Clone)]
pub struct Config {
    /// `mongodb://host:port/<database>`; the path names the service's database.
    pub mongo_uri: String,
    pub nats_url: String,
    /// The NATS connection name (the original's `NATS_CLIENT_ID`).
    pub nats_client_id: String,
    pub jwt_key: String,
    /// Stripe's secret key, `sk_…`.
    pub stripe_key: String,
    pub stripe_api_base: String,
    pub port: u16,
    pub cookie_secure: bool,
}

// The secrets stay out of logs and panic messages.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("mongo_uri", &self.mongo_uri)
            .field("nats_url", &self.nats_url)
            .field("nats_client_id", &self.nats_client_id)
            .field("stripe_api_base", &self.stripe_api_base)
            .field("port", &self.port)
            .field("cookie_secure", &self.cookie_secure)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            mongo_uri: config::required("MONGO_URI")?,
            nats_url: config::required("NATS_URL")?,
            jwt_key: config::required("JWT_KEY")?,
            stripe_key: config::required("STRIPE_KEY")?,
            nats_client_id: config::nats_client_id("payments"),
            stripe_api_base: config::optional("STRIPE_API_BASE")
                .unwrap_or_else(|| DEFAULT_STRIPE_API_BASE.to_owned()),
            port: config::parsed_or("PORT", 3000)?,
            cookie_secure: config::flag("COOKIE_SECURE", true)?,
        })
    }
}
