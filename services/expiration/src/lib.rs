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

use common::events::{Nats, QueueGroup};
use common::http::Readiness;
use common::service::{Service, Tuning};
use tokio_util::sync::CancellationToken;

use crate::queue::JobQueue;
use crate::worker::Worker;

/// Connects to NATS and Redis, starts listening to `order:created` and the worker that fires
/// due jobs, and binds the port for the probes.
pub async fn build(config: Config, tuning: Tuning) -> anyhow::Result<Service> {
    let nats = Nats::connect(&config.nats).await?;
    let queue = JobQueue::connect(&config.redis_url, &config.redis_prefix)
        .await
        .map_err(|error| {
            anyhow::anyhow!("cannot connect to Redis at {}: {error}", config.redis_url)
        })?;

    let stop = CancellationToken::new();
    let mut consumers = nats
        .consumers(QueueGroup::EXPIRATION, stop.clone())
        .with_options(tuning.consumers);
    consumers
        .listen(queue.clone(), events::order_created::handle)
        .await?;
    let worker = tokio::spawn(Worker::new(queue.clone(), nats.publisher()).run(stop.clone()));

    let readiness = Readiness::new()
        .check("redis", move || {
            let queue = queue.clone();
            async move { Ok(queue.ping().await?) }
        })
        .nats(nats.client().clone());
    let listener = common::http::bind(config.port).await?;
    Ok(
        Service::new("expiration", listener, app::router(readiness), stop)
            .with_consumers(consumers)
            .with_task("expiration worker", worker),
    )
}
