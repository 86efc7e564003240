//! The payments service's settings, from the environment.

use common::config::{self, ConfigError, SecretString, ServiceConfig};

/// Stripe's API, unless `STRIPE_API_BASE` points elsewhere (the stand-in, in tests and offline).
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";

#[derive(Debug, Clone)]
pub struct Config {
    /// MongoDB, NATS, the session key, the port: what every event-driven service reads.
    pub service: ServiceConfig,
    /// Stripe's secret key, `sk_…`: never in `Debug`, logs or panics.
    pub stripe_key: SecretString,
    pub stripe_api_base: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            service: ServiceConfig::from_env("payments")?,
            stripe_key: config::required("STRIPE_KEY")?.into(),
            stripe_api_base: config::optional("STRIPE_API_BASE")
                .unwrap_or_else(|| DEFAULT_STRIPE_API_BASE.to_owned()),
        })
    }
}
