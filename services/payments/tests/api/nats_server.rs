//! A NATS JetStream server of the test's own, until `test_support::nats` (being written on main)
//! provides one; then this module goes and `helpers` uses that instead.

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::{Child, Command};

pub struct NatsServer {
    pub url: String,
    _child: Child,
    store: PathBuf,
}

impl NatsServer {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let store = std::env::temp_dir().join(format!("payments-nats-{}", uuid_like()));
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nats-server starts (apt-get install nats-server)");
        let url = format!("nats://127.0.0.1:{port}");
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < until,
                "nats-server did not start on {port}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self {
            url,
            _child: child,
            store,
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}
