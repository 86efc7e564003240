//! Where the cores went during a measurement: CPU time of every process of the stack (each
//! service, mongod, nats-server, redis, nginx workers) and of the bench itself, from
//! `/proc/<pid>/stat`, as cores used on average over the measurement.
//!
//! On a 2-core machine a closed loop saturates the CPU, so this is the first profile of a
//! figure: the process using most of the two cores is what limits it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use crate::settings::Settings;
use crate::stack::{self, SERVICES};

/// Linux's USER_HZ on every mainstream architecture (`getconf CLK_TCK`).
const TICKS_PER_SECOND: f64 = 100.0;

pub struct CpuMeter {
    processes: Vec<(String, u32)>,
}

pub struct Snapshot {
    at: Instant,
    ticks: BTreeMap<String, u64>,
}

impl CpuMeter {
    /// The stack's processes, plus any `extra` (our own nginx master: its workers are counted).
    pub fn new(settings: &Settings, extra: &[(&str, u32)]) -> Self {
        let mut processes = Vec::new();
        if let Some(dir) = settings.stack_dir.as_deref() {
            // Processes under one label are added up (`snapshot`): with --ha a service's two
            // processes, the set's three mongods and the cluster's three nats-servers each read
            // as one figure, as on the single-node stack.
            for service in SERVICES {
                for pid in stack::service_pids(dir, service) {
                    processes.push((service.to_owned(), pid));
                }
            }
            for (label, files) in [
                (
                    "mongod",
                    &[
                        "mongo/mongod.pid",
                        "mongo-1/mongod.pid",
                        "mongo-2/mongod.pid",
                        "mongo-3/mongod.pid",
                    ][..],
                ),
                (
                    "nats-server",
                    &[
                        "pids/nats.pid",
                        "pids/nats-1.pid",
                        "pids/nats-2.pid",
                        "pids/nats-3.pid",
                    ][..],
                ),
                ("redis", &["pids/redis.pid"][..]),
                ("nginx", &["pids/nginx.pid"][..]),
                ("stripe stand-in", &["pids/stripe-standin.pid"][..]),
                // The trace export's far end shares the cores too (absent with TRACE_EXPORT=off).
                ("otlp receiver", &["pids/otlp-receiver.pid"][..]),
            ] {
                for file in files {
                    if let Some(pid) = read_pid(&dir.join(file)) {
                        processes.push((label.to_owned(), pid));
                    }
                }
            }
        }
        for (label, pid) in extra {
            processes.push(((*label).to_owned(), *pid));
        }
        processes.push(("bench (load generator)".to_owned(), std::process::id()));
        Self { processes }
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut ticks = BTreeMap::new();
        for (label, pid) in &self.processes {
            *ticks.entry(label.clone()).or_insert(0) += tree_ticks(*pid);
        }
        Snapshot {
            at: Instant::now(),
            ticks,
        }
    }

    /// Cores used per process since `before`, busiest first, idle ones left out.
    pub fn since(&self, before: &Snapshot) -> Vec<(String, f64)> {
        let now = self.snapshot();
        let seconds = now.at.duration_since(before.at).as_secs_f64().max(1e-3);
        let mut used: Vec<(String, f64)> = now
            .ticks
            .iter()
            .map(|(label, ticks)| {
                let delta = ticks.saturating_sub(before.ticks.get(label).copied().unwrap_or(0));
                (label.clone(), delta as f64 / TICKS_PER_SECOND / seconds)
            })
            .filter(|(_, cores)| *cores >= 0.01)
            .collect();
        used.sort_by(|a, b| b.1.total_cmp(&a.1));
        used
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// utime + stime of a process and its direct children (nginx's workers).
fn tree_ticks(pid: u32) -> u64 {
    let children: Vec<u32> = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    own_ticks(pid) + children.into_iter().map(own_ticks).sum::<u64>()
}

fn own_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at indexes 11 and 12.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// `tickets 0.62, mongod 0.48, …` for a report line.
pub fn describe(used: &[(String, f64)]) -> String {
    used.iter()
        .map(|(label, cores)| format!("{label} {cores:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_cpu_time_is_read() {
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed().as_millis() < 300 {
            x = x.wrapping_mul(31).wrapping_add(1);
        }
        assert!(x != 1);
        assert!(own_ticks(std::process::id()) > 0);
    }
}
