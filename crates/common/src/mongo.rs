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

/// A document id taken from a URL path. A malformed id cannot name anything: 404, as for an
/// unknown one.
pub fn path_id(raw: &str) -> Result<ObjectId, AppError> {
    ObjectId::parse_str(raw).map_err(|_| AppError::NotFound)
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
