//! The router and the state its handlers share.

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use common::http::{Readiness, finish_router};

use crate::api::{Api, Forwarded};
use crate::config::Config;
use crate::{assets, routes};

/// The Stripe publishable key, if payments go through Stripe's checkout.
#[derive(Clone, Default)]
pub struct StripeKey(pub Option<Arc<str>>);

/// Handlers extract any of its fields by type (`State<SessionKeys>`, …) through `FromRef`.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub api: Api,
    pub stripe: StripeKey,
}

impl AppState {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            api: Api::new(&config.ingress_url)?,
            stripe: StripeKey(config.stripe_publishable_key.as_deref().map(Arc::from)),
        })
    }
}

/// `/readyz` checks nothing beyond the process: the pages depend on the ingress, but a client
/// taken out of rotation while the API is down would turn friendly error pages into the
/// ingress's 503s, and would come back no sooner.
pub fn router(state: AppState, readiness: Readiness) -> Router {
    let api = state.api.clone();
    let pages = Router::new()
        .route("/", get(routes::landing::handler))
        .route(
            "/auth/signup",
            get(routes::signup::handler).post(routes::needs_script::handler),
        )
        .route(
            "/auth/signin",
            get(routes::signin::handler).post(routes::needs_script::handler),
        )
        .route(
            "/auth/signout",
            get(routes::signout::confirm).post(routes::signout::handler),
        )
        .route(
            "/tickets/new",
            get(routes::new_ticket::handler).post(routes::needs_script::handler),
        )
        .route("/tickets/{ticket_id}", get(routes::show_ticket::handler))
        .route("/orders", get(routes::my_orders::handler))
        .route("/orders/{order_id}", get(routes::show_order::handler))
        .route("/static/{name}", get(assets::handler))
        .route("/api/docs", get(routes::api_docs::handler))
        .route("/api/docs/openapi.json", get(assets::openapi))
        .with_state(state);
    finish_router(pages, readiness)
        // Replaces the JSON 404 of the API services with the 404 page.
        .fallback(move |from: Forwarded| routes::not_found::handler(api.clone(), from))
        .layer(axum::middleware::map_response(security_headers))
}

/// Headers every page gets: pages depend on the session so no shared cache may keep them, the
/// browser must not guess content types, and scripts come only from here (and Stripe's checkout).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self' https://checkout.stripe.com; \
             frame-src https://checkout.stripe.com; connect-src 'self' https://*.stripe.com; \
             img-src 'self' data: https://*.stripe.com; style-src 'self' 'unsafe-inline'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
    }
    response
}
