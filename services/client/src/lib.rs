//! The client: the marketplace's web UI, rendered on the server.
//!
//! It mirrors the original Next.js client page for page. Like the original's `getInitialProps`,
//! every page fetches its data through the ingress *as the browser*: [`api::Forwarded`] carries the
//! browser's `Cookie` and `Host` to the API, so the client holds no session and no secrets and
//! sees exactly what the user may see. Pages are plain HTML (templates checked at compile time by
//! maud) and read fine with JavaScript off.
//!
//! Mutations (sign up, sign in, sell, purchase, pay) go from the browser straight to `/api/...`
//! through a small script of our own (`static/app.js`), so the session cookie is set by the API's
//! own response and the client never handles credentials. The script also formats prices, runs the
//! order countdown, and renders the API's error list exactly as the server does. Sign-out is the
//! exception: the header's Sign Out button posts a form to `/auth/signout`, which signs out
//! server-side and relays the API's cookie-clearing header, so it works without JavaScript too.
//!
//! Static files are compiled into the binary ([`assets`]); the image needs nothing else.

pub mod api;
pub mod app;
pub mod assets;
pub mod config;
pub mod models;
pub mod page;
pub mod routes;
pub mod views;

pub use app::{AppState, router};
pub use config::Config;

use common::http::Readiness;
use common::service::{Service, Tuning};

/// Prepares the pages' state and binds the port. Ready while the process lives: checking the
/// ingress would turn an API outage into nginx 503s instead of the friendly error pages.
pub async fn build(config: Config, _tuning: Tuning) -> anyhow::Result<Service> {
    let state = AppState::new(&config)?;
    tracing::info!(ingress = %config.ingress_url, "client pages fetch through the ingress");
    let listener = common::http::bind(config.port).await?;
    Ok(Service::http(
        "client",
        listener,
        router(state, Readiness::new()),
    ))
}
