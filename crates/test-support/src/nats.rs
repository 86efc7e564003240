//! A NATS server with JetStream for one test, and ways to look into its `ticketing` stream.
//!
//! Each [`TestNats`] runs its own `nats-server -js` (the pinned release; `scripts/infra.sh install`
//! is run once if the binary is missing) on a free loopback port, with its store in a temporary
//! folder. It is killed and its folder removed on drop. [`TestNats::stop`] and
//! [`TestNats::start_again`] take it away and bring it back on the same port and store, for
//! tests of what happens while NATS is down.
//!
//! The readers ([`TestNats::published`], [`TestNats::wait_for_published`]) read what is stored
//! in the stream, not a subscription, so they see every event published since the server
//! started, whoever published it and whenever the test starts looking.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use tokio::sync::OnceCell;

/// The stream the services publish to (`common::events::STREAM`).
pub const STREAM: &str = "ticketing";

/// One event read back from the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub sequence: u64,
    pub subject: String,
    /// The `Nats-Msg-Id` header, if it had one.
    pub msg_id: Option<String>,
    /// The body as JSON (a JSON string holding the raw text if it is not JSON).
    pub body: serde_json::Value,
}

/// The user (and password) the helpers connect as to a server started with a config.
pub const ADMIN_USER: &str = "test-support";

#[derive(Debug)]
pub struct TestNats {
    /// `nats://127.0.0.1:<port>`, for `NATS_URL`.
    pub url: String,
    port: u16,
    dir: PathBuf,
    /// A configuration file of the test's own (users and permissions), if any.
    config: Option<PathBuf>,
    child: Option<Child>,
    client: OnceCell<async_nats::Client>,
}

impl TestNats {
    /// Starts a server on a free port with an empty store; returns once JetStream answers.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Starts a server that also reads `config` (nats-server's configuration language: users,
    /// permissions, …); the command line still sets address, port, JetStream and store. A config
    /// with users must include [`ADMIN_USER`] (password the same, no permission limits): this
    /// crate's own checks and helpers connect as it.
    pub async fn start_with_config(config: &str) -> Self {
        Self::start_with(Some(config)).await
    }

    async fn start_with(config: Option<&str>) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ticketing-nats-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("store")).expect("nats temp dir is created");
        let config = config.map(|text| {
            let path = dir.join("nats.conf");
            std::fs::write(&path, text).expect("nats config is written");
            path
        });
        let mut nats = Self {
            url: String::new(),
            port: 0,
            dir,
            config,
            child: None,
            client: OnceCell::new(),
        };
        // The server picks its own port (`-p -1`) and reports it in a ports file: a port found
        // free beforehand could be taken by a parallel test's server in between, and this test
        // would then talk to that one.
        if let Err(error) = nats.spawn_and_wait().await {
            panic!("nats-server did not start: {error}");
        }
        nats
    }

    /// Stops the server (as Kubernetes would: SIGTERM, so JetStream flushes its store).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            tokio::task::spawn_blocking(move || terminate(&mut child))
                .await
                .expect("stopping nats-server does not panic");
        }
    }

    /// Starts the server again on the same port with the same store.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "nats-server is already running");
        let mut last_error = String::new();
        // The old listening socket may linger for a moment.
        for _ in 0..20 {
            match self.spawn_and_wait().await {
                Ok(()) => return,
                Err(error) => last_error = error,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "nats-server did not start again on port {}: {last_error}",
            self.port
        );
    }

    /// Starts the server again on the same port with an empty store, as a NATS without
    /// persistent storage comes back: streams and consumers are gone.
    pub async fn start_again_without_store(&mut self) {
        assert!(self.child.is_none(), "nats-server is already running");
        let store = self.dir.join("store");
        std::fs::remove_dir_all(&store).expect("store removed");
        std::fs::create_dir_all(&store).expect("store recreated");
        self.start_again().await;
    }

    /// A client of this server, shared by the helpers (it reconnects across a restart).
    pub async fn client(&self) -> async_nats::Client {
        self.client
            .get_or_init(|| async {
                self.connect_options()
                    .name("test-support")
                    .max_reconnects(None)
                    .reconnect_delay_callback(|_| Duration::from_millis(100))
                    .connect(&self.url)
                    .await
                    .expect("test client connects to nats-server")
            })
            .await
            .clone()
    }

    pub async fn jetstream(&self) -> jetstream::Context {
        jetstream::new(self.client().await)
    }

    /// Every event stored on `subject` in the `ticketing` stream, in stream order (none if the
    /// stream does not exist yet).
    pub async fn published(&self, subject: &str) -> Vec<StoredEvent> {
        stored_events(&self.client().await, subject).await
    }

    /// The bodies of [`TestNats::published`].
    pub async fn bodies(&self, subject: &str) -> Vec<serde_json::Value> {
        self.published(subject)
            .await
            .into_iter()
            .map(|event| event.body)
            .collect()
    }

    /// Waits until at least `count` events are stored on `subject`, failing the test after
    /// `deadline` with what was there.
    pub async fn wait_for_published(
        &self,
        subject: &str,
        count: usize,
        deadline: Duration,
    ) -> Vec<StoredEvent> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let events = self.published(subject).await;
            if events.len() >= count {
                return events;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "timed out after {deadline:?} waiting for {count} events on {subject}; stored: {events:#?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Publishes raw bytes on `subject` under `msg_id` and waits for the stream's ack; returns
    /// the stream sequence. Tests use it to send what no typed publisher would.
    pub async fn publish_raw(&self, subject: &str, msg_id: &str, payload: &[u8]) -> u64 {
        let jetstream = self.jetstream().await;
        let publish = jetstream::message::PublishMessage::build()
            .payload(payload.to_vec().into())
            .message_id(msg_id);
        jetstream
            .send_publish(subject.to_owned(), publish)
            .await
            .expect("publish sent")
            .await
            .expect("publish acknowledged")
            .sequence
    }

    /// The state of a durable consumer of the stream, if it exists.
    pub async fn consumer_info(&self, durable: &str) -> Option<consumer::Info> {
        let jetstream = self.jetstream().await;
        let stream = jetstream.get_stream(STREAM).await.ok()?;
        stream.consumer_info(durable).await.ok()
    }

    /// Waits until `durable` exists and has delivered and seen acknowledged (or terminated)
    /// everything it will ever deliver of the stream so far: nothing pending, nothing awaiting
    /// an ack, nothing waiting for redelivery.
    pub async fn wait_consumer_idle(&self, durable: &str, deadline: Duration) -> consumer::Info {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let info = self.consumer_info(durable).await;
            if let Some(info) = &info
                && info.num_pending == 0
                && info.num_ack_pending == 0
            {
                return info.clone();
            }
            assert!(
                tokio::time::Instant::now() < until,
                "timed out after {deadline:?} waiting for consumer {durable} to be idle: {info:#?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// As [`ADMIN_USER`] on a server started with a config, anonymous otherwise.
    fn connect_options(&self) -> async_nats::ConnectOptions {
        let options = async_nats::ConnectOptions::new();
        if self.config.is_some() {
            options.user_and_password(ADMIN_USER.to_owned(), ADMIN_USER.to_owned())
        } else {
            options
        }
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nats.log")).unwrap_or_default()
    }

    async fn spawn_and_wait(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("nats.log"))
            .map_err(|error| format!("cannot open the log: {error}"))?;
        let log_err = log
            .try_clone()
            .map_err(|error| format!("cannot open the log: {error}"))?;
        // Port 0 means "not chosen yet": let the server pick one and report it.
        let port = if self.port == 0 {
            "-1".to_owned()
        } else {
            self.port.to_string()
        };
        let ports_dir = self.dir.join("ports");
        let _ = std::fs::remove_dir_all(&ports_dir);
        std::fs::create_dir_all(&ports_dir)
            .map_err(|error| format!("cannot create the ports folder: {error}"))?;
        let mut command = Command::new(nats_server_binary());
        if let Some(config) = &self.config {
            command.arg("-c").arg(config);
        }
        let mut child = command
            .arg("-js")
            .args(["-a", "127.0.0.1", "-p", &port])
            .arg("--ports_file_dir")
            .arg(&ports_dir)
            .arg("-sd")
            .arg(self.dir.join("store"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|error| format!("cannot run nats-server: {error}"))?;
        let until = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("nats-server exited with {status}:\n{}", self.log()));
            }
            let listening = match reported_port(&ports_dir, child.id()) {
                Some(port) => {
                    self.port = port;
                    self.url = format!("nats://127.0.0.1:{port}");
                    true
                }
                None => false,
            };
            if listening && jetstream_answers(&self.url, self.connect_options()).await {
                self.child = Some(child);
                return Ok(());
            }
            if tokio::time::Instant::now() >= until {
                terminate(&mut child);
                return Err(format!(
                    "JetStream did not answer within 15 s:\n{}",
                    self.log()
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for TestNats {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The client port the server `pid` reports in its ports file, once it has bound it.
fn reported_port(dir: &std::path::Path, pid: u32) -> Option<u16> {
    let text = std::fs::read_to_string(dir.join(format!("nats-server_{pid}.ports"))).ok()?;
    let ports: serde_json::Value = serde_json::from_str(&text).ok()?;
    let url = ports.get("nats")?.get(0)?.as_str()?;
    url.rsplit(':').next()?.parse().ok()
}

/// Whether a JetStream-enabled server answers at `url` now.
async fn jetstream_answers(url: &str, options: async_nats::ConnectOptions) -> bool {
    let attempt = async {
        let client = options
            .connection_timeout(Duration::from_millis(500))
            .connect(url)
            .await
            .ok()?;
        // Without JetStream (or before it is up) nobody answers this request.
        let reply = client.request("$JS.API.INFO", "".into()).await.ok()?;
        let info: serde_json::Value = serde_json::from_slice(&reply.payload).ok()?;
        info.get("error").is_none().then_some(())
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .is_some()
}

/// SIGTERM, then SIGKILL if it lingers.
fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `$NATS_SERVER`, or the pinned release the scripts install into `.tools/nats` (the one the
/// stacks run), installing it once if missing.
fn nats_server_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| crate::process::tools_binary("nats/bin/nats-server", "NATS_SERVER"))
        .clone()
}

/// Every event stored on `subject` in the `ticketing` stream of the server `client` is connected
/// to, in stream order (none if the stream does not exist yet). The end-to-end tests use it on
/// the local stack's NATS.
pub async fn stored_events(client: &async_nats::Client, subject: &str) -> Vec<StoredEvent> {
    let jetstream = jetstream::new(client.clone());
    let Ok(stream) = jetstream.get_stream(STREAM).await else {
        return Vec::new();
    };
    let info = stream.get_info().await.expect("stream info");
    let mut events = Vec::new();
    if info.state.messages == 0 {
        return events;
    }
    for sequence in info.state.first_sequence..=info.state.last_sequence {
        let Ok(message) = stream.get_raw_message(sequence).await else {
            continue;
        };
        if message.subject.as_str() != subject {
            continue;
        }
        let msg_id = message
            .headers
            .get("Nats-Msg-Id")
            .map(|value| value.as_str().to_owned());
        let body = serde_json::from_slice(&message.payload).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&message.payload).into_owned())
        });
        events.push(StoredEvent {
            sequence: message.sequence,
            subject: subject.to_owned(),
            msg_id,
            body,
        });
    }
    events
}
