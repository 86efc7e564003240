//! The router: no routes of its own, only the probes. `/readyz` checks Redis and NATS.

use axum::Router;
use common::http::{Readiness, finish_router};

use crate::queue::JobQueue;

pub fn router(queue: JobQueue, nats: async_nats::Client) -> Router {
    let readiness = Readiness::new()
        .check("redis", move || {
            let queue = queue.clone();
            async move { Ok(queue.ping().await?) }
        })
        .nats(nats);
    finish_router(Router::new(), readiness)
}
