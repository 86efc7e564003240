//! The router: no routes of its own, only the probes (`/readyz` checks Redis and NATS, see
//! `build`).

use axum::Router;
use common::http::{Readiness, finish_router};

pub fn router(readiness: Readiness) -> Router {
    finish_router(Router::new(), readiness)
}
