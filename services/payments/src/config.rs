//! The payments service's settings, from the environment.

use common::config::{self, ConfigError, ServiceConfig};

/// Stripe's API, unless `STRIPE_API_BASE` points elsewhere (the stand-in, in tests and offline).
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";

#[derive(Clone)]
pub struct Config {
    /// MongoDB, NATS, the session key, the port: what every event-driven service reads.
    pub service: ServiceConfig,
    /// Stripe's secret key, `sk_…`.
    pub stripe_key: String,
    pub stripe_api_base: String,
}

// The secrets stay out of logs and panic messages.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("service", &self.service)
            .field("stripe_api_base", &self.stripe_api_base)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            service: ServiceConfig::from_env("payments")?,
            stripe_key: config::required("STRIPE_KEY")?,
            stripe_api_base: config::optional("STRIPE_API_BASE")
                .unwrap_or_else(|| DEFAULT_STRIPE_API_BASE.to_owned()),
        })
    }
}
