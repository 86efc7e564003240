//! What the services cost to keep around: resident memory idle and under load, time from process
//! start to `/readyz` answering 200 (MongoDB, NATS and Redis already up), release binary sizes.
//!
//! `idle` runs on a fresh stack; `startup` at the end of a phase (see there).
//!
//! Start-to-ready starts a second copy of each running service with the environment of the
//! stack's copy (read from `/proc/<pid>/environ`) on a spare port, times it, and stops it with
//! SIGTERM. A second copy is what a scale-up is; it shares the durable consumers by design.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::load::percentile;
use crate::settings::Settings;
use crate::stack::{self, SERVICES};

/// The key of the empty handler's binary in [`FootprintReport::binary_bytes`], beside the services.
pub const CEILING_BINARY: &str = "bench-empty (ceiling)";

#[derive(Debug, Serialize, Deserialize, Default)]
// A run written before a field existed still reads, with that field at its default.
#[serde(default)]
pub struct FootprintReport {
    pub date: String,
    /// kB per running service, measured idle right after start.
    pub idle_rss_kb: BTreeMap<String, u64>,
    pub binary_bytes: BTreeMap<String, u64>,
    pub not_measured: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, Default)]
// A run written before a field existed still reads, with that field at its default.
#[serde(default)]
pub struct StartupReport {
    pub date: String,
    /// Milliseconds from spawn to the first 200 of `/readyz`: median and worst of the runs.
    pub start_to_ready_ms: BTreeMap<String, StartToReady>,
    pub not_measured: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct StartToReady {
    pub runs: usize,
    pub median_ms: f64,
    pub max_ms: f64,
}

/// Idle RSS and binary sizes: run on a freshly started stack, before any load.
pub async fn idle(settings: &Settings) -> anyhow::Result<()> {
    let stack_dir = stack_dir(settings)?;
    // Connection pools and consumers finish setting up just after `/readyz` first answers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut report = FootprintReport {
        date: chrono::Utc::now().to_rfc3339(),
        ..FootprintReport::default()
    };
    for service in SERVICES {
        if let Ok(meta) = std::fs::metadata(settings.bin_dir.join(service)) {
            report.binary_bytes.insert(service.to_owned(), meta.len());
        }
        match stack::service_pid(&stack_dir, service).and_then(stack::rss_kb) {
            Some(kb) => {
                eprintln!("[bench] {service}: idle RSS {kb} kB");
                report.idle_rss_kb.insert(service.to_owned(), kb);
            }
            None => report.not_measured.push(format!(
                "{service}: not running in the stack (not yet landed)"
            )),
        }
    }
    if let Ok(meta) = std::fs::metadata(settings.bin_dir.join("bench-empty")) {
        report
            .binary_bytes
            .insert(CEILING_BINARY.to_owned(), meta.len());
    }
    settings.write_json("footprint", &report)
}

/// Start → ready of a second copy of each running service. Run at the end of a phase: the
/// copies' pull requests may linger on the NATS server for a while after they stop, and a
/// message handed to one is only redelivered after the ack wait, which would show up as a
/// multi-second outlier in whatever is measured next.
pub async fn startup(settings: &Settings) -> anyhow::Result<()> {
    let stack_dir = stack_dir(settings)?;
    let mut report = StartupReport {
        date: chrono::Utc::now().to_rfc3339(),
        ..StartupReport::default()
    };
    for (index, service) in SERVICES.iter().enumerate() {
        let Some(pid) = stack::service_pid(&stack_dir, service) else {
            report.not_measured.push(format!(
                "{service}: not running in the stack (not yet landed)"
            ));
            continue;
        };
        let runs = if settings.smoke { 1 } else { 5 };
        match start_to_ready(
            pid,
            &settings.bin_dir.join(service),
            settings.spare_port(index),
            runs,
        )
        .await
        {
            Ok(timing) => {
                eprintln!(
                    "[bench] {service}: start → ready median {:.1} ms (max {:.1})",
                    timing.median_ms, timing.max_ms
                );
                report
                    .start_to_ready_ms
                    .insert((*service).to_owned(), timing);
            }
            Err(e) => report
                .not_measured
                .push(format!("{service}: start → ready: {e:#}")),
        }
    }
    settings.write_json("startup", &report)
}

fn stack_dir(settings: &Settings) -> anyhow::Result<std::path::PathBuf> {
    settings
        .stack_dir
        .clone()
        .context("footprint needs the stack's folder (STACK_NAME) for its pid files")
}

async fn start_to_ready(
    running_pid: u32,
    binary: &std::path::Path,
    port: u16,
    runs: usize,
) -> anyhow::Result<StartToReady> {
    let environ = std::fs::read(format!("/proc/{running_pid}/environ"))
        .context("cannot read the running service's environment")?;
    let mut env: Vec<(String, String)> = environ
        .split(|&b| b == 0)
        .filter_map(|pair| {
            std::str::from_utf8(pair)
                .ok()?
                .split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .filter(|(k, _)| k != "PORT")
        .collect();
    env.push(("PORT".to_owned(), port.to_string()));
    for (key, value) in &mut env {
        if key == "NATS_CLIENT_ID" {
            value.push_str("-startup");
        }
    }
    let http = stack::client(1);
    let url = format!("http://127.0.0.1:{port}/readyz");
    let mut micros = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let mut child = tokio::process::Command::new(binary)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let ready = loop {
            if let Ok(response) = http.get(&url).send().await
                && response.status().is_success()
            {
                break Some(started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(20)
                || child.try_wait().ok().flatten().is_some()
            {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        stack::terminate(&mut child).await;
        let ready = ready.context("the second copy never became ready")?;
        micros.push(ready.as_micros() as u64);
        // Let the port and the copy's connections go before the next start.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    micros.sort_unstable();
    Ok(StartToReady {
        runs,
        median_ms: percentile(&micros, 0.5),
        max_ms: micros.last().map_or(0.0, |&m| m as f64 / 1000.0),
    })
}

/// Samples every running service's RSS twice a second while a load runs; the peak per service.
pub struct RssSampler {
    peaks: Arc<Mutex<BTreeMap<String, u64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(stack_dir: std::path::PathBuf) -> Self {
        let peaks = Arc::new(Mutex::new(BTreeMap::new()));
        let task = tokio::spawn({
            let peaks = peaks.clone();
            async move {
                loop {
                    for service in SERVICES {
                        // With --ha, the larger of its two processes: the peak one process
                        // reached, comparable with the single-node figure.
                        let kb = stack::service_pids(&stack_dir, service)
                            .into_iter()
                            .filter_map(stack::rss_kb)
                            .max();
                        if let (Some(kb), Ok(mut peaks)) = (kb, peaks.lock()) {
                            let peak = peaks.entry(service.to_owned()).or_insert(0);
                            *peak = (*peak).max(kb);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        });
        Self { peaks, task }
    }

    pub fn stop(self) -> BTreeMap<String, u64> {
        self.task.abort();
        self.peaks.lock().map(|p| p.clone()).unwrap_or_default()
    }
}
