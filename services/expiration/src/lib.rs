//! The expiration service: the clock of an order.
//!
//! On `order:created` it schedules a job in Redis due at the order's `expiresAt`
//! ([`events::order_created`]); when the job falls due, a [`worker::Worker`] publishes
//! `expiration:complete {orderId}`, on which orders cancels the order unless it was paid. Jobs
//! live in Redis ([`queue`]), so a restart loses none, and any number of replicas share them,
//! each job firing once. It has no HTTP routes besides `/healthz` and `/readyz`.

pub mod app;
pub mod config;
pub mod events;
pub mod queue;
pub mod worker;

pub use config::Config;

use std::future::Future;

use common::events::{Nats, QueueGroup};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::queue::JobQueue;
use crate::worker::Worker;

/// Connects to NATS and Redis, listens to `order:created`, fires due jobs, and serves the probes
/// on `listener` until `shutdown`; then stops pulling events and polling, finishing what is in
/// hand.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let nats = Nats::connect(&config.nats_url, &config.nats_client_id).await?;
    let queue = JobQueue::connect(&config.redis_url, &config.redis_prefix)
        .await
        .map_err(|error| {
            anyhow::anyhow!("cannot connect to Redis at {}: {error}", config.redis_url)
        })?;

    let stop = CancellationToken::new();
    let mut events = nats.listener(QueueGroup::EXPIRATION, stop.clone());
    events
        .listen(queue.clone(), events::order_created::handle)
        .await?;
    let worker = tokio::spawn(Worker::new(queue.clone(), nats.publisher()).run(stop.clone()));

    tracing::info!(address = %listener.local_addr()?, "expiration listening");
    let router = app::router(queue, nats.client().clone());
    let stopping = stop.clone();
    let served = common::http::serve(listener, router, async move {
        shutdown.await;
        stopping.cancel();
    })
    .await;

    stop.cancel();
    events.join().await;
    if let Err(error) = worker.await {
        tracing::error!(%error, "expiration worker ended abnormally");
    }
    served?;
    Ok(())
}
