//! A Redis server of a test's own: `redis-server` (the Debian package; `scripts/infra.sh install`
//! installs it) on a free loopback port, with its working directory in a fresh temporary folder.
//!
//! The server belongs to the [`TestRedis`] value, not to the app under test, so a test can stop its
//! app and start another against the same data (a restart). Dropping the value kills the server
//! and removes its folder. Nothing is persisted to disk: a server lives only as long as its test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// How long a freshly spawned server may take to answer `PING`.
const START_DEADLINE: Duration = Duration::from_secs(10);
/// Attempts on a new port when another process took the one picked (a race between picking a free
/// port and the server binding it).
const START_ATTEMPTS: usize = 5;

/// A running `redis-server`, killed on drop.
#[derive(Debug)]
pub struct TestRedis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl TestRedis {
    /// Starts a server and waits until it answers `PING`.
    pub async fn start() -> Self {
        let binary = redis_server_binary();
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = std::env::temp_dir()
                .join(format!("ticketing-redis-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).expect("temporary directory for redis-server");
            let port = crate::process::free_port();
            let child = spawn(&binary, port, &dir);
            let mut server = Self { child, port, dir };
            match server.wait_until_ready().await {
                Ok(()) => return server,
                Err(error) => last_error = error,
            }
            // `server` is dropped here: killed, folder removed; try another port.
        }
        panic!("redis-server did not start: {last_error}");
    }

    /// `redis://127.0.0.1:<port>`, as a service's `REDIS_URL`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's working directory (its log is `redis.log` there).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the server now (to see what an app does without Redis). Its data is gone.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A client for the test's own inspection of the server.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("a valid redis url")
    }

    /// A multiplexed connection for the test's own commands.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        self.client()
            .get_multiplexed_async_connection()
            .await
            .expect("connects to the test redis-server")
    }

    async fn wait_until_ready(&mut self) -> Result<(), String> {
        let until = tokio::time::Instant::now() + START_DEADLINE;
        let client = self.client();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "exited with {status}; log: {}",
                    std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
                ));
            }
            if let Ok(mut connection) = client.get_multiplexed_async_connection().await {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut connection).await;
                if pong.is_ok() {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() >= until {
                return Err(format!("no PONG within {START_DEADLINE:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn(binary: &Path, port: u16, dir: &Path) -> Child {
    Command::new(binary)
        .args(["--bind", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .arg("--dir")
        .arg(dir)
        .args(["--logfile", "redis.log"])
        // In memory only: nothing to clean up, and no fork for background saves.
        .args(["--save", "", "--appendonly", "no"])
        .args(["--daemonize", "no", "--protected-mode", "yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.display()))
}

/// `$REDIS_SERVER`, or `redis-server` from PATH, installing it once if missing.
fn redis_server_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| crate::process::server_binary("redis-server", "REDIS_SERVER"))
        .clone()
}
