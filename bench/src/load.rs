//! A closed-loop load driver: N workers, each issuing one operation at a time, for a fixed time
//! (or until the work runs out), after a warm-up that is not counted.
//!
//! Closed loop means the offered load adapts to the system: the figure is the most the system
//! does with N requests in flight, which is what a ceiling and its route are compared on. The
//! same driver times HTTP routes and raw driver calls, so their ratio compares like with like.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cpu::{self, CpuMeter};

/// Set once a run knows its processes: every later closed loop also reports where the CPU went.
static CPU: OnceLock<CpuMeter> = OnceLock::new();

pub fn meter_cpu(meter: CpuMeter) {
    let _ = CPU.set(meter);
}

/// What one operation came to.
pub enum Step {
    Ok,
    Err(String),
    /// No work left (a count-bounded run): the worker stops.
    Exhausted,
}

/// Throughput and latency of one measured operation.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
// A run written before a field existed still reads, with that field at its default.
#[serde(default)]
pub struct Summary {
    pub name: String,
    pub connections: usize,
    pub seconds: f64,
    pub count: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Cores used per process over the loop (warm-up included), busiest first.
    pub cpu: Vec<(String, f64)>,
}

impl Summary {
    /// From latencies in microseconds over `seconds` of measurement.
    pub fn from_latencies(
        name: &str,
        connections: usize,
        seconds: f64,
        mut micros: Vec<u64>,
    ) -> Self {
        micros.sort_unstable();
        Self {
            name: name.to_owned(),
            connections,
            seconds,
            count: micros.len(),
            rps: if seconds > 0.0 {
                micros.len() as f64 / seconds
            } else {
                0.0
            },
            p50_ms: percentile(&micros, 0.50),
            p99_ms: percentile(&micros, 0.99),
            max_ms: micros.last().map_or(0.0, |&m| m as f64 / 1000.0),
            ..Self::default()
        }
    }

    pub fn print(&self) {
        eprintln!(
            "[bench] {:<34} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} ops, {} errors{})",
            self.name,
            self.rps,
            self.p50_ms,
            self.p99_ms,
            self.count,
            self.errors,
            self.first_error
                .as_deref()
                .map(|e| format!("; first: {e}"))
                .unwrap_or_default()
        );
        if !self.cpu.is_empty() {
            eprintln!("[bench]     cores used: {}", cpu::describe(&self.cpu));
        }
    }
}

/// The `q` quantile of sorted microseconds, in milliseconds (nearest rank).
pub fn percentile(sorted_micros: &[u64], q: f64) -> f64 {
    if sorted_micros.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted_micros.len() as f64).ceil() as usize).clamp(1, sorted_micros.len());
    sorted_micros[rank - 1] as f64 / 1000.0
}

/// Runs `op(worker, n)` in `connections` concurrent loops for `warmup + duration` (or until an
/// operation reports [`Step::Exhausted`]) and summarises what completed after the warm-up.
pub async fn closed_loop<F, Fut>(
    name: &str,
    connections: usize,
    warmup: Duration,
    duration: Duration,
    op: F,
) -> Summary
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Step> + Send,
{
    let op = Arc::new(op);
    let cpu_before = CPU.get().map(CpuMeter::snapshot);
    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + duration;
    let mut workers = Vec::with_capacity(connections);
    for worker in 0..connections {
        let op = op.clone();
        workers.push(tokio::spawn(async move {
            let mut micros = Vec::new();
            let mut errors = Vec::new();
            let mut last_done = measure_from;
            let mut n = 0u64;
            loop {
                let begin = Instant::now();
                if begin >= end {
                    break;
                }
                let step = op(worker, n).await;
                n += 1;
                let done = Instant::now();
                let counted = begin >= measure_from;
                match step {
                    Step::Exhausted => break,
                    Step::Ok if counted => micros.push((done - begin).as_micros() as u64),
                    Step::Err(error) if counted => errors.push(error),
                    _ => {}
                }
                if counted {
                    last_done = done;
                }
            }
            (micros, errors, last_done)
        }));
    }
    let mut micros = Vec::new();
    let mut errors = Vec::new();
    let mut last_done = measure_from;
    for worker in workers {
        if let Ok((m, e, done)) = worker.await {
            micros.extend(m);
            errors.extend(e);
            last_done = last_done.max(done);
        }
    }
    // A count-bounded run ends when its work does, not at the deadline.
    let seconds = last_done
        .saturating_duration_since(measure_from)
        .as_secs_f64();
    let mut summary = Summary::from_latencies(name, connections, seconds, micros);
    summary.errors = errors.len();
    summary.first_error = errors.into_iter().next();
    if let (Some(meter), Some(before)) = (CPU.get(), cpu_before) {
        summary.cpu = meter.since(&before);
    }
    summary.print();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let micros: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&micros, 0.5), 50.0);
        assert_eq!(percentile(&micros, 0.99), 99.0);
        assert_eq!(percentile(&[7000], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[tokio::test]
    async fn a_count_bounded_loop_stops_when_the_work_runs_out() {
        let left = Arc::new(std::sync::atomic::AtomicUsize::new(10));
        let summary = closed_loop(
            "t",
            3,
            Duration::ZERO,
            Duration::from_secs(30),
            move |_, _| {
                let left = left.clone();
                async move {
                    let before = left.fetch_update(
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                        |n| n.checked_sub(1),
                    );
                    if before.is_ok() {
                        Step::Ok
                    } else {
                        Step::Exhausted
                    }
                }
            },
        )
        .await;
        assert_eq!(summary.count, 10);
        assert_eq!(summary.errors, 0);
        assert!(summary.seconds < 5.0);
    }
}
