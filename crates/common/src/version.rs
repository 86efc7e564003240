//! The version rules that keep documents and their replicas consistent without locks.
//!
//! Every document a service owns and announces in events carries a `version`: 0 when created,
//! exactly +1 per save. Two rules use it.
//!
//! **Owners: optimistic concurrency.** A save is written only if the stored version is still the
//! one that was read: the update is filtered on `{_id, version: read}` and `$inc`s the version.
//! If someone else saved in between, nothing is written and the save fails with
//! [`SaveError::Stale`]; the caller reads again and decides again (or reports the conflict).
//! [`save_owned`] does both halves.
//!
//! **Replicas: apply in order.** A service that keeps a copy of another's documents (orders keeps
//! tickets, payments keeps orders) applies an event carrying version N only when it holds N-1
//! (`replica_decision`):
//!
//! | stored | event N | decision |
//! |---|---|---|
//! | nothing | 0 | apply (insert) |
//! | N-1 | N | apply |
//! | ≥ N | N | `Duplicate`: already applied; ack and do nothing |
//! | nothing, or < N-1 | N | `NotYet`: an earlier event is missing; nak, it comes back |
//!
//! Events arriving out of order therefore converge to the owner's state. [`apply_replica`] does
//! the write conditionally, so two replicas racing on one event apply it once.
//!
//! ```no_run
//! use bson::doc;
//! use common::events::{HandlerError, TicketUpdated};
//! use common::version::apply_replica;
//!
//! async fn on_ticket_updated(
//!     event: TicketUpdated,
//!     tickets: mongodb::Collection<bson::Document>,
//! ) -> Result<(), HandlerError> {
//!     let fields = doc! { "title": &event.title, "price": event.price };
//!     apply_replica(&tickets, None, event.id, event.version, fields)
//!         .await?
//!         .into_handler_result()
//! }
//! ```

use bson::oid::ObjectId;
use bson::{Bson, Document, doc};
use mongodb::{ClientSession, Collection};

use crate::events::HandlerError;

/// The field every versioned document carries.
pub const VERSION_FIELD: &str = "version";

/// What a save of an owned document found.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The document changed (or vanished) since it was read: nothing was written.
    #[error("the document was changed by someone else since it was read")]
    Stale,
    #[error(transparent)]
    Mongo(#[from] mongodb::error::Error),
}

impl SaveError {
    /// The error of a transaction whose callback returned a [`SaveError`] through `?`: stale
    /// again if that is what it was.
    pub fn from_transaction(error: mongodb::error::Error) -> Self {
        if is_stale(&error) {
            SaveError::Stale
        } else {
            SaveError::Mongo(error)
        }
    }
}

/// The reason a [`SaveError::Stale`] rolls a transaction back with ([`crate::outbox::abort`],
/// whose errors must be `mongodb::error::Error`); see [`is_stale`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleMarker;

impl From<SaveError> for mongodb::error::Error {
    fn from(error: SaveError) -> Self {
        match error {
            SaveError::Stale => crate::outbox::abort(StaleMarker),
            SaveError::Mongo(error) => error,
        }
    }
}

/// Whether a MongoDB error is a stale save that went through a transaction callback.
pub fn is_stale(error: &mongodb::error::Error) -> bool {
    crate::outbox::aborted::<StaleMarker>(error).is_some()
}

/// The filter of an optimistic update: this document, still at the version that was read.
pub fn owned_filter(id: impl Into<Bson>, read_version: i64) -> Document {
    doc! { "_id": id.into(), VERSION_FIELD: read_version }
}

/// `update` with the version bump added (`$inc: {version: 1}`).
pub fn bump_version(mut update: Document) -> Document {
    match update.get_mut("$inc") {
        Some(Bson::Document(inc)) => {
            inc.insert(VERSION_FIELD, 1);
        }
        _ => {
            update.insert("$inc", doc! { VERSION_FIELD: 1 });
        }
    }
    update
}

/// Saves an owned document read at `read_version`: applies `update` (an update document such as
/// `{$set: {...}}`) and raises the version by one, only if nobody saved it since. Returns the new
/// version; [`SaveError::Stale`] if the stored version moved on.
pub async fn save_owned<T: Send + Sync>(
    collection: &Collection<T>,
    session: Option<&mut ClientSession>,
    id: impl Into<Bson>,
    read_version: i64,
    update: Document,
) -> Result<i64, SaveError> {
    let action = collection.update_one(owned_filter(id, read_version), bump_version(update));
    let result = match session {
        Some(session) => action.session(session).await?,
        None => action.await?,
    };
    if result.matched_count == 1 {
        Ok(read_version + 1)
    } else {
        Err(SaveError::Stale)
    }
}

/// What a replica does with an event, by the table in the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplicaDecision {
    Apply,
    Duplicate,
    NotYet,
}

/// The replica rule: `stored` is the version held (`None`: no such document), `incoming` the
/// event's.
fn replica_decision(stored: Option<i64>, incoming: i64) -> ReplicaDecision {
    match stored {
        None if incoming == 0 => ReplicaDecision::Apply,
        None => ReplicaDecision::NotYet,
        Some(stored) if stored >= incoming => ReplicaDecision::Duplicate,
        Some(stored) if stored == incoming - 1 => ReplicaDecision::Apply,
        Some(_) => ReplicaDecision::NotYet,
    }
}

/// What [`apply_replica`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event was written.
    Applied,
    /// The replica already had this version (or a later one): nothing was written.
    Duplicate,
    /// An earlier version is missing: nothing was written; retry later.
    NotYet { stored: Option<i64> },
}

impl Applied {
    /// The listener outcome: applied and duplicates are done (ack); a gap is
    /// [`HandlerError::NotYet`] (nak with a short delay).
    pub fn into_handler_result(self) -> Result<(), HandlerError> {
        match self {
            Applied::Applied | Applied::Duplicate => Ok(()),
            Applied::NotYet { stored } => Err(HandlerError::not_yet(match stored {
                Some(stored) => format!("replica holds version {stored}"),
                None => "replica has no such document yet".to_owned(),
            })),
        }
    }
}

/// Applies version `version` of document `id` to a replica collection, by the replica rule:
/// version 0 inserts `{_id: id, version: 0, ..fields}`; version N sets `fields` and `version: N`
/// where the stored version is N-1. Whatever does not match is classified by reading the stored
/// version. Pass the session when the write belongs to a transaction (e.g. with an outbox entry).
pub async fn apply_replica<T: Send + Sync>(
    collection: &Collection<T>,
    mut session: Option<&mut ClientSession>,
    id: ObjectId,
    version: i64,
    fields: Document,
) -> mongodb::error::Result<Applied> {
    let documents = collection.clone_with_type::<Document>();
    let mut fields = fields;
    fields.remove("_id");
    fields.insert(VERSION_FIELD, version);
    if version == 0 {
        let mut document = doc! { "_id": id };
        document.extend(fields);
        let action = documents.insert_one(document);
        let inserted = match session.as_deref_mut() {
            Some(session) => action.session(session).await,
            None => action.await,
        };
        return match inserted {
            Ok(_) => Ok(Applied::Applied),
            Err(error) if crate::mongo::is_duplicate_key(&error) => Ok(Applied::Duplicate),
            Err(error) => Err(error),
        };
    }
    // The update is conditional on N-1; when it matches nothing, the stored version says why.
    // Read after a failed update, N-1 means its predecessor was written in between (two
    // consumers, two orders of events): the update is tried again, not taken for a duplicate.
    for _ in 0..3 {
        let action = documents.update_one(
            doc! { "_id": id, VERSION_FIELD: version - 1 },
            doc! { "$set": fields.clone() },
        );
        let result = match session.as_deref_mut() {
            Some(session) => action.session(session).await?,
            None => action.await?,
        };
        if result.matched_count == 1 {
            return Ok(Applied::Applied);
        }
        let action = documents
            .find_one(doc! { "_id": id })
            .projection(doc! { VERSION_FIELD: 1 });
        let stored = match session.as_deref_mut() {
            Some(session) => action.session(session).await?,
            None => action.await?,
        }
        .and_then(|document| stored_version(&document));
        match replica_decision(stored, version) {
            ReplicaDecision::Apply => continue,
            ReplicaDecision::Duplicate => return Ok(Applied::Duplicate),
            ReplicaDecision::NotYet => return Ok(Applied::NotYet { stored }),
        }
    }
    // Still racing: let the event come back.
    Ok(Applied::NotYet {
        stored: Some(version - 1),
    })
}

/// The `version` of a stored document, whatever integer type it was stored as.
pub fn stored_version(document: &Document) -> Option<i64> {
    match document.get(VERSION_FIELD)? {
        Bson::Int32(version) => Some(i64::from(*version)),
        Bson::Int64(version) => Some(*version),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_rule() {
        use ReplicaDecision::*;
        assert_eq!(replica_decision(None, 0), Apply);
        assert_eq!(replica_decision(None, 1), NotYet);
        assert_eq!(replica_decision(Some(0), 0), Duplicate);
        assert_eq!(replica_decision(Some(0), 1), Apply);
        assert_eq!(replica_decision(Some(4), 5), Apply);
        assert_eq!(replica_decision(Some(5), 5), Duplicate);
        assert_eq!(replica_decision(Some(6), 5), Duplicate);
        assert_eq!(replica_decision(Some(3), 5), NotYet);
    }

    #[test]
    fn version_bump_is_added_to_the_update() {
        assert_eq!(
            bump_version(doc! { "$set": { "title": "a" } }),
            doc! { "$set": { "title": "a" }, "$inc": { "version": 1 } }
        );
        assert_eq!(
            bump_version(doc! { "$inc": { "seats": 2 } }),
            doc! { "$inc": { "seats": 2, "version": 1 } }
        );
        assert_eq!(owned_filter(7, 3), doc! { "_id": 7, "version": 3_i64 });
    }

    #[test]
    fn stale_survives_a_transaction_callback() {
        let error: mongodb::error::Error = SaveError::Stale.into();
        assert!(is_stale(&error));
        let other: mongodb::error::Error = mongodb::error::Error::custom("nope");
        assert!(!is_stale(&other));
        assert_eq!(
            Applied::NotYet { stored: Some(1) }
                .into_handler_result()
                .map_err(|e| e.to_string()),
            Err("not yet: replica holds version 1".to_owned())
        );
        assert!(Applied::Duplicate.into_handler_result().is_ok());
    }
}
