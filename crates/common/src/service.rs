//! One lifecycle for every service, as *Zero To Production*'s `Application`: each service's
//! `build(config, tuning)` connects, prepares (indexes, stream, consumers), starts its background
//! work and binds its port, returning a [`Service`]; [`Service::address`] says where it listens
//! (tests bind port 0); [`Service::run_until_stopped`] serves until the shutdown signal, then
//! stops in one order everywhere: no new requests (in-flight ones finish), no new deliveries (a
//! delivery in hand is settled), background tasks stopped and joined (a panic in one is logged,
//! never dropped). `main.rs` and the tests use exactly this.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::events::{ConsumerOptions, ConsumerStats, Consumers};
use crate::outbox::OutboxOptions;

/// The knobs tests turn; production uses the defaults, which are the contract's.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Delivery and retry timings of the event consumers.
    pub consumers: ConsumerOptions,
    /// Fast path and relay of the outbox.
    pub outbox: OutboxOptions,
    /// Payments: how long a payment attempt is its request's before the reconciler may settle
    /// it. Longer than a Stripe call with its retries can take (payments' `ATTEMPT_TIMEOUT` ×
    /// `ATTEMPTS`, about 62 s), so a live request is never overtaken (if it were, the shared
    /// idempotency key would still make both the same charge).
    pub attempt_lease: Duration,
    /// Payments: how often the reconciler looks for lapsed attempts and due refunds.
    pub reconcile_interval: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            consumers: ConsumerOptions::default(),
            outbox: OutboxOptions::default(),
            attempt_lease: Duration::from_secs(90),
            reconcile_interval: Duration::from_secs(1),
        }
    }
}

impl Tuning {
    /// The contract's rules with test-sized delays, so that redeliveries and relay passes happen
    /// within a test: what every service's black-box tests run with.
    pub fn fast() -> Self {
        Self {
            consumers: ConsumerOptions {
                not_yet_delay: Duration::from_millis(20),
                retry_delay: Duration::from_millis(50),
                max_retry_delay: Duration::from_millis(500),
                lag_interval: Duration::from_millis(100),
                ..ConsumerOptions::default()
            },
            outbox: OutboxOptions {
                relay_interval: Duration::from_millis(50),
                relay_grace: Duration::from_millis(200),
                ..OutboxOptions::default()
            },
            ..Self::default()
        }
    }
}

/// A built service, ready to run.
pub struct Service {
    name: &'static str,
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
    consumers: Option<Consumers>,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl Service {
    /// A service `name` serving `router` on `listener`; `stop` is the token its consumers and
    /// background tasks were started with (cancelled when it stops).
    pub fn new(
        name: &'static str,
        listener: TcpListener,
        router: Router,
        stop: CancellationToken,
    ) -> Self {
        // Before the first request; what the build recorded before this (nothing a dashboard
        // needs) went to the facade's no-op recorder.
        crate::metrics::install();
        Self {
            name,
            listener,
            router,
            stop,
            consumers: None,
            tasks: Vec::new(),
        }
    }

    /// A service with no consumers or background work: only HTTP.
    pub fn http(name: &'static str, listener: TcpListener, router: Router) -> Self {
        Self::new(name, listener, router, CancellationToken::new())
    }

    /// Its event consumers, joined when it stops.
    pub fn with_consumers(mut self, consumers: Consumers) -> Self {
        self.consumers = Some(consumers);
        self
    }

    /// A background task that ends once the stop token is cancelled; joined when it stops.
    pub fn with_task(mut self, name: &'static str, task: JoinHandle<()>) -> Self {
        self.tasks.push((name, task));
        self
    }

    /// Where it listens.
    pub fn address(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// What its event consumers have done so far (tests wait on it).
    pub fn consumer_stats(&self) -> ConsumerStats {
        self.consumers
            .as_ref()
            .map(Consumers::stats)
            .unwrap_or_default()
    }

    /// A token that stops the service when cancelled, as `shutdown` resolving does (tests stop
    /// a replica with it).
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Serves until `shutdown` resolves (or the stop token is cancelled), then stops everything.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            name,
            listener,
            router,
            stop,
            consumers,
            tasks,
        } = self;
        tracing::info!(address = %listener.local_addr()?, "{name} listening");
        let stopping = stop.clone();
        let served = crate::http::serve(listener, router, async move {
            tokio::select! {
                () = shutdown => {}
                () = stopping.cancelled() => {}
            }
        })
        .await;
        stop.cancel();
        if let Some(consumers) = consumers {
            consumers.join().await;
        }
        for (task, handle) in tasks {
            if let Err(error) = handle.await {
                tracing::error!(task, %error, "background task failed");
            }
        }
        tracing::info!("{name} stopped");
        Ok(served?)
    }
}

/// A service running in a task of its own, as tests run them (several side by side).
pub struct Running {
    address: SocketAddr,
    stats: ConsumerStats,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Service {
    /// Runs the service in a task until [`Running::stop`].
    pub fn spawn(self) -> std::io::Result<Running> {
        let address = self.address()?;
        let stats = self.consumer_stats();
        let stop = self.stop_token();
        let task = tokio::spawn(self.run_until_stopped(std::future::pending()));
        Ok(Running {
            address,
            stats,
            stop,
            task,
        })
    }
}

impl Running {
    /// Where to reach it: its port on loopback.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.address.port()))
    }

    pub fn consumer_stats(&self) -> ConsumerStats {
        self.stats.clone()
    }

    /// Stops it as a shutdown signal would, and waits until it has stopped.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.task
            .await
            .map_err(|error| anyhow::anyhow!("the service task failed: {error}"))?
    }
}
