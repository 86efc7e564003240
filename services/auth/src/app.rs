//! The router and the state its handlers share.

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use common::SessionKeys;
use common::http::{Readiness, finish_router};
use mongodb::{Collection, Database};

use crate::config::Config;
use crate::limits::Limits;
use crate::models::user::User;
use crate::routes;

/// Handlers extract any of its fields by type (`State<SessionKeys>`, …) through `FromRef`.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub users: Collection<User>,
    pub keys: SessionKeys,
    pub limits: Limits,
}

impl AppState {
    pub fn new(database: &Database, config: &Config) -> Self {
        Self {
            users: database.collection(User::COLLECTION),
            keys: SessionKeys::from_config(&config.session),
            limits: Limits::new(config.limits),
        }
    }
}

pub fn router(state: AppState, readiness: Readiness) -> Router {
    let routes = Router::new()
        .route("/api/users/signup", post(routes::signup::handler))
        .route("/api/users/signin", post(routes::signin::handler))
        .route("/api/users/signout", post(routes::signout::handler))
        .route("/api/users/currentuser", get(routes::current_user::handler))
        .with_state(state);
    finish_router(routes, readiness)
}
