//! The stack under test as the bench sees it: which services answer, signed-in users, the
//! processes behind the pid files `scripts/stack.sh` writes.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The fleet's services, in `scripts/stack.sh`'s start order.
pub const SERVICES: [&str; 6] = [
    "auth",
    "tickets",
    "orders",
    "expiration",
    "payments",
    "client",
];

/// An HTTP/1.1 client for the bench's own requests; cookies are handled by hand (one header).
pub fn client(pool: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(pool)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// A signed-up user's `Cookie` header.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
}

pub async fn sign_up(http: &reqwest::Client, base: &str, tag: &str) -> anyhow::Result<Session> {
    let email = format!("{tag}-{}@bench.test", unique());
    let response = http
        .post(format!("{base}/api/users/signup"))
        .json(&json!({ "email": email, "password": "benchpass" }))
        .send()
        .await?;
    if response.status() != StatusCode::CREATED {
        bail!(
            "signup answered {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            value
                .split(';')
                .next()
                .filter(|pair| pair.starts_with("session="))
        })
        .context("signup set no session cookie")?
        .to_owned();
    Ok(Session { cookie })
}

/// Creates a ticket; its id.
pub async fn sell(
    http: &reqwest::Client,
    base: &str,
    session: &Session,
    price: f64,
) -> anyhow::Result<String> {
    let response = http
        .post(format!("{base}/api/tickets"))
        .header(reqwest::header::COOKIE, &session.cookie)
        .json(&json!({ "title": "bench ticket", "price": price }))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != StatusCode::CREATED {
        bail!("POST /api/tickets answered {status}: {body}");
    }
    body["id"]
        .as_str()
        .map(str::to_owned)
        .context("a ticket without an id")
}

/// A process-unique, time-ordered tag for emails and the like.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = chrono::Utc::now().timestamp_micros();
    format!("{now:x}{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The pid of a running service of the stack, from `.stack/<name>/pids/<service>.pid`.
pub fn service_pid(stack_dir: &Path, service: &str) -> Option<u32> {
    let text =
        std::fs::read_to_string(stack_dir.join("pids").join(format!("{service}.pid"))).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// Every running process of a service: its one on the single-node stack, its two (`auth-1`,
/// `auth-2`) on `--ha`'s.
pub fn service_pids(stack_dir: &Path, service: &str) -> Vec<u32> {
    [
        service.to_owned(),
        format!("{service}-1"),
        format!("{service}-2"),
    ]
    .iter()
    .filter_map(|part| service_pid(stack_dir, part))
    .collect()
}

/// Resident set size in kB (`VmRSS` of /proc/<pid>/status).
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

/// Stops a child we started: SIGTERM (graceful, as Kubernetes would), then SIGKILL after 5 s.
/// `kill(1)` rather than a signal call keeps the crate free of `unsafe`.
pub async fn terminate(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.kill().await;
}

/// Polls `url` until it answers 200, up to `limit`.
pub async fn wait_ok(http: &reqwest::Client, url: &str, limit: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Ok(response) = http.get(url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{url} did not answer 200 within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
