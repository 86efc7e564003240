//! The client's settings, from the environment.

use common::config::{self, ConfigError};

#[derive(Debug, Clone)]
pub struct Config {
    /// Where pages fetch their data server-side: the ingress, so the client sees exactly what the
    /// browser would (in Kubernetes `http://ingress-nginx-controller.ingress-nginx.svc.cluster.local`).
    pub ingress_url: String,
    pub port: u16,
    /// Stripe.js checkout key; without one the Pay button pays with Stripe's test token `tok_visa`,
    /// so the whole purchase works offline against the Stripe stand-in.
    pub stripe_publishable_key: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let ingress_url = config::required("INGRESS_URL")?;
        if !(ingress_url.starts_with("http://") || ingress_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: "INGRESS_URL".to_owned(),
                value: ingress_url,
                reason: "expected an http:// or https:// URL".to_owned(),
            });
        }
        Ok(Self {
            ingress_url,
            port: config::port_from_env()?,
            stripe_publishable_key: config::optional("STRIPE_PUBLISHABLE_KEY"),
        })
    }
}
