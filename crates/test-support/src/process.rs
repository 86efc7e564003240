//! Finding and placing the server processes tests start on their own (nats-server, redis-server).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

/// A loopback port nothing listens on right now (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// The server binary `name`: `$override_var` when set, else from `PATH` (or the sbin folders
/// Debian puts servers in), installing the project's servers once if it is missing.
pub fn server_binary(name: &str, override_var: &str) -> PathBuf {
    if let Ok(path) = std::env::var(override_var) {
        return PathBuf::from(path);
    }
    if let Some(found) = find_on_path(name) {
        return found;
    }
    install_servers();
    find_on_path(name).unwrap_or_else(|| panic!("{name} is not installed"))
}

/// The server binary the project's scripts install into `.tools/` (at `relative` there), or
/// `$override_var` when set: for servers whose version is pinned by the project rather than taken
/// from the machine (nats-server).
pub fn tools_binary(relative: &str, override_var: &str) -> PathBuf {
    if let Ok(path) = std::env::var(override_var) {
        return PathBuf::from(path);
    }
    let path = crate::mongo::repo_root().join(".tools").join(relative);
    if !path.is_file() {
        install_servers();
    }
    assert!(path.is_file(), "{} is not installed", path.display());
    path
}

/// `scripts/infra.sh install`, once per test process.
fn install_servers() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let script = crate::mongo::repo_root().join("scripts/infra.sh");
        let status = Command::new("bash")
            .arg(script)
            .arg("install")
            .status()
            .expect("scripts/infra.sh runs");
        assert!(status.success(), "scripts/infra.sh install failed");
    });
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Runs a service binary with exactly `env` (nothing inherited) and returns what it printed:
/// the way to test how a service starts, e.g. that a missing variable stops it with one line.
pub fn run_with_env(binary: &str, env: &[(&str, &str)]) -> std::process::Output {
    Command::new(binary)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|error| panic!("{binary} runs: {error}"))
}
