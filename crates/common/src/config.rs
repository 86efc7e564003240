//! Configuration from environment variables, with the original system's names where it had one.
//!
//! A service reads everything it needs at start; a missing or malformed variable stops it with one
//! line naming the variable ([`exit_on_error`]), not a panic and a backtrace.

use std::fmt::Display;
use std::str::FromStr;

pub use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(String),
    #[error("environment variable {name} has an invalid value {value:?}: {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
}

/// A required variable; empty counts as missing.
pub fn required(name: &str) -> Result<String, ConfigError> {
    optional(name).ok_or_else(|| ConfigError::Missing(name.to_owned()))
}

/// An optional variable; empty counts as unset.
pub fn optional(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// An optional variable parsed as `T`, or `default` when unset.
pub fn parsed_or<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match optional(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|error: T::Err| ConfigError::Invalid {
                name: name.to_owned(),
                reason: error.to_string(),
                value,
            }),
    }
}

/// A boolean flag: `true/false/1/0/yes/no`, or `default` when unset.
pub fn flag(name: &str, default: bool) -> Result<bool, ConfigError> {
    match optional(name).map(|value| value.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(value) => match value.as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::Invalid {
                name: name.to_owned(),
                value,
                reason: "expected true or false".to_owned(),
            }),
        },
    }
}

/// Unwraps a configuration result or stops the process with one clear line on stderr.
pub fn exit_on_error<T>(service: &str, result: Result<T, ConfigError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => {
            eprintln!("{service}: configuration error: {error}");
            std::process::exit(2);
        }
    }
}

/// The NATS connection name: `NATS_CLIENT_ID` (the original's variable), else the host name —
/// in Kubernetes the pod's name, so `/connz` tells replicas apart — else the service's name.
pub fn nats_client_id(service: &str) -> String {
    optional("NATS_CLIENT_ID")
        .or_else(|| optional("HOSTNAME"))
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
        })
        .unwrap_or_else(|| service.to_owned())
}

/// `MONGO_URI`: `mongodb://host:port/<database>`; the path names the service's database, which
/// must be on a replica set (the outbox commits in transactions). Its `Debug` hides a password.
#[derive(Clone)]
pub struct MongoConfig {
    pub uri: String,
}

impl MongoConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            uri: required("MONGO_URI")?,
        })
    }

    /// The URI with the password of its user info (if any) replaced, fit for logs.
    pub fn redacted(&self) -> String {
        redact_uri(&self.uri)
    }
}

impl std::fmt::Debug for MongoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoConfig")
            .field("uri", &self.redacted())
            .finish()
    }
}

/// `scheme://user:password@rest` → `scheme://user:****@rest`; anything else unchanged.
pub fn redact_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:****{}", &rest[at..]),
            None => uri.to_owned(),
        },
        None => uri.to_owned(),
    }
}

/// `NATS_URL` (one server, or a cluster's servers separated by commas), the connection name
/// (`NATS_CLIENT_ID`, see [`nats_client_id`]) and `NATS_STREAM_REPLICAS`, the copies the
/// cluster keeps of the `ticketing` stream and its consumers (1 on a single server, 3 on a
/// three-node cluster). Every service that connects brings the stream to this setting, so they
/// must all be given the same one.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    pub url: String,
    pub client_id: String,
    pub stream_replicas: usize,
    /// `NATS_USER` and `NATS_PASSWORD` (a secret: never in `Debug` or logs), for a server that
    /// gives each service a user allowed only its own subjects; none on a server without users.
    pub credentials: Option<NatsCredentials>,
}

#[derive(Debug, Clone)]
pub struct NatsCredentials {
    pub user: String,
    pub password: SecretString,
}

/// Both of `NATS_USER` and `NATS_PASSWORD`, or neither: one alone is a mistake to report, not a
/// reason to connect anonymously.
fn nats_credentials(
    user: Option<String>,
    password: Option<String>,
) -> Result<Option<NatsCredentials>, ConfigError> {
    match (user, password) {
        (Some(user), Some(password)) => Ok(Some(NatsCredentials {
            user,
            password: password.into(),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::Missing("NATS_PASSWORD".to_owned())),
        (None, Some(_)) => Err(ConfigError::Missing("NATS_USER".to_owned())),
    }
}

/// The most copies of a stream JetStream keeps.
const MAX_STREAM_REPLICAS: usize = 5;

impl NatsConfig {
    /// `service` names the connection when nothing else does.
    pub fn from_env(service: &str) -> Result<Self, ConfigError> {
        let url = required("NATS_URL")?;
        if let Err(reason) = nats_server_addrs(&url) {
            return Err(ConfigError::Invalid {
                name: "NATS_URL".to_owned(),
                value: url,
                reason,
            });
        }
        Self {
            url,
            client_id: nats_client_id(service),
            stream_replicas: stream_replicas(parsed_or("NATS_STREAM_REPLICAS", 1)?)?,
            credentials: None,
        }
        .with_credentials_from_env()
    }

    /// The same, connecting as the user of `NATS_USER`/`NATS_PASSWORD` when they are set (both
    /// or neither): where NATS has users, a tool run by an operator connects as the operator's.
    pub fn with_credentials_from_env(mut self) -> Result<Self, ConfigError> {
        self.credentials = nats_credentials(optional("NATS_USER"), optional("NATS_PASSWORD"))?;
        Ok(self)
    }

    /// One server at `url`, one copy of the stream (tests, tools).
    pub fn local(url: &str, client_id: &str) -> Self {
        Self {
            url: url.to_owned(),
            client_id: client_id.to_owned(),
            stream_replicas: 1,
            credentials: None,
        }
    }

    /// The same, connecting as `user`.
    pub fn with_credentials(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some(NatsCredentials {
            user: user.to_owned(),
            password: password.into(),
        });
        self
    }

    /// The servers `url` lists.
    pub fn server_addrs(&self) -> Result<Vec<async_nats::ServerAddr>, String> {
        nats_server_addrs(&self.url)
    }
}

/// JetStream keeps 1 to 5 copies of a stream; 0 would mean "the server's default" (1), which is
/// not what a cluster's operator who wrote 0 by mistake wants.
fn stream_replicas(replicas: usize) -> Result<usize, ConfigError> {
    if (1..=MAX_STREAM_REPLICAS).contains(&replicas) {
        Ok(replicas)
    } else {
        Err(ConfigError::Invalid {
            name: "NATS_STREAM_REPLICAS".to_owned(),
            value: replicas.to_string(),
            reason: format!("expected 1 to {MAX_STREAM_REPLICAS}"),
        })
    }
}

/// `nats://a:4222,nats://b:4222` → its servers; an error names the part that is not one.
fn nats_server_addrs(url: &str) -> Result<Vec<async_nats::ServerAddr>, String> {
    url.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<async_nats::ServerAddr>()
                .map_err(|error| format!("{part:?} is not a NATS server URL: {error}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|addrs| {
            if addrs.is_empty() {
                Err("no server".to_owned())
            } else {
                Ok(addrs)
            }
        })
}

/// The session: `JWT_KEY` (a secret: never in `Debug`, logs or panics) and `COOKIE_SECURE`.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub jwt_key: SecretString,
    /// `Secure` on cookies; the local stack runs plain http and turns it off.
    pub cookie_secure: bool,
}

impl SessionConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            jwt_key: required("JWT_KEY")?.into(),
            cookie_secure: flag("COOKIE_SECURE", true)?,
        })
    }
}

/// `BIND`, the address to listen on: `0.0.0.0` (every interface) by default.
pub fn bind_from_env() -> Result<std::net::IpAddr, ConfigError> {
    parsed_or("BIND", std::net::IpAddr::from([0, 0, 0, 0]))
}

/// `PORT`, 3000 by default (Kubernetes uses 3000 for every service).
pub fn port_from_env() -> Result<u16, ConfigError> {
    parsed_or("PORT", 3000)
}

/// What every service that owns a database and speaks events reads alike (tickets, orders,
/// payments): MongoDB, NATS, the session and the port. Each such service's own `Config` holds
/// one of these beside its own settings; auth and expiration take the parts they need.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub mongo: MongoConfig,
    pub nats: NatsConfig,
    pub session: SessionConfig,
    pub port: u16,
}

impl ServiceConfig {
    /// Settings given in code (tests, tools) rather than read: port 0 (any free one) and no
    /// `Secure` on cookies (plain http on loopback).
    pub fn local(mongo_uri: &str, nats_url: &str, client_id: &str, jwt_key: &str) -> Self {
        Self {
            mongo: MongoConfig {
                uri: mongo_uri.to_owned(),
            },
            nats: NatsConfig::local(nats_url, client_id),
            session: SessionConfig {
                jwt_key: jwt_key.into(),
                cookie_secure: false,
            },
            port: 0,
        }
    }

    /// Reads the shared variables; `service` names the NATS connection when nothing else does.
    pub fn from_env(service: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            mongo: MongoConfig::from_env()?,
            nats: NatsConfig::from_env(service)?,
            session: SessionConfig::from_env()?,
            port: port_from_env()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_uris_are_redacted_and_secrets_never_debug_printed() {
        assert_eq!(
            redact_uri("mongodb://app:s3cr3t@db-0:27017,db-1/orders?replicaSet=rs0"),
            "mongodb://app:****@db-0:27017,db-1/orders?replicaSet=rs0"
        );
        assert_eq!(
            redact_uri("mongodb://127.0.0.1:27017/orders?x=a@b"),
            "mongodb://127.0.0.1:27017/orders?x=a@b"
        );
        assert_eq!(
            redact_uri("mongodb://user@host/db"),
            "mongodb://user@host/db"
        );
        let config = ServiceConfig {
            mongo: MongoConfig {
                uri: "mongodb://app:hunter2@db/orders".to_owned(),
            },
            nats: NatsConfig::local("nats://nats:4222", "orders-1"),
            session: SessionConfig {
                jwt_key: "the-jwt-key".into(),
                cookie_secure: true,
            },
            port: 3000,
        };
        let printed = format!("{config:?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("the-jwt-key"),
            "{printed}"
        );
        assert!(
            printed.contains("mongodb://app:****@db/orders"),
            "{printed}"
        );
    }

    #[test]
    fn nats_url_lists_a_clusters_servers_and_names_a_bad_one() {
        let servers = nats_server_addrs("nats://a:4222, nats://b:4223,nats://c:4224").expect("ok");
        let ports: Vec<u16> = servers.iter().map(|server| server.port()).collect();
        assert_eq!(ports, [4222, 4223, 4224]);
        assert_eq!(nats_server_addrs("nats://a:4222").expect("ok").len(), 1);
        let error = nats_server_addrs("nats://a:4222,http://b:80").expect_err("bad scheme");
        assert!(
            error.starts_with("\"http://b:80\" is not a NATS server URL"),
            "{error}"
        );
        assert_eq!(nats_server_addrs(" , ").expect_err("empty"), "no server");
    }

    #[test]
    fn nats_credentials_come_in_pairs_and_the_password_is_never_printed() {
        let both = nats_credentials(Some("tickets".into()), Some("pa55word".into()))
            .expect("ok")
            .expect("credentials");
        assert_eq!(both.user, "tickets");
        assert_eq!(both.password.expose_secret(), "pa55word");
        assert!(!format!("{both:?}").contains("pa55word"), "{both:?}");
        assert!(nats_credentials(None, None).expect("ok").is_none());
        let error = nats_credentials(Some("tickets".into()), None).expect_err("no password");
        assert_eq!(
            error.to_string(),
            "missing required environment variable NATS_PASSWORD"
        );
        let error = nats_credentials(None, Some("pa55word".into())).expect_err("no user");
        assert_eq!(
            error.to_string(),
            "missing required environment variable NATS_USER"
        );
    }

    #[test]
    fn stream_replicas_are_one_to_five() {
        assert_eq!(stream_replicas(1).expect("ok"), 1);
        assert_eq!(stream_replicas(3).expect("ok"), 3);
        for bad in [0, 6] {
            let error = stream_replicas(bad).expect_err("out of range").to_string();
            assert!(error.contains("NATS_STREAM_REPLICAS"), "{error}");
        }
    }
}
