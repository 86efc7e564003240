//! What a run measures and against which stack, read from the environment.
//!
//! The names follow `scripts/stack.sh` (`STACK_NAME`, `PORT_BASE`, `INGRESS_PORT`) so the bench
//! finds the stack's servers, pid files and rendered nginx config exactly where the script put
//! them. `BENCH_SMOKE=1` shrinks every size to seconds, for the test command.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

#[derive(Debug, Clone)]
pub struct Settings {
    /// The repository root (BENCHMARKS.md, docs/bench/).
    pub root: PathBuf,
    /// The ingress, e.g. `http://127.0.0.1:18085`.
    pub stack_url: String,
    /// `.stack/<STACK_NAME>`: pid files, the rendered nginx config. Absent for a stack we only
    /// know by URL (smoke against the e2e stack).
    pub stack_dir: Option<PathBuf>,
    pub port_base: u16,
    /// The stack is `scripts/stack.sh up --ha`'s (`STACK_HA=1`): a three-member replica set and
    /// a three-server NATS cluster at the ports that script gives them.
    pub ha: bool,
    /// Where this run's JSON and HTML go (`bench-reports/<time>`).
    pub out_dir: PathBuf,
    /// `BENCH_VARIANT`: which variant of the stack this is (`export-off`, `ha`), so a second run
    /// of a part into the same folder writes `micro-<variant>.json` beside the main `micro.json`
    /// instead of over it. `None` for the main run.
    pub variant: Option<String>,
    /// Where the services' binaries are (`$CARGO_TARGET_DIR/release`).
    pub bin_dir: PathBuf,
    pub smoke: bool,
    /// Closed-loop micro-benchmarks: connections, warm-up and measured time per route.
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Tickets timed on the event path, one after the other.
    pub event_tickets: usize,
    /// Flows: goose users, offered rate (requests/s), how long.
    pub flow_users: usize,
    pub flow_rate: usize,
    pub flow_seconds: usize,
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let root = match std::env::var_os("ROOT") {
            Some(root) => PathBuf::from(root),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .context("the bench crate sits in the workspace")?
                .to_path_buf(),
        };
        let smoke = std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1");
        let port_base = number("PORT_BASE", 3100)?;
        let ingress_port = number("INGRESS_PORT", 8080)?;
        let stack_url = std::env::var("STACK_URL")
            .map(|url| loopback(url.trim_end_matches('/')))
            .unwrap_or_else(|_| format!("http://127.0.0.1:{ingress_port}"));
        // A load generator aimed at someone else's server is an attack: loopback only.
        let host = stack_url.split("://").nth(1).unwrap_or_default();
        if !(host.starts_with("127.") || host.starts_with("[::1]")) {
            anyhow::bail!(
                "STACK_URL must be a loopback address (the local stack), not {stack_url}"
            );
        }
        let stack_dir = std::env::var("STACK_NAME")
            .ok()
            .map(|name| root.join(".stack").join(name))
            .filter(|dir| dir.is_dir());
        let out_dir = match std::env::var_os("BENCH_OUT") {
            Some(dir) => PathBuf::from(dir),
            None => root
                .join("bench-reports")
                .join(chrono::Utc::now().format("%Y-%m-%dT%H-%M-%SZ").to_string()),
        };
        std::fs::create_dir_all(&out_dir)
            .with_context(|| format!("cannot create {}", out_dir.display()))?;
        let bin_dir = match std::env::var_os("BIN_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => std::env::current_exe()?
                .parent()
                .context("the executable has a folder")?
                .to_path_buf(),
        };
        let variant = match std::env::var("BENCH_VARIANT") {
            Ok(name) if !name.is_empty() => Some(variant_name(&name)?),
            _ => None,
        };
        let (duration, event_tickets, flow_seconds) =
            if smoke { (1, 20, 3) } else { (5, 1000, 60) };
        Ok(Self {
            root,
            stack_url,
            stack_dir,
            port_base,
            ha: std::env::var("STACK_HA").is_ok_and(|v| v == "1"),
            out_dir,
            variant,
            bin_dir,
            smoke,
            connections: number("BENCH_CONNECTIONS", 16)?,
            warmup: Duration::from_secs(number("BENCH_WARMUP", u64::from(!smoke))?),
            duration: Duration::from_secs(number("BENCH_DURATION", duration)?),
            event_tickets: number("BENCH_EVENT_TICKETS", event_tickets)?,
            flow_users: number("FLOW_USERS", if smoke { 5 } else { 40 })?,
            flow_rate: number("FLOW_RATE", 200)?,
            flow_seconds: number("FLOW_SECONDS", flow_seconds)?,
        })
    }

    /// The `--ha` stack's three mongod ports (`scripts/stack.sh`'s layout).
    pub fn mongo_member_ports(&self) -> [u16; 3] {
        [17, 18, 20].map(|offset| self.port_base + offset)
    }

    /// The stack's replica set: its one member directly, or the three by their seed list (so
    /// the driver follows the primary through an election).
    pub fn mongo_uri(&self) -> String {
        if self.ha {
            let hosts: Vec<String> = self
                .mongo_member_ports()
                .iter()
                .map(|port| format!("127.0.0.1:{port}"))
                .collect();
            format!("mongodb://{}/?replicaSet=rs0", hosts.join(","))
        } else {
            format!(
                "mongodb://127.0.0.1:{}/?replicaSet=rs0&directConnection=true",
                self.port_base + 17
            )
        }
    }

    /// The stack's NATS servers: one, or the cluster's three.
    pub fn nats_servers(&self) -> Vec<String> {
        let offsets: &[u16] = if self.ha { &[22, 26, 28] } else { &[22] };
        offsets
            .iter()
            .map(|offset| format!("nats://127.0.0.1:{}", self.port_base + offset))
            .collect()
    }

    /// A client of the stack's NATS, reconnecting to any of its servers.
    pub async fn nats(&self) -> anyhow::Result<async_nats::Client> {
        let servers = self
            .nats_servers()
            .iter()
            .map(|url| url.parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(async_nats::connect(servers).await?)
    }

    /// The replicas the stack gives its streams (`NATS_STREAM_REPLICAS` in `scripts/stack.sh`):
    /// a ceiling stream must be replicated as the services' is to bound their publishes.
    pub fn stream_replicas(&self) -> usize {
        self.nats_servers().len()
    }

    /// `base`, or `base-<variant>` in a variant's run: the name of a file of this run's.
    pub fn file_name(&self, base: &str) -> String {
        match &self.variant {
            Some(variant) => format!("{base}-{variant}"),
            None => base.to_owned(),
        }
    }

    /// The stack's Prometheus.
    pub fn prometheus_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port_base + 24)
    }

    /// Our own nginx (same configuration as the stack's, plus the empty handler) and the empty
    /// handler: clear of the ports `scripts/stack.sh` hands out (+1 … +23).
    pub fn bench_nginx_port(&self) -> u16 {
        self.port_base + 40
    }

    pub fn empty_handler_port(&self) -> u16 {
        self.port_base + 41
    }

    /// Spare ports for a second copy of a service timed from start to ready.
    pub fn spare_port(&self, index: usize) -> u16 {
        self.port_base + 50 + index as u16
    }

    pub fn write_json<T: serde::Serialize>(&self, name: &str, value: &T) -> anyhow::Result<()> {
        let path = self.out_dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(value)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("[bench] wrote {}", path.display());
        Ok(())
    }
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value
            .parse()
            .map_err(|_| anyhow::anyhow!("{name} must be a number, not {value:?}")),
        _ => Ok(default),
    }
}

/// A variant's name ends up in file names: lower-case letters, digits and dashes only.
fn variant_name(name: &str) -> anyhow::Result<String> {
    if name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Ok(name.to_owned())
    } else {
        anyhow::bail!("BENCH_VARIANT must be lower-case letters, digits and dashes, not {name:?}")
    }
}

/// `ticketing.localhost` does not resolve everywhere (glibc without systemd-resolved); the
/// ingress answers any host name, so loopback names are replaced by 127.0.0.1.
fn loopback(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (host, tail) = rest.split_at(rest.find([':', '/']).unwrap_or(rest.len()));
    if host == "localhost" || host.ends_with(".localhost") {
        format!("{scheme}://127.0.0.1{tail}")
    } else {
        url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::{loopback, variant_name};

    #[test]
    fn a_variant_name_is_a_file_name_part() {
        assert_eq!(
            variant_name("export-off").ok().as_deref(),
            Some("export-off")
        );
        assert!(variant_name("../x").is_err());
        assert!(variant_name("HA").is_err());
    }

    #[test]
    fn loopback_names_become_the_loopback_address() {
        assert_eq!(
            loopback("http://ticketing.localhost:18080"),
            "http://127.0.0.1:18080"
        );
        assert_eq!(loopback("http://localhost/x"), "http://127.0.0.1/x");
        assert_eq!(loopback("http://127.0.0.1:1"), "http://127.0.0.1:1");
    }
}
