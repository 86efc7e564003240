//! Failover on the `--ha` topology, measured while `bench faults` kills the `ticketing` stream's
//! leader or the MongoDB primary: from the kill (the moment the killed process's pid file goes,
//! which `stack.sh restart` removes once the process is dead) to the cluster naming a new leader
//! or primary, and to the first write after it (for NATS: the stream's sequence moving on, i.e.
//! the first event a service published after the kill; for MongoDB: a majority-acknowledged
//! insert of our own through the seed list, as a service's driver would do it).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bson::doc;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::audit::Check;
use crate::settings::Settings;

/// Polling period of the probes.
const TICK: Duration = Duration::from_millis(50);
/// The longest a failover is watched.
const WATCH: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize)]
pub struct Failover {
    pub part: String,
    /// The leader (primary) killed, and the one that took over.
    pub from: String,
    pub to: Option<String>,
    /// Milliseconds from the kill to a new leader (primary), and to the first write.
    pub election_ms: Option<u64>,
    pub first_write_ms: Option<u64>,
}

impl fmt::Display for Failover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |value: Option<u64>| value.map_or("not seen".to_owned(), |ms| format!("{ms} ms"));
        write!(
            f,
            "failover of {} ({} → {}): new leader after {}, first write after {}",
            self.part,
            self.from,
            self.to.as_deref().unwrap_or("?"),
            ms(self.election_ms),
            ms(self.first_write_ms)
        )
    }
}

/// A probe watching one failover, started before the kill.
pub struct Prober {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Failover>,
}

impl Prober {
    /// A probe for `part` if it is one whose failover is measured (`nats-leader`,
    /// `mongod-primary` on the `--ha` stack); `None` otherwise or if the leader cannot be found.
    pub async fn start(settings: &Settings, part: &str) -> Option<Self> {
        if !settings.ha {
            return None;
        }
        let stack_dir = settings.stack_dir.clone()?;
        let stop = Arc::new(AtomicBool::new(false));
        let task = match part {
            "nats-leader" => {
                let jetstream = async_nats::jetstream::new(settings.nats().await.ok()?);
                let info = stream_info(&jetstream).await?;
                let from = info.cluster.and_then(|cluster| cluster.leader)?;
                let pidfile = stack_dir.join("pids").join(format!("{from}.pid"));
                let sequence = info.state.last_sequence;
                tokio::spawn(watch_nats(jetstream, from, pidfile, sequence, stop.clone()))
            }
            "mongod-primary" => {
                let ports = settings.mongo_member_ports();
                let mut from = None;
                for (index, port) in ports.iter().enumerate() {
                    if is_primary(*port).await {
                        from = Some(index);
                    }
                }
                let from = from?;
                let pidfile = stack_dir
                    .join(format!("mongo-{}", from + 1))
                    .join("mongod.pid");
                let seeds = mongodb::Client::with_uri_str(format!(
                    "{}&serverSelectionTimeoutMS=1000",
                    settings.mongo_uri()
                ))
                .await
                .ok()?;
                tokio::spawn(watch_mongo(ports, from, pidfile, seeds, stop.clone()))
            }
            _ => return None,
        };
        Some(Self { stop, task })
    }

    /// Stops watching (the part is back) and returns what was measured.
    pub async fn finish(self) -> Failover {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap_or_else(|_| Failover {
            part: "?".to_owned(),
            from: "the probe panicked".to_owned(),
            to: None,
            election_ms: None,
            first_write_ms: None,
        })
    }
}

async fn stream_info(
    jetstream: &async_nats::jetstream::Context,
) -> Option<async_nats::jetstream::stream::Info> {
    let stream = tokio::time::timeout(Duration::from_secs(1), jetstream.get_stream("ticketing"))
        .await
        .ok()?
        .ok()?;
    Some(stream.cached_info().clone())
}

/// Waits for the kill: the pid file's removal. `None` if it did not come (or we were stopped).
async fn killed(pidfile: &Path, stop: &AtomicBool) -> Option<Instant> {
    let deadline = Instant::now() + WATCH;
    while Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
        if !pidfile.exists() {
            return Some(Instant::now());
        }
        tokio::time::sleep(TICK).await;
    }
    None
}

fn millis(since: Instant) -> Option<u64> {
    u64::try_from(since.elapsed().as_millis()).ok()
}

async fn watch_nats(
    jetstream: async_nats::jetstream::Context,
    from: String,
    pidfile: PathBuf,
    mut sequence: u64,
    stop: Arc<AtomicBool>,
) -> Failover {
    let mut failover = Failover {
        part: "nats-leader".to_owned(),
        from: from.clone(),
        to: None,
        election_ms: None,
        first_write_ms: None,
    };
    // The sequence as of the kill: events stored before it do not count as written after.
    let kill = loop {
        if let Some(info) = stream_info(&jetstream).await {
            sequence = sequence.max(info.state.last_sequence);
        }
        if !pidfile.exists() {
            break Instant::now();
        }
        if stop.load(Ordering::SeqCst) {
            return failover;
        }
        tokio::time::sleep(TICK).await;
    };
    let deadline = kill + WATCH;
    while Instant::now() < deadline
        && (failover.election_ms.is_none() || failover.first_write_ms.is_none())
    {
        if let Some(info) = stream_info(&jetstream).await {
            let leader = info.cluster.and_then(|cluster| cluster.leader);
            if failover.election_ms.is_none() && leader.as_ref().is_some_and(|l| *l != from) {
                failover.election_ms = millis(kill);
                failover.to = leader;
            }
            if failover.first_write_ms.is_none() && info.state.last_sequence > sequence {
                failover.first_write_ms = millis(kill);
            }
        }
        tokio::time::sleep(TICK).await;
    }
    failover
}

async fn is_primary(port: u16) -> bool {
    let uri = format!(
        "mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=500&connectTimeoutMS=500"
    );
    let Ok(client) = mongodb::Client::with_uri_str(uri).await else {
        return false;
    };
    let hello = tokio::time::timeout(
        Duration::from_secs(1),
        client.database("admin").run_command(doc! { "hello": 1 }),
    )
    .await;
    matches!(hello, Ok(Ok(reply)) if reply.get_bool("isWritablePrimary").unwrap_or(false))
}

async fn watch_mongo(
    ports: [u16; 3],
    from: usize,
    pidfile: PathBuf,
    seeds: mongodb::Client,
    stop: Arc<AtomicBool>,
) -> Failover {
    let mut failover = Failover {
        part: "mongod-primary".to_owned(),
        from: format!("mongod-{}", from + 1),
        to: None,
        election_ms: None,
        first_write_ms: None,
    };
    let Some(kill) = killed(&pidfile, &stop).await else {
        return failover;
    };
    let probes = seeds
        .database("bench-failover")
        .collection::<bson::Document>("probes");
    let majority = mongodb::options::WriteConcern::majority();
    let deadline = kill + WATCH;
    while Instant::now() < deadline
        && (failover.election_ms.is_none() || failover.first_write_ms.is_none())
    {
        if failover.election_ms.is_none() {
            for (index, port) in ports.iter().enumerate() {
                if index != from && is_primary(*port).await {
                    failover.election_ms = millis(kill);
                    failover.to = Some(format!("mongod-{}", index + 1));
                }
            }
        }
        if failover.first_write_ms.is_none() {
            let write = tokio::time::timeout(
                Duration::from_secs(1),
                probes
                    .insert_one(doc! { "at": bson::DateTime::now() })
                    .write_concern(majority.clone()),
            )
            .await;
            if matches!(write, Ok(Ok(_))) {
                failover.first_write_ms = millis(kill);
            }
        }
        tokio::time::sleep(TICK).await;
    }
    failover
}

/// Both processes of each consuming service handled events: they share their service's durable
/// consumers (JetStream gives each delivery to one of them), so the work is split, not doubled —
/// that no event took effect twice is the audit's (one event per state change, every replica at
/// its owner's version). Read from the stack's Prometheus, which survives the processes'
/// restarts (`increase` counts across counter resets).
pub async fn both_processes_worked(settings: &Settings, http: &reqwest::Client) -> Vec<Check> {
    let query = "sum by (process) (increase(ticketing_events_handled_total[30m]))";
    let url = format!("{}/api/v1/query", settings.prometheus_url());
    let answer: Option<Value> = match http.get(url).query(&[("query", query)]).send().await {
        Ok(response) => response.json().await.ok(),
        Err(_) => None,
    };
    let handled: Vec<(String, f64)> = answer
        .as_ref()
        .and_then(|answer| answer.pointer("/data/result"))
        .and_then(Value::as_array)
        .map(|series| {
            series
                .iter()
                .filter_map(|one| {
                    let process = one.pointer("/metric/process")?.as_str()?.to_owned();
                    let value = one.pointer("/value/1")?.as_str()?.parse().ok()?;
                    Some((process, value))
                })
                .collect()
        })
        .unwrap_or_default();
    ["tickets", "orders", "payments", "expiration"]
        .iter()
        .map(|service| {
            let counts: Vec<(String, f64)> = (1..=2)
                .map(|i| {
                    let process = format!("{service}-{i}");
                    let count = handled
                        .iter()
                        .find(|(name, _)| *name == process)
                        .map_or(0.0, |(_, count)| *count);
                    (process, count)
                })
                .collect();
            Check {
                what: format!("both processes of {service} handled events"),
                ok: counts.iter().all(|(_, count)| *count > 0.0),
                detail: counts
                    .iter()
                    .map(|(process, count)| format!("{process}: {count:.0}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })
        .collect()
}
