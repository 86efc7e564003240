//! MongoDB plumbing shared by the services that own a database.

use std::time::Duration;

use bson::oid::ObjectId;
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};

use crate::error::AppError;

/// Connects to `MONGO_URI`, whose path names the service's database (`mongodb://host/auth`), as
/// in the original. Does not wait for the server: readiness reports it until it answers. Errors
/// name the URI with its password redacted.
pub async fn connect(
    config: &crate::config::MongoConfig,
    app_name: &str,
) -> anyhow::Result<(Client, Database)> {
    use anyhow::Context as _;
    let mut options = ClientOptions::parse(&config.uri)
        .await
        .with_context(|| format!("cannot use MONGO_URI {}", config.redacted()))?;
    options.app_name = Some(app_name.to_owned());
    options.server_selection_timeout = Some(Duration::from_secs(5));
    options.connect_timeout = Some(Duration::from_secs(5));
    let database_name = options.default_database.clone().ok_or_else(|| {
        anyhow::anyhow!("MONGO_URI must name a database, e.g. mongodb://host:27017/{app_name}")
    })?;
    let client = Client::with_options(options)?;
    let database = client.database(&database_name);
    Ok((client, database))
}

/// The document id of a route's one path parameter (`/api/orders/{id}`). Anything that is not an
/// ObjectId cannot name a document — a malformed id, or a path that is not even UTF-8 once
/// decoded (`%FF`) — so it is a 404 in the contract's shape, as for an unknown id, never the
/// extractor's own plain-text 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathId(pub ObjectId);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathId {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| AppError::NotFound)?;
        ObjectId::parse_str(&raw)
            .map(PathId)
            .map_err(|_| AppError::NotFound)
    }
}

/// Whether the error is a unique-index violation (code 11000), e.g. a taken email.
pub fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write_error)) => write_error.code == 11000,
        ErrorKind::InsertMany(insert_many) => insert_many
            .write_errors
            .as_ref()
            .is_some_and(|errors| errors.iter().any(|e| e.code == 11000)),
        ErrorKind::Command(command) => command.code == 11000,
        _ => false,
    }
}
