//! The bench's own nginx: the stack's rendered ingress configuration, unchanged but for its port,
//! its files, and one more location — `/bench/empty`, proxied to the empty axum handler.
//!
//! Micro-benchmarks go through this nginx, routes and ceiling alike, so both pay the same proxy
//! (same worker count, keep-alive pools, access log). `infra/nginx` itself is left alone.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::settings::Settings;
use crate::stack;

pub struct BenchIngress {
    pub url: String,
    nginx: tokio::process::Child,
    empty: tokio::process::Child,
}

impl BenchIngress {
    pub async fn start(settings: &Settings) -> anyhow::Result<Self> {
        let stack_dir = settings.stack_dir.as_deref().context(
            "micro-benchmarks need the stack's folder (STACK_NAME) for its nginx config",
        )?;
        // A variant's run in the same folder keeps its own logs.
        let dir = settings.out_dir.join(settings.file_name("nginx"));
        std::fs::create_dir_all(dir.join("tmp"))?;
        let stack_conf = std::fs::read_to_string(stack_dir.join("nginx/nginx.conf"))
            .context("the stack's rendered nginx.conf")?;
        let conf = derive_config(
            &stack_conf,
            &dir,
            settings.bench_nginx_port(),
            settings.empty_handler_port(),
        )?;
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf)?;

        let empty = tokio::process::Command::new(settings.bin_dir.join("bench-empty"))
            .arg(settings.empty_handler_port().to_string())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {}",
                    settings.bin_dir.join("bench-empty").display()
                )
            })?;
        let nginx = tokio::process::Command::new("nginx")
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start nginx")?;
        let ingress = Self {
            url: format!("http://127.0.0.1:{}", settings.bench_nginx_port()),
            nginx,
            empty,
        };
        let http = stack::client(1);
        stack::wait_ok(
            &http,
            &format!("{}/bench/empty", ingress.url),
            Duration::from_secs(10),
        )
        .await?;
        Ok(ingress)
    }

    /// nginx's master; its workers are its children.
    pub fn nginx_pid(&self) -> Option<u32> {
        self.nginx.id()
    }

    pub async fn stop(mut self) {
        stack::terminate(&mut self.nginx).await;
        stack::terminate(&mut self.empty).await;
    }
}

/// The stack's config with our port, pid, logs and temp folders, and the empty handler added.
fn derive_config(
    stack_conf: &str,
    dir: &Path,
    port: u16,
    empty_port: u16,
) -> anyhow::Result<String> {
    let dir = dir.display();
    let mut out = String::with_capacity(stack_conf.len() + 512);
    let (mut listen, mut location) = (false, false);
    for line in stack_conf.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let replaced = if trimmed.starts_with("pid ") {
            format!("{indent}pid {dir}/nginx.pid;")
        } else if trimmed.starts_with("error_log ") {
            format!("{indent}error_log {dir}/error.log warn;")
        } else if trimmed.starts_with("access_log ") {
            format!("{indent}access_log {dir}/access.log;")
        } else if let Some(rest) = trimmed
            .strip_suffix(';')
            .and_then(|t| t.split_once("_temp_path "))
        {
            format!(
                "{indent}{}_temp_path {dir}/tmp/{};",
                rest.0,
                last_segment(rest.1)
            )
        } else if trimmed.starts_with("listen ") {
            listen = true;
            format!("{indent}listen 127.0.0.1:{port} default_server;")
        } else if trimmed.starts_with("location / ") {
            location = true;
            format!("{indent}location = /bench/empty {{ proxy_pass http://bench_empty; }}\n{line}")
        } else if trimmed.starts_with("upstream client ") {
            format!(
                "{line}\n{indent}upstream bench_empty {{ server 127.0.0.1:{empty_port}; keepalive 32; }}"
            )
        } else {
            line.to_owned()
        };
        out.push_str(&replaced);
        out.push('\n');
    }
    if !listen || !location || !out.contains("upstream bench_empty") {
        bail!(
            "the stack's nginx.conf no longer has the listen / `location /` / `upstream client` lines the bench derives its config from"
        );
    }
    Ok(out)
}

fn last_segment(path: &str) -> String {
    PathBuf::from(path.trim())
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tmp".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_config_keeps_the_routes_and_adds_the_empty_handler() {
        let template = include_str!("../../infra/nginx/ticketing.conf.template")
            .replace("@STACK_DIR@", "/s")
            .replace("@INGRESS_PORT@", "8080");
        let conf = derive_config(&template, Path::new("/b"), 9000, 9001).expect("derives");
        assert!(conf.contains("listen 127.0.0.1:9000 default_server;"));
        assert!(conf.contains("pid /b/nginx.pid;"));
        assert!(conf.contains("proxy_temp_path /b/tmp/proxy;"));
        assert!(conf.contains("upstream bench_empty { server 127.0.0.1:9001; keepalive 32; }"));
        assert!(conf.contains("location = /bench/empty { proxy_pass http://bench_empty; }"));
        assert!(conf.contains("location ~ ^/api/tickets/?(.*)  { proxy_pass http://tickets; }"));
        assert!(
            !conf.contains("/s/"),
            "nothing of the stack's files is shared: {conf}"
        );
    }
}
