//! A NATS JetStream server of the test's own, until `test_support::nats` (being written on main)
//! provides one; then this module goes and `helpers` uses that instead.
//!
//! The server picks its own port (`-p -1`) and reports it in a ports file: choosing a free port
//! here and handing it over would let two parallel tests pick the same one and share a server
//! (and its durable consumers), which steals events from one another.

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::{Child, Command};

pub struct NatsServer {
    pub url: String,
    _child: Child,
    dir: PathBuf,
}

impl NatsServer {
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("payments-nats-{}", unique()));
        std::fs::create_dir_all(&dir).expect("a directory for the test's nats-server");
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-sd"])
            .arg(dir.join("store"))
            .arg("--ports_file_dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nats-server starts (apt-get install nats-server)");
        let ports_file = dir.join(format!(
            "nats-server_{}.ports",
            child.id().unwrap_or_default()
        ));
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        let url = loop {
            let url = std::fs::read(&ports_file)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
                .and_then(|ports| ports["nats"][0].as_str().map(str::to_owned));
            if let Some(url) = url {
                break url;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "nats-server did not report its port in {}",
                ports_file.display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        Self {
            url,
            _child: child,
            dir,
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}
