//! The transactional outbox: a state change and the event it causes are committed together.
//!
//! Publishing to NATS after writing to MongoDB loses the event if the process dies in between
//! or NATS is away; publishing before writing announces changes that may never happen. Instead,
//! the event is written as a document of the service's own `outbox` collection in the same
//! MongoDB transaction as the change ([`transaction!`](crate::transaction), [`Tx::publish`]). Then:
//!
//! - right after the commit, on the request path, the staged events are published (the fast
//!   path; a request finds its event in the stream when it returns, NATS permitting);
//! - a background relay ([`Outbox::spawn_relay`]) publishes whatever is still pending, oldest
//!   first: after a crash between commit and publish, or while NATS was down.
//!
//! **Embedded entries, for changes of one document.** A change that writes only one document
//! does not need a transaction: [`Outbox::insert_with`] (a new document) and
//! [`Outbox::update_with`] (a conditional update of an existing one) write the event *inside*
//! that document (its `outbox` array), one single-document write that MongoDB makes atomic on
//! its own, and publish it the same way. Once published, the marker pulls the entry from the
//! array; if it is still there after the grace period, the relay moves it into the `outbox`
//! collection and carries on from there as for any entry. This halves what such a change
//! costs MongoDB (a transaction of two writes and a commit becomes one write), which is most
//! of what `POST /api/tickets`, `POST /api/orders` and a ticket's reservation cost. The
//! collections that embed are declared up front ([`Outbox::embedding_in`]) so that a relay
//! started after a crash looks in them before anything is written. A change of several
//! documents is still a transaction with the `outbox` collection.
//!
//! An entry's id is its `Nats-Msg-Id`, so the fast path and the relay (or two replicas' relays)
//! publishing the same entry store it once, within JetStream's duplicate window. Published
//! entries are kept for a day (a TTL index removes them) for inspection.
//!
//! **Marking published, off the request path.** The fast path does not wait to write
//! `publishedAt`: it hands the published ids to a marker that writes them with one
//! `update_many` per batch (ids published while one batch is written make the next), so under
//! load a request costs the transaction and the publish, and the marks cost one write for many
//! requests. An id that is never marked (the process dies first, or MongoDB refuses the write)
//! only means its entry is published again by the relay after its grace period, which JetStream
//! drops as a duplicate — the same guarantee the per-entry mark gave, for the few milliseconds a
//! batch waits. The relay marks what it publishes itself, before its next query, and at
//! shutdown the marks still waiting are written.
//!
//! **Poison entries.** An entry NATS will never accept (larger than the server's maximum
//! payload) or that cannot be read back (a subject this release does not know) is *parked*:
//! `parkedAt` and `lastError` are set, one `error` line is logged, [`Outbox::parked`] counts it,
//! a record goes where `ops parked list` finds it (see [`crate::events::parked`]), and the relay
//! never takes it again — so it cannot hold up the entries behind it. Parked entries stay in the
//! collection (no TTL) until an operator deals with them: [`unpark`] (`ops parked unpark`) hands
//! one back to the relay once its cause is fixed. Failures that
//! say NATS is away, slow or full (disconnected, no ack in time, any server error) are
//! *transient*: they would hit every entry alike, so the pass stops there and the entry, in its
//! place, is tried again on the next one; its `attempts` and `lastError` record why it waits.
//!
//! The transaction needs a replica set (the local stack and the tests run a single-node one) and
//! is retried on `TransientTransactionError` and `UnknownTransactionCommitResult`, as the
//! driver's own convenient transactions are. It is written with [`transaction!`](crate::transaction),
//! whose body is plain async code — no context tuple, no boxed future:
//!
//! ```no_run
//! use bson::doc;
//! use common::events::TicketCreated;
//! use common::outbox::Outbox;
//!
//! async fn create(outbox: &Outbox, tickets: &mongodb::Collection<bson::Document>, event: &TicketCreated)
//!     -> mongodb::error::Result<()>
//! {
//!     common::transaction!(outbox, |tx| {
//!         let ticket = doc! { "_id": event.id, "title": &event.title, "version": 0 };
//!         tickets.insert_one(ticket).session(tx.session()).await?;
//!         tx.publish(event).await
//!     })
//! }
//! ```
//!
//! Why a macro: the driver's `and_run` needs the work as a closure returning a boxed future
//! that may borrow only its arguments (hence context tuples at every call), and its `and_run2`
//! (an async closure) trips rustc's "`Send` is not general enough" bug inside axum handlers. The
//! macro instead runs the body inline, in a retry loop driven by [`Attempts`], so the body
//! borrows whatever it likes and stays `Send`.
//!
//! To roll back with a reason of your own, return [`abort`]`(reason)`; the caller finds it with
//! [`aborted`]`::<Reason>(&error)`.

use std::time::Duration;

use bson::oid::ObjectId;
use bson::{Bson, DateTime, Document, doc};
use bytes::Bytes;
use futures::TryStreamExt as _;
use mongodb::error::{TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::options::IndexOptions;
use mongodb::{Client, ClientSession, Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::events::parked::ParkedEvent;
use crate::events::{Event, PublishError, Publisher, Subject, publish_span};

/// The collection, in the service's own database.
pub const COLLECTION: &str = "outbox";

/// The array of an entity document that holds its embedded entries not yet published
/// ([`Outbox::insert_with`], [`Outbox::update_with`]), oldest first; an entry leaves it once
/// published or moved to [`COLLECTION`] (the array stays, empty).
pub const EMBEDDED: &str = "outbox";
const EMBEDDED_ID: &str = "outbox._id";
const EMBEDDED_CREATED: &str = "outbox.createdAt";

/// The projection that leaves a document's embedded entries out: for reads of the document
/// itself, which never need them (the outbox alone reads and removes them).
pub fn without_entries() -> Document {
    doc! { EMBEDDED: 0 }
}

/// One event waiting to be, or having been, published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Also the `Nats-Msg-Id`.
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub subject: Subject,
    /// The body exactly as published.
    pub payload: String,
    pub created_at: DateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime>,
    /// Failed publishes so far.
    #[serde(default)]
    pub attempts: i32,
    /// Why the last publish failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Set when the entry can never be published; the relay skips it from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parked_at: Option<DateTime>,
    /// The W3C `traceparent` of the span that staged it (the request, the delivery), so that
    /// its publish, whenever and by whomever, belongs to that trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

impl Entry {
    fn new<E: Event>(event: &E) -> Result<Self, serde_json::Error> {
        Ok(Self {
            id: ObjectId::new(),
            subject: E::SUBJECT,
            payload: serde_json::to_string(event)?,
            created_at: DateTime::now(),
            published_at: None,
            attempts: 0,
            last_error: None,
            parked_at: None,
            traceparent: crate::telemetry::traceparent(),
        })
    }

    pub fn msg_id(&self) -> String {
        self.id.to_hex()
    }
}

#[derive(Debug, Clone)]
pub struct OutboxOptions {
    /// Publish right after the commit. Off only in tests that simulate a crash before it.
    pub fast_path: bool,
    /// Run the background relay. Off only in tests that simulate a crash before it publishes.
    pub relay: bool,
    /// How often the relay looks for pending entries.
    pub relay_interval: Duration,
    /// How old a pending entry must be before the relay takes it, so that it does not race the
    /// fast path of a transaction that has just committed (a race would be harmless, only
    /// wasteful: the publish is deduplicated).
    pub relay_grace: Duration,
    /// Entries per relay query.
    pub relay_batch: i64,
    /// How long published entries are kept.
    pub retention: Duration,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        Self {
            fast_path: true,
            relay: true,
            relay_interval: Duration::from_secs(1),
            relay_grace: Duration::from_secs(2),
            relay_batch: 100,
            retention: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// Where an entry the fast path published waits, so the marker knows what to write.
#[derive(Debug, Clone)]
enum Mark {
    /// A document of the `outbox` collection: `publishedAt` is set.
    Collected(ObjectId),
    /// Embedded in `document` of `collection` ([`Outbox::insert_with`],
    /// [`Outbox::update_with`]): the entry is pulled from the document's array.
    Embedded {
        collection: &'static str,
        document: Bson,
        entry: ObjectId,
    },
}

/// The entries the fast path published and the marker has not written as published yet.
#[derive(Debug, Default)]
struct Marks {
    ids: std::sync::Mutex<Vec<Mark>>,
    /// Whether a marker task is running; it takes every id pushed before it stops.
    marking: std::sync::atomic::AtomicBool,
    /// Held from taking a batch to having written it, so that shutdown waits for a batch in
    /// flight before it writes the rest.
    writing: tokio::sync::Mutex<()>,
}

/// A service's outbox: its collection, the client that runs transactions, and the publisher.
#[derive(Debug, Clone)]
pub struct Outbox {
    client: Client,
    /// The service's database: where parking records say the entry is, and where the
    /// collections that embed entries are.
    database: Database,
    entries: Collection<Entry>,
    /// The collections whose new documents may carry their event embedded
    /// ([`Outbox::embedding_in`]); the relay looks in each.
    embedding: std::sync::Arc<Vec<&'static str>>,
    publisher: Publisher,
    options: OutboxOptions,
    marks: std::sync::Arc<Marks>,
}

/// A transaction in progress: the session to pass to every write, and the events to stage.
pub struct Tx<'a> {
    session: &'a mut ClientSession,
    staged: &'a mut Vec<Entry>,
    entries: &'a Collection<Entry>,
}

impl Tx<'_> {
    /// The session; pass it with `.session(tx.session())` to every read and write that belongs
    /// to the transaction.
    pub fn session(&mut self) -> &mut ClientSession {
        self.session
    }

    /// Stages `event`: it is written to the outbox in this transaction and published once the
    /// transaction has committed.
    pub async fn publish<E: Event>(&mut self, event: &E) -> mongodb::error::Result<()> {
        let entry = Entry::new(event).map_err(mongodb::error::Error::custom)?;
        self.entries
            .insert_one(&entry)
            .session(&mut *self.session)
            .await?;
        self.staged.push(entry);
        Ok(())
    }
}

/// How long a transaction is retried on transient errors before its last error is returned (the
/// driver's own limit for convenient transactions).
const RETRY_LIMIT: Duration = Duration::from_secs(120);

/// The attempts of one transaction: begin, run the body, then [`Attempts::settle`] commits (and
/// publishes what was staged) or says to run the body again.
pub struct Attempts<'o> {
    outbox: &'o Outbox,
    session: ClientSession,
    staged: Vec<Entry>,
    started: std::time::Instant,
    attempt: u32,
}

/// What [`Attempts::settle`] decided.
pub enum Settled<R> {
    Done(mongodb::error::Result<R>),
    Again,
}

impl Attempts<'_> {
    /// Starts an attempt (after a short backoff if it is not the first) and hands out its `Tx`.
    pub async fn begin(&mut self) -> mongodb::error::Result<Tx<'_>> {
        if self.attempt > 0 {
            tokio::time::sleep(Duration::from_millis(5) * self.attempt.min(20)).await;
        }
        self.attempt += 1;
        // A new attempt starts over: entries staged by an aborted one were rolled back with it.
        self.staged.clear();
        self.session.start_transaction().await?;
        Ok(Tx {
            session: &mut self.session,
            staged: &mut self.staged,
            entries: &self.outbox.entries,
        })
    }

    /// Ends the attempt whose body returned `result`: commits an `Ok` (retrying a commit whose
    /// outcome is unknown) and publishes the staged events; aborts an `Err`. Transient errors
    /// (a write conflict, a failover) mean running the body again, for up to two minutes.
    pub async fn settle<R>(&mut self, result: mongodb::error::Result<R>) -> Settled<R> {
        let within_limit = self.started.elapsed() < RETRY_LIMIT;
        let value = match result {
            Ok(value) => value,
            Err(error) => {
                // Aborting a transaction the server already aborted fails harmlessly.
                let _ = self.session.abort_transaction().await;
                if error.contains_label(TRANSIENT_TRANSACTION_ERROR) && within_limit {
                    return Settled::Again;
                }
                return Settled::Done(Err(error));
            }
        };
        loop {
            match self.session.commit_transaction().await {
                Ok(()) => break,
                Err(error)
                    if error.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
                        && self.started.elapsed() < RETRY_LIMIT => {}
                Err(error) if error.contains_label(TRANSIENT_TRANSACTION_ERROR) && within_limit => {
                    return Settled::Again;
                }
                Err(error) => return Settled::Done(Err(error)),
            }
        }
        if self.outbox.options.fast_path {
            let (_, published) = self.outbox.publish_entries(&self.staged).await;
            self.outbox
                .mark_later(published.into_iter().map(Mark::Collected).collect());
        }
        Settled::Done(Ok(value))
    }
}

/// Hands the parked entry `id` of `database`'s outbox back to the relay, which publishes it on
/// its next pass (or parks it again, if its cause is still there). Returns whether there was
/// such a parked entry.
pub async fn unpark(database: &Database, id: ObjectId) -> mongodb::error::Result<bool> {
    let unparked = database
        .collection::<Document>(COLLECTION)
        .update_one(
            doc! { "_id": id, "publishedAt": null, "parkedAt": { "$ne": null } },
            doc! { "$unset": { "parkedAt": "" } },
        )
        .await?;
    Ok(unparked.modified_count == 1)
}

/// Runs a block as one MongoDB transaction of `$outbox` and commits it, retrying the whole block
/// on transient errors (so it must do nothing but database work through `$tx`); then publishes
/// the events it staged with [`Tx::publish`] (unless the fast path is off). Evaluates to the
/// block's `mongodb::error::Result`. An `Err` rolls everything back; see
/// [`abort`](crate::outbox::abort) to give a reason.
#[macro_export]
macro_rules! transaction {
    ($outbox:expr, |$tx:ident| $body:block) => {
        async {
            let mut attempts = $outbox.attempts().await?;
            loop {
                let result = {
                    #[allow(unused_mut)]
                    let mut $tx = attempts.begin().await?;
                    async { $body }.await
                };
                if let $crate::outbox::Settled::Done(done) = attempts.settle(result).await {
                    break done;
                }
            }
        }
        .await
    };
}

/// An error that rolls a [`transaction!`](crate::transaction) back and carries `reason` to the
/// caller, who finds it again with [`aborted`].
pub fn abort<T: std::any::Any + Send + Sync>(reason: T) -> mongodb::error::Error {
    mongodb::error::Error::custom(reason)
}

/// The reason a transaction was rolled back with [`abort`], if it was and of this type.
pub fn aborted<T: std::any::Any>(error: &mongodb::error::Error) -> Option<&T> {
    error.get_custom::<T>()
}

impl Outbox {
    pub fn new(client: Client, database: &Database, publisher: Publisher) -> Self {
        Self {
            client,
            database: database.clone(),
            entries: database.collection(COLLECTION),
            embedding: std::sync::Arc::default(),
            publisher,
            options: OutboxOptions::default(),
            marks: std::sync::Arc::default(),
        }
    }

    pub fn with_options(mut self, options: OutboxOptions) -> Self {
        self.options = options;
        self
    }

    /// Declares `collection`, of this outbox's database, as one whose documents may carry their
    /// events embedded ([`Outbox::insert_with`], [`Outbox::update_with`]): the relay then looks
    /// there too, and
    /// [`Outbox::ensure_indexes`] gives it the index the relay's query needs.
    #[must_use]
    pub fn embedding_in(mut self, collection: &'static str) -> Self {
        let embedding = std::sync::Arc::make_mut(&mut self.embedding);
        if !embedding.contains(&collection) {
            embedding.push(collection);
        }
        self
    }

    pub fn collection(&self) -> &Collection<Entry> {
        &self.entries
    }

    /// Inserts `document`, a new entity of a collection declared with [`Outbox::embedding_in`],
    /// with `event` embedded in it as its pending entry, then publishes the event.
    ///
    /// Why not a transaction: a single-document write is atomic on its own, so the document and
    /// its event still commit together, at half the cost of a transaction that inserts both
    /// (BENCHMARKS.md, "What limits the missed targets").
    ///
    /// Once published, the entry is removed from the document by the marker, in batches, off
    /// the request path. An entry still there after the relay's grace period (the process died
    /// before publishing, NATS was away, the publish failed) is moved by the relay into the
    /// `outbox` collection, and from there published, parked and counted like any other.
    pub async fn insert_with<T, E>(
        &self,
        collection: &Collection<T>,
        document: &T,
        event: &E,
    ) -> mongodb::error::Result<()>
    where
        T: Serialize + Send + Sync,
        E: Event,
    {
        let name = self.embedding_name(collection)?;
        let entry = Entry::new(event).map_err(mongodb::error::Error::custom)?;
        let mut document = bson::to_document(document)?;
        let id = document_id(&document)?;
        document.insert(EMBEDDED, vec![bson::to_bson(&entry)?]);
        collection
            .clone_with_type::<Document>()
            .insert_one(document)
            .await?;
        self.publish_embedded(name, id, &entry).await;
        Ok(())
    }

    /// Applies `update` to the document of a collection declared with [`Outbox::embedding_in`]
    /// that matches `filter` (which names its `_id`), with `event` pushed onto the document's
    /// pending entries in the same write, then publishes the event. Returns whether a document
    /// matched; if none did, nothing was written and nothing is published.
    ///
    /// The single-document counterpart of [`transaction!`](crate::transaction) for a change of
    /// an existing document: the conditions in `filter` and the change are one atomic write, so
    /// what a transaction would read and check first goes into `filter` (a version, a state),
    /// and a change that lost a race matches nothing instead of conflicting. The entries are an
    /// array because a document may change again before its last entry is published; each
    /// entry is removed on its own once published, and they are published (or moved by the
    /// relay) in the order they were pushed.
    pub async fn update_with<T, E>(
        &self,
        collection: &Collection<T>,
        filter: Document,
        mut update: Document,
        event: &E,
    ) -> mongodb::error::Result<bool>
    where
        T: Send + Sync,
        E: Event,
    {
        let name = self.embedding_name(collection)?;
        let id = document_id(&filter)?;
        let entry = Entry::new(event).map_err(mongodb::error::Error::custom)?;
        let pushed = bson::to_bson(&entry)?;
        match update.get_mut("$push") {
            Some(Bson::Document(push)) if !push.contains_key(EMBEDDED) => {
                push.insert(EMBEDDED, pushed);
            }
            Some(_) => {
                return Err(mongodb::error::Error::custom(
                    "update_with pushes onto the embedded entries itself",
                ));
            }
            None => {
                update.insert("$push", doc! { EMBEDDED: pushed });
            }
        }
        let result = collection
            .clone_with_type::<Document>()
            .update_one(filter, update)
            .await?;
        if result.matched_count == 0 {
            return Ok(false);
        }
        self.publish_embedded(name, id, &entry).await;
        Ok(true)
    }

    /// The declared name of `collection`, or an error if it was not declared with
    /// [`Outbox::embedding_in`] (in this database): the relay would never find its entries.
    fn embedding_name<T>(&self, collection: &Collection<T>) -> mongodb::error::Result<&'static str>
    where
        T: Send + Sync,
    {
        self.embedding
            .iter()
            .copied()
            .find(|name| *name == collection.name())
            .filter(|_| collection.namespace().db == self.database.name())
            .ok_or_else(|| {
                mongodb::error::Error::custom(format!(
                    "{} is not declared with Outbox::embedding_in: the relay would never find its entries",
                    collection.namespace()
                ))
            })
    }

    /// The fast path of an embedded entry just written in `document` of `collection`: publish,
    /// then hand the removal to the marker.
    async fn publish_embedded(&self, collection: &'static str, document: Bson, entry: &Entry) {
        if !self.options.fast_path {
            return;
        }
        // Any failure leaves the entry to the relay, which moves it to the collection where
        // failures are recorded and poison is parked.
        match self.publish_entry(entry).await {
            Ok(()) => self.mark_later(vec![Mark::Embedded {
                collection,
                document,
                entry: entry.id,
            }]),
            Err(error) => {
                tracing::warn!(entry = %entry.id, subject = %entry.subject, %error, "event not published yet; the relay will retry");
            }
        }
    }

    /// The TTL index that removes published entries after the retention period, and serves the
    /// relay's query for pending ones (`publishedAt: null`).
    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        let ttl = IndexModel::builder()
            .keys(doc! { "publishedAt": 1 })
            .options(
                IndexOptions::builder()
                    .name("published_ttl".to_owned())
                    .expire_after(self.options.retention)
                    .build(),
            )
            .build();
        self.entries.create_index(ttl).await?;
        for collection in self.embedding.iter() {
            // Sparse: only documents whose entry waits are in it, a few at any time.
            let pending = IndexModel::builder()
                .keys(doc! { EMBEDDED_CREATED: 1 })
                .options(
                    IndexOptions::builder()
                        .name("outbox_pending".to_owned())
                        .sparse(true)
                        .build(),
                )
                .build();
            self.database
                .collection::<Document>(collection)
                .create_index(pending)
                .await?;
        }
        Ok(())
    }

    /// Starts the attempts of one transaction; [`transaction!`](crate::transaction) drives them.
    pub async fn attempts(&self) -> mongodb::error::Result<Attempts<'_>> {
        Ok(Attempts {
            outbox: self,
            session: self.client.start_session().await?,
            staged: Vec::new(),
            started: std::time::Instant::now(),
            attempt: 0,
        })
    }

    /// Publishes `entries` in order. Stops at the first transient failure (NATS away, slow or
    /// full), leaving the rest to the relay; an entry that can never be published is parked and
    /// skipped, so it does not hold up the others. Returns how many entries were dealt with
    /// (published or parked: fewer than `entries.len()` means the pass stopped early) and the
    /// ids published, which the caller marks.
    async fn publish_entries(&self, entries: &[Entry]) -> (usize, Vec<ObjectId>) {
        let mut done = 0;
        let mut published = Vec::with_capacity(entries.len());
        for entry in entries {
            match self.publish_entry(entry).await {
                Ok(()) => {
                    done += 1;
                    published.push(entry.id);
                }
                Err(error) if error.is_transient() => {
                    tracing::warn!(entry = %entry.id, subject = %entry.subject, %error, "event not published yet; the relay will retry");
                    self.note_failure(entry, &error, false).await;
                    break;
                }
                Err(error) => {
                    tracing::error!(entry = %entry.id, subject = %entry.subject, bytes = entry.payload.len(), %error, "event can never be published; parked in the outbox");
                    if self.note_failure(entry, &error, true).await {
                        done += 1;
                    } else {
                        break;
                    }
                }
            }
        }
        (done, published)
    }

    /// Writes `publishedAt` on the entries `ids`, in one write.
    async fn mark_published(&self, ids: &[ObjectId]) -> mongodb::error::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.entries
            .update_many(
                doc! { "_id": { "$in": ids }, "publishedAt": null },
                doc! { "$set": { "publishedAt": DateTime::now() } },
            )
            .await?;
        Ok(())
    }

    /// Hands the fast path's published `ids` to the marker, starting it unless it runs: the
    /// request does not wait for the write (see the module docs).
    fn mark_later(&self, marks: Vec<Mark>) {
        if marks.is_empty() {
            return;
        }
        self.lock_marks().extend(marks);
        if self
            .marks
            .marking
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return; // the running marker takes them
        }
        let outbox = self.clone();
        tokio::spawn(async move { outbox.run_marker().await });
    }

    fn lock_marks(&self) -> std::sync::MutexGuard<'_, Vec<Mark>> {
        // A panic while holding the lock left only a list of ids behind: still usable.
        self.marks
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the waiting marks, a batch at a time, until none wait.
    async fn run_marker(&self) {
        use std::sync::atomic::Ordering;
        loop {
            if self.write_waiting_marks().await == 0 {
                self.marks.marking.store(false, Ordering::Release);
                // An id pushed between the take and the store saw a marker running and left
                // it to us: go on, unless another marker has started since.
                if self.lock_marks().is_empty() || self.marks.marking.swap(true, Ordering::AcqRel) {
                    return;
                }
            }
        }
    }

    /// Writes the marks waiting now, in one write, after any batch in flight; returns how many
    /// there were. The marker's step, and what the relay does at shutdown.
    async fn write_waiting_marks(&self) -> usize {
        let _writing = self.marks.writing.lock().await;
        let marks = std::mem::take(&mut *self.lock_marks());
        let mut collected = Vec::new();
        let mut embedded: std::collections::BTreeMap<&'static str, (Vec<Bson>, Vec<ObjectId>)> =
            std::collections::BTreeMap::new();
        for mark in &marks {
            match mark {
                Mark::Collected(id) => collected.push(*id),
                Mark::Embedded {
                    collection,
                    document,
                    entry,
                } => {
                    let (documents, entries) = embedded.entry(collection).or_default();
                    documents.push(document.clone());
                    entries.push(*entry);
                }
            }
        }
        if let Err(error) = self.mark_published(&collected).await {
            tracing::warn!(count = collected.len(), %error, "events published but not marked; the relay will publish them again (deduplicated)");
        }
        for (collection, (documents, entries)) in embedded {
            // The documents' own entries only: any pushed since stay.
            let removed = self
                .database
                .collection::<Document>(collection)
                .update_many(
                    doc! { "_id": { "$in": documents }, EMBEDDED_ID: { "$in": &entries } },
                    doc! { "$pull": { EMBEDDED: { "_id": { "$in": &entries } } } },
                )
                .await;
            if let Err(error) = removed {
                tracing::warn!(collection, count = entries.len(), %error, "events published but not removed from their documents; the relay will publish them again (deduplicated)");
            }
        }
        marks.len()
    }

    /// Records a failed publish on the entry (and parks it if `park`); whether that was written.
    async fn note_failure(&self, entry: &Entry, error: &PublishError, park: bool) -> bool {
        let mut set = doc! { "lastError": error.to_string() };
        if park {
            set.insert("parkedAt", DateTime::now());
        }
        let noted = self
            .entries
            .update_one(
                doc! { "_id": entry.id, "publishedAt": null },
                doc! { "$set": set, "$inc": { "attempts": 1 } },
            )
            .await;
        match noted {
            Ok(_) => {
                if park {
                    // This failure is counted too (`$inc` above).
                    let attempts = i64::from(entry.attempts) + 1;
                    self.record_parked(
                        entry.id,
                        entry.subject.as_str(),
                        attempts,
                        error.to_string(),
                    )
                    .await;
                }
                true
            }
            Err(mongo) => {
                tracing::warn!(entry = %entry.id, error = %mongo, "cannot record the failed publish");
                false
            }
        }
    }

    /// Parks a stored document that is not a readable entry; whether that was written.
    async fn park_unreadable(&self, document: &Document, error: &bson::de::Error) -> bool {
        let Some(id) = document.get("_id") else {
            return false;
        };
        tracing::error!(entry = %id, %error, "outbox entry cannot be read; parked in the outbox");
        let parked = self
            .entries
            .update_one(
                doc! { "_id": id, "publishedAt": null },
                doc! {
                    "$set": { "parkedAt": DateTime::now(), "lastError": format!("unreadable entry: {error}") },
                    "$inc": { "attempts": 1 },
                },
            )
            .await;
        if let Err(mongo) = parked {
            tracing::warn!(entry = %id, error = %mongo, "cannot park the entry");
            return false;
        }
        if let Some(id) = id.as_object_id() {
            let subject = document.get_str("subject").unwrap_or("(unknown)");
            let attempts = i64::from(document.get_i32("attempts").unwrap_or(0)) + 1;
            self.record_parked(id, subject, attempts, format!("unreadable entry: {error}"))
                .await;
        }
        true
    }

    /// Records a parked entry where `ops parked list` finds it, beside the parked deliveries.
    async fn record_parked(&self, id: ObjectId, subject: &str, attempts: i64, error: String) {
        let record = ParkedEvent {
            consumer: format!("outbox.{}", self.database.name()),
            subject: subject.to_owned(),
            sequence: 0,
            deliveries: attempts,
            error,
            parked_at: ParkedEvent::now(),
            outbox_entry: Some(id.to_hex()),
        };
        crate::events::parked::record(self.publisher.jetstream(), &record).await;
    }

    async fn publish_entry(&self, entry: &Entry) -> Result<(), PublishError> {
        let subject = entry.subject;
        let payload = Bytes::from(entry.payload.clone().into_bytes());
        let msg_id = entry.msg_id();
        let span = publish_span(subject, &msg_id, entry.traceparent.as_deref());
        let published = self
            .publisher
            .publish_payload(subject, &msg_id, payload)
            .instrument(span)
            .await?;
        tracing::debug!(entry = %entry.id, %subject, sequence = published.sequence, duplicate = published.duplicate, "event published");
        Ok(())
    }

    /// One relay pass: publishes every entry pending for longer than the grace period, oldest
    /// first. Returns how many were published; stops early when NATS is unreachable.
    pub async fn relay_once(&self) -> anyhow::Result<usize> {
        self.relay_older_than(self.options.relay_grace).await
    }

    /// Publishes every pending entry, however young (what a relay does at start, and tests).
    pub async fn flush(&self) -> anyhow::Result<usize> {
        self.relay_older_than(Duration::ZERO).await
    }

    async fn relay_older_than(&self, grace: Duration) -> anyhow::Result<usize> {
        let cutoff = |grace: Duration| {
            DateTime::from_millis(
                DateTime::now()
                    .timestamp_millis()
                    .saturating_sub(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX)),
            )
        };
        if !self.publisher.is_connected() {
            return Ok(0);
        }
        // Once per pass (it moves every batch there is): what is embedded after this is the
        // next pass's.
        self.move_embedded(cutoff(grace)).await?;
        let mut total = 0;
        loop {
            if !self.publisher.is_connected() {
                return Ok(total);
            }
            let cutoff = cutoff(grace);
            // Read as documents: one that is not an entry (an unknown subject, say, written by
            // a later release or by hand) is parked here instead of failing every pass.
            let documents: Vec<Document> = self
                .entries
                .clone_with_type::<Document>()
                .find(doc! {
                    "publishedAt": null,
                    "parkedAt": null,
                    "createdAt": { "$lte": cutoff },
                })
                .sort(doc! { "_id": 1 })
                .limit(self.options.relay_batch)
                .await?
                .try_collect()
                .await?;
            if documents.is_empty() {
                return Ok(total);
            }
            let mut batch = Vec::with_capacity(documents.len());
            for document in documents {
                match bson::from_document::<Entry>(document.clone()) {
                    Ok(entry) => batch.push(entry),
                    Err(error) if self.park_unreadable(&document, &error).await => total += 1,
                    // Not parked (MongoDB away): the next pass tries again.
                    Err(_) => return Ok(total),
                }
            }
            let (done, published) = self.publish_entries(&batch).await;
            // Marked before the next query, which would otherwise take them again.
            if let Err(error) = self.mark_published(&published).await {
                tracing::warn!(count = published.len(), %error, "events published but not marked; the next pass publishes them again (deduplicated)");
                return Ok(total + done);
            }
            total += done;
            if done < batch.len() {
                return Ok(total);
            }
        }
    }

    /// Moves the entries embedded in documents since before `cutoff` into the `outbox`
    /// collection, oldest first, where the relay's pass takes them with the others.
    ///
    /// Without a transaction, and safe at any instant: an entry is inserted under its own id
    /// (already there means a move that died half-way), then pulled from its document. A crash
    /// in between leaves both copies, which the next pass resolves the same way; an entry the
    /// fast path published meanwhile is published again and dropped by JetStream as a
    /// duplicate (its id is the `Nats-Msg-Id`). A document's entries are moved in the order
    /// they were pushed, which is the order they are then published in.
    async fn move_embedded(&self, cutoff: DateTime) -> mongodb::error::Result<()> {
        let raw = self.entries.clone_with_type::<Document>();
        for name in self.embedding.iter() {
            let collection = self.database.collection::<Document>(name);
            loop {
                let waiting: Vec<Document> = collection
                    .find(doc! { EMBEDDED_CREATED: { "$lte": cutoff } })
                    .projection(doc! { EMBEDDED: 1 })
                    .sort(doc! { EMBEDDED_CREATED: 1 })
                    .limit(self.options.relay_batch)
                    .await?
                    .try_collect()
                    .await?;
                for document in &waiting {
                    let Some(id) = document.get("_id") else {
                        continue;
                    };
                    let (entries, remove): (Vec<&Document>, fn(&Document) -> Document) =
                        match document.get(EMBEDDED) {
                            Some(Bson::Array(entries)) => (
                                entries.iter().filter_map(Bson::as_document).collect(),
                                |entry| doc! { "$pull": { EMBEDDED: entry } },
                            ),
                            // One entry, not in an array: written by a release before entries
                            // of later changes were embedded too.
                            Some(Bson::Document(entry)) => {
                                (vec![entry], |_| doc! { "$unset": { EMBEDDED: "" } })
                            }
                            _ => continue,
                        };
                    for entry in entries {
                        // Pushed in creation order: from the first young one on, the fast path
                        // may still be publishing them.
                        if entry.get_datetime("createdAt").is_ok_and(|at| *at > cutoff) {
                            break;
                        }
                        match raw.insert_one(entry).await {
                            Ok(_) => {}
                            Err(error) if crate::mongo::is_duplicate_key(&error) => {}
                            Err(error) => return Err(error),
                        }
                        collection
                            .update_one(doc! { "_id": id, EMBEDDED: entry }, remove(entry))
                            .await?;
                    }
                }
                if (waiting.len() as i64) < self.options.relay_batch {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Entries not yet published and not parked, wherever they wait.
    pub async fn pending(&self) -> mongodb::error::Result<u64> {
        let mut pending = self
            .entries
            .count_documents(doc! { "publishedAt": null, "parkedAt": null })
            .await?;
        for name in self.embedding.iter() {
            pending += self.embedded_backlog(name).await?.0;
        }
        Ok(pending)
    }

    /// How many entries wait embedded in the documents of `collection`, and the oldest one's
    /// creation time: one aggregation over the sparse index's few documents.
    async fn embedded_backlog(
        &self,
        collection: &str,
    ) -> mongodb::error::Result<(u64, Option<DateTime>)> {
        let mut backlog = self
            .database
            .collection::<Document>(collection)
            .aggregate([
                doc! { "$match": { EMBEDDED_CREATED: { "$exists": true } } },
                doc! { "$group": {
                    "_id": null,
                    // An entry not in an array counts one (see `move_embedded`).
                    "pending": { "$sum": { "$cond": [
                        { "$isArray": format!("${EMBEDDED}") },
                        { "$size": format!("${EMBEDDED}") },
                        1,
                    ] } },
                    "oldest": { "$min": { "$min": format!("${EMBEDDED_CREATED}") } },
                } },
            ])
            .await?;
        let Some(totals) = backlog.try_next().await? else {
            return Ok((0, None));
        };
        let pending = match totals.get("pending") {
            Some(Bson::Int32(n)) => u64::try_from(*n).unwrap_or(0),
            Some(Bson::Int64(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        Ok((pending, totals.get_datetime("oldest").ok().copied()))
    }

    /// Entries parked because they can never be published.
    pub async fn parked(&self) -> mongodb::error::Result<u64> {
        // Parked entries are unpublished: `publishedAt: null` lets the TTL index find them
        // among a day of published ones.
        self.entries
            .count_documents(doc! { "publishedAt": null, "parkedAt": { "$ne": null } })
            .await
    }

    /// The backlog as gauges: `ticketing_outbox_pending`, `ticketing_outbox_oldest_pending_seconds`
    /// (0 when nothing waits) and `ticketing_outbox_parked`. Measured by the relay after each
    /// pass, so what an alert sees is at most one relay interval old.
    async fn report_backlog(&self) -> mongodb::error::Result<()> {
        let mut pending = self
            .entries
            .count_documents(doc! { "publishedAt": null, "parkedAt": null })
            .await?;
        let mut oldest = self
            .entries
            .find_one(doc! { "publishedAt": null, "parkedAt": null })
            .sort(doc! { "_id": 1 })
            .await?
            .map(|entry| entry.created_at);
        for name in self.embedding.iter() {
            let (waiting, embedded) = self.embedded_backlog(name).await?;
            pending += waiting;
            oldest = match (oldest, embedded) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let age = oldest.map_or(0.0, |created_at| {
            let millis = DateTime::now().timestamp_millis() - created_at.timestamp_millis();
            millis.max(0) as f64 / 1000.0
        });
        let parked = self.parked().await?;
        metrics::gauge!("ticketing_outbox_pending").set(pending as f64);
        metrics::gauge!("ticketing_outbox_oldest_pending_seconds").set(age);
        metrics::gauge!("ticketing_outbox_parked").set(parked as f64);
        Ok(())
    }

    /// Starts the relay: a pass at once (whatever a previous process left), then every
    /// `relay_interval`, until `shutdown`.
    pub fn spawn_relay(&self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let outbox = self.clone();
        tokio::spawn(async move {
            if !outbox.options.relay {
                shutdown.cancelled().await;
                outbox.write_waiting_marks().await;
                return;
            }
            let mut first = true;
            loop {
                let pass = if first {
                    outbox.flush().await
                } else {
                    outbox.relay_once().await
                };
                first = false;
                match pass {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "outbox relay published pending events"),
                    Err(error) => tracing::warn!(error = %error, "outbox relay pass failed"),
                }
                if let Err(error) = outbox.report_backlog().await {
                    tracing::debug!(%error, "cannot measure the outbox backlog");
                }
                tokio::select! {
                    () = shutdown.cancelled() => {
                        outbox.write_waiting_marks().await;
                        return;
                    }
                    () = tokio::time::sleep(outbox.options.relay_interval) => {}
                }
            }
        })
    }
}

/// The `_id` a document (or a filter) names: where an embedded entry is.
fn document_id(document: &Document) -> mongodb::error::Result<Bson> {
    document
        .get("_id")
        .cloned()
        .ok_or_else(|| mongodb::error::Error::custom("an embedding document needs its _id"))
}
