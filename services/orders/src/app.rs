//! The router and the state its handlers (and the event listeners) share.

use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use common::SessionKeys;
use common::http::{Readiness, finish_router};

use crate::config::Config;
use crate::routes;
use crate::store::Store;

/// Handlers extract any of its fields by type (`State<SessionKeys>`, …) through `FromRef`.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub store: Store,
    pub keys: SessionKeys,
    pub expiration_window: Duration,
}

impl AppState {
    pub fn new(store: Store, config: &Config) -> Self {
        Self {
            store,
            keys: SessionKeys::from_config(&config.service.session),
            expiration_window: config.expiration_window,
        }
    }
}

pub fn router(state: AppState, readiness: Readiness) -> Router {
    let routes = Router::new()
        .route(
            "/api/orders",
            get(routes::index::handler).post(routes::new::handler),
        )
        .route(
            "/api/orders/{order_id}",
            get(routes::show::handler).delete(routes::delete::handler),
        )
        .with_state(state);
    finish_router(routes, readiness)
}
