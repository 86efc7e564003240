//! `bench`: the fleet's performance, measured the same way every time.
//!
//! `scripts/bench.sh` starts a release-mode local stack and runs the commands below against it;
//! each writes a JSON file into the run's folder under `bench-reports/` (git-ignored), and
//! `report` turns the newest run into the figures of `BENCHMARKS.md` and its charts.
//!
//! ```text
//! bench footprint   idle RSS of each service, release binary sizes
//! bench startup     process start → /readyz 200 of a second copy of each service
//! bench micro       hot paths with a closed-loop client, each beside its ceiling measured in the
//!                   same run (empty axum handler behind the same nginx; raw MongoDB; raw JetStream),
//!                   and the event path (ticket created → orderable in orders)
//! bench flows       weighted user flows with goose through the ingress, RSS sampled under load
//! bench audit       after a run: every event once, every replica equal to its owner, expiry lateness
//! bench smoke       a few seconds of flows against $STACK_URL; exits non-zero on any error
//! bench faults      the fault-injection test (scripts/fault-test.sh): a workload while every part
//!                   of the stack is killed and restarted in turn, then an audit of every effect
//! bench report      BENCHMARKS.md's figures (between its markers) and docs/bench/*.png
//! ```
//!
//! Everything is configured by environment (see [`settings::Settings`]), so the script and a
//! person at a shell drive it the same way. Loopback only: the URLs are the local stack's.

mod audit;
mod cpu;
mod failover;
mod faults;
mod flows;
mod footprint;
mod ingress;
mod load;
mod micro;
mod report;
mod settings;
mod stack;

#[cfg(feature = "charts")]
mod charts;

use anyhow::bail;
use settings::Settings;

fn main() -> anyhow::Result<()> {
    let command = std::env::args().nth(1).unwrap_or_default();
    let settings = Settings::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command.as_str() {
            "footprint" => footprint::idle(&settings).await,
            "startup" => footprint::startup(&settings).await,
            "micro" => micro::run(&settings).await,
            "flows" => flows::run(&settings, flows::Mode::Load).await,
            "smoke" => flows::run(&settings, flows::Mode::Smoke).await,
            "audit" => audit::run(&settings).await,
            "faults" => faults::run(&settings).await,
            "report" => report::run(&settings),
            _ => bail!(
                "usage: bench footprint|startup|micro|flows|audit|smoke|faults|report (configured by environment; see scripts/bench.sh)"
            ),
        }
    })
}
