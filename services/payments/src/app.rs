//! The router and the state its handlers (and the reconciler) share.

use axum::Router;
use axum::extract::FromRef;
use axum::routing::post;
use common::SessionKeys;
use common::http::{Readiness, finish_router};

use crate::charges::Stripe;
use crate::config::Config;
use crate::routes;
use crate::store::Store;

/// Handlers extract any of its fields by type (`State<SessionKeys>`, …) through `FromRef`.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub store: Store,
    pub stripe: Stripe,
    pub keys: SessionKeys,
    /// How long an attempt is its request's before the reconciler may take it over.
    pub attempt_lease: std::time::Duration,
}

impl AppState {
    pub fn new(store: Store, config: &Config, stripe: Stripe) -> Self {
        Self {
            store,
            stripe,
            keys: SessionKeys::from_config(&config.service.session),
            attempt_lease: common::service::Tuning::default().attempt_lease,
        }
    }
}

pub fn router(state: AppState, readiness: Readiness) -> Router {
    let routes = Router::new()
        .route("/api/payments", post(routes::create_payment::handler))
        .with_state(state);
    finish_router(routes, readiness)
}
