//! The shared test MongoDB: one replica-set server per machine (started by `scripts/infra.sh`),
//! one fresh database per test.

use std::path::PathBuf;
use std::process::Command;

use tokio::sync::OnceCell;

static BASE_URI: OnceCell<String> = OnceCell::const_new();

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root exists")
}

/// `mongodb://host:port/?replicaSet=…` of the test server: `TEST_MONGO_URI` when set (the test
/// script sets it), otherwise started on demand by `scripts/infra.sh test-mongo`.
async fn base_uri() -> &'static str {
    BASE_URI
        .get_or_init(|| async {
            if let Ok(uri) = std::env::var("TEST_MONGO_URI") {
                return uri;
            }
            let script = repo_root().join("scripts/infra.sh");
            let output = tokio::task::spawn_blocking(move || {
                Command::new("bash").arg(script).arg("test-mongo").output()
            })
            .await
            .expect("infra task runs")
            .expect("scripts/infra.sh runs");
            assert!(
                output.status.success(),
                "scripts/infra.sh test-mongo failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout)
                .expect("utf-8 uri")
                .trim()
                .to_owned()
        })
        .await
}

/// A database of its own for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// A `MONGO_URI` naming the test's database, as a service expects it.
    pub uri: String,
    pub name: String,
    pub client: mongodb::Client,
    pub db: mongodb::Database,
}

impl TestDb {
    pub async fn new() -> Self {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let base = base_uri().await;
        let uri = match base.split_once("/?") {
            Some((host, query)) => format!("{host}/{name}?{query}"),
            None => format!("{}/{name}", base.trim_end_matches('/')),
        };
        let client = mongodb::Client::with_uri_str(&uri)
            .await
            .expect("test MongoDB URI parses");
        let db = client.database(&name);
        Self {
            uri,
            name,
            client,
            db,
        }
    }
}
