//! The router and the state its handlers share.

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use common::SessionKeys;
use common::http::{Readiness, finish_router};

use crate::routes;
use crate::store::Store;

/// Handlers extract any of its fields by type (`State<SessionKeys>`, …) through `FromRef`.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub store: Store,
    pub keys: SessionKeys,
}

pub fn router(state: AppState, readiness: Readiness) -> Router {
    let routes = Router::new()
        .route(
            "/api/tickets",
            get(routes::index::handler).post(routes::create::handler),
        )
        .route(
            "/api/tickets/{id}",
            get(routes::show::handler).put(routes::update::handler),
        )
        .with_state(state);
    finish_router(routes, readiness)
}
