//! The router and the state its handlers share.

use axum::Router;
use axum::extract::FromRef;
use axum::routing::post;
use common::SessionKeys;
use common::http::{Readiness, finish_router};
use common::outbox::Outbox;
use mongodb::{Collection, Database};

use crate::charges::Stripe;
use crate::config::Config;
use crate::models::order::Order;
use crate::models::payment::Payment;
use crate::models::refund::Refund;
use crate::routes;

/// Handlers extract any of its fields by type (`State<SessionKeys>`, …) through `FromRef`.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub orders: Collection<Order>,
    pub payments: Collection<Payment>,
    pub refunds: Collection<Refund>,
    pub outbox: Outbox,
    pub stripe: Stripe,
    pub keys: SessionKeys,
    /// How long an attempt is its request's before the reconciler may take it over.
    pub attempt_lease: std::time::Duration,
}

impl AppState {
    pub fn new(database: &Database, config: &Config, outbox: Outbox, stripe: Stripe) -> Self {
        Self {
            orders: database.collection(Order::COLLECTION),
            payments: database.collection(Payment::COLLECTION),
            refunds: database.collection(Refund::COLLECTION),
            outbox,
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
