//! The transactional outbox: commit together, publish on the fast path or by the relay, never
//! twice.

use std::time::{Duration, Instant};

use bson::{Document, doc};
use common::events::TicketCreated;
use common::outbox::{Outbox, OutboxOptions};
use mongodb::Collection;
use test_support::http::eventually;
use test_support::mongo::TestDb;
use test_support::nats::TestNats;
use tokio_util::sync::CancellationToken;

use crate::helpers::{DEADLINE, OutboxSetup, body_of, connect, outbox_setup, ticket_created};

type Setup = OutboxSetup;

async fn setup(nats: &TestNats, options: OutboxOptions) -> Setup {
    outbox_setup(nats, options, false).await
}

pub(crate) fn quick_relay() -> OutboxOptions {
    OutboxOptions {
        relay_interval: Duration::from_millis(50),
        relay_grace: Duration::ZERO,
        ..OutboxOptions::default()
    }
}

/// Inserts a ticket and stages its `ticket:created` in one transaction.
async fn create_ticket(setup: &Setup, event: &TicketCreated) -> mongodb::error::Result<()> {
    common::transaction!(setup.outbox, |tx| {
        setup
            .tickets
            .insert_one(doc! { "_id": event.id, "title": &event.title, "version": 0_i64 })
            .session(tx.session())
            .await?;
        tx.publish(event).await
    })
}

/// Waits until every entry is marked published.
async fn marked(setup: &Setup) {
    eventually("every entry marked published", DEADLINE, || async {
        (setup.outbox.pending().await.ok() == Some(0)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_committed_change_and_its_event_are_published_together() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, OutboxOptions::default()).await;
    let event = ticket_created("concert");

    create_ticket(&setup, &event).await.expect("commits");

    // The fast path published before the call returned.
    let stored = nats.published("ticket:created").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body, body_of(&event));
    let entry = setup
        .outbox
        .collection()
        .find_one(doc! {})
        .await
        .expect("reads")
        .expect("the entry is kept");
    assert_eq!(
        stored[0].msg_id.as_deref(),
        Some(entry.id.to_hex().as_str())
    );
    assert_eq!(entry.subject, common::events::Subject::TicketCreated);
    // Marked published just after, off the request path.
    marked(&setup).await;
    let ticket = setup
        .tickets
        .find_one(doc! { "_id": event.id })
        .await
        .expect("reads");
    assert!(ticket.is_some());
}

#[derive(Debug)]
struct Refused;

#[tokio::test]
async fn a_rolled_back_transaction_writes_and_publishes_nothing() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, OutboxOptions::default()).await;
    let doomed = ticket_created("doomed");

    let error = common::transaction!(setup.outbox, |tx| {
        setup
            .tickets
            .insert_one(doc! { "_id": doomed.id, "title": &doomed.title })
            .session(tx.session())
            .await?;
        tx.publish(&doomed).await?;
        Err::<(), _>(common::outbox::abort(Refused))
    })
    .expect_err("rolled back");
    assert!(
        common::outbox::aborted::<Refused>(&error).is_some(),
        "{error}"
    );

    // A later transaction's event is the only one that ever reaches the stream.
    let later = ticket_created("later");
    create_ticket(&setup, &later).await.expect("commits");
    let bodies = nats.bodies("ticket:created").await;
    assert_eq!(bodies, [body_of(&later)]);
    assert_eq!(
        setup
            .tickets
            .count_documents(doc! { "_id": doomed.id })
            .await
            .expect("counts"),
        0
    );
    assert_eq!(
        setup
            .outbox
            .collection()
            .count_documents(doc! {})
            .await
            .expect("counts"),
        1
    );
}

#[tokio::test]
async fn an_event_committed_while_the_relay_is_stopped_is_published_once_it_starts() {
    let nats = TestNats::start().await;
    // As if the process died between the commit and the publish.
    let crashed = setup(
        &nats,
        OutboxOptions {
            fast_path: false,
            ..quick_relay()
        },
    )
    .await;
    let event = ticket_created("survivor");
    create_ticket(&crashed, &event).await.expect("commits");
    assert_eq!(crashed.outbox.pending().await.expect("counts"), 1);
    assert!(nats.published("ticket:created").await.is_empty());

    let shutdown = CancellationToken::new();
    let relay = crashed.outbox.spawn_relay(shutdown.clone());

    let stored = nats.wait_for_published("ticket:created", 1, DEADLINE).await;
    assert_eq!(stored[0].body, body_of(&event));
    eventually("the entry to be marked published", DEADLINE, || async {
        (crashed.outbox.pending().await.ok() == Some(0)).then_some(())
    })
    .await;
    shutdown.cancel();
    relay.await.expect("relay stops");
    assert_eq!(nats.published("ticket:created").await.len(), 1);
    drop(crashed.db);
}

#[tokio::test]
async fn with_nats_down_the_commit_succeeds_and_the_relay_publishes_when_it_is_back() {
    let mut nats = TestNats::start().await;
    let setup = setup(&nats, quick_relay()).await;
    let shutdown = CancellationToken::new();
    let relay = setup.outbox.spawn_relay(shutdown.clone());

    nats.stop().await;
    let event = ticket_created("while down");
    let started = Instant::now();
    create_ticket(&setup, &event)
        .await
        .expect("commits without NATS");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the commit does not wait for NATS: {:?}",
        started.elapsed()
    );
    assert_eq!(setup.outbox.pending().await.expect("counts"), 1);

    nats.start_again().await;
    let stored = nats.wait_for_published("ticket:created", 1, DEADLINE).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body, body_of(&event));
    eventually("the entry to be marked published", DEADLINE, || async {
        (setup.outbox.pending().await.ok() == Some(0)).then_some(())
    })
    .await;
    shutdown.cancel();
    relay.await.expect("relay stops");
}

#[tokio::test]
async fn publishing_an_entry_again_is_deduplicated_by_its_id() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, OutboxOptions::default()).await;
    let event = ticket_created("once");
    create_ticket(&setup, &event).await.expect("commits");
    marked(&setup).await;

    // As if the ack had been lost after JetStream stored the message.
    setup
        .outbox
        .collection()
        .update_many(doc! {}, doc! { "$unset": { "publishedAt": "" } })
        .await
        .expect("updates");
    assert_eq!(setup.outbox.flush().await.expect("relays"), 1);

    assert_eq!(nats.bodies("ticket:created").await, [body_of(&event)]);
    assert_eq!(setup.outbox.pending().await.expect("counts"), 0);
}

/// A full stream (`discard: new`) refuses the publish: the entry stays pending with the reason,
/// and the relay publishes it, once, as soon as there is room again. Nothing is lost or dropped
/// from the stream to make room.
#[tokio::test]
async fn a_full_stream_keeps_the_event_in_the_outbox_until_there_is_room() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, quick_relay()).await;
    let first = ticket_created("fits");
    create_ticket(&setup, &first).await.expect("commits");
    marked(&setup).await;

    // The stream as the services configure it, but with room for the one event it holds.
    let jetstream = nats.jetstream().await;
    let full = async_nats::jetstream::stream::Config {
        max_messages: 1,
        ..common::events::stream_config(1)
    };
    jetstream
        .update_stream(&full)
        .await
        .expect("limits the stream");
    let waiting = ticket_created("waits for room");
    create_ticket(&setup, &waiting).await.expect("commits");
    let pending = eventually("the refused publish to be recorded", DEADLINE, || async {
        setup
            .outbox
            .collection()
            .find_one(doc! { "publishedAt": null, "lastError": { "$ne": null } })
            .await
            .ok()
            .flatten()
    })
    .await;
    let reason = pending.last_error.unwrap_or_default();
    assert!(reason.contains("maximum messages"), "{reason}");
    assert_eq!(setup.outbox.parked().await.expect("counts"), 0);
    assert_eq!(nats.bodies("ticket:created").await, [body_of(&first)]);

    let shutdown = CancellationToken::new();
    let relay = setup.outbox.spawn_relay(shutdown.clone());
    jetstream
        .update_stream(&common::events::stream_config(1))
        .await
        .expect("makes room");
    marked(&setup).await;
    assert_eq!(
        nats.bodies("ticket:created").await,
        [body_of(&first), body_of(&waiting)]
    );
    shutdown.cancel();
    relay.await.expect("relay stops");
}

/// Issue 11, case 5: entries NATS will never accept (over its 1 MiB maximum payload) are parked
/// and skipped, however many of them stand in front of good ones, and are never retried.
#[tokio::test]
async fn unpublishable_entries_are_parked_and_do_not_hold_up_the_others() {
    let nats = TestNats::start().await;
    let options = OutboxOptions {
        fast_path: false,
        relay_batch: 10,
        ..quick_relay()
    };
    let setup = setup(&nats, options).await;
    let huge = "x".repeat(1 << 20);
    for _ in 0..25 {
        create_ticket(&setup, &ticket_created(&huge))
            .await
            .expect("commits");
    }
    let good = ticket_created("concert");
    create_ticket(&setup, &good).await.expect("commits");

    assert_eq!(setup.outbox.flush().await.expect("a pass"), 26);
    let stored = nats.published("ticket:created").await;
    assert_eq!(stored.len(), 1, "only the good entry reached the stream");
    assert_eq!(stored[0].body, body_of(&good));
    assert_eq!(setup.outbox.parked().await.expect("counts"), 25);
    assert_eq!(setup.outbox.pending().await.expect("counts"), 0);
    let parked = setup
        .outbox
        .collection()
        .find_one(doc! { "parkedAt": { "$ne": null } })
        .await
        .expect("reads")
        .expect("a parked entry");
    assert_eq!(parked.attempts, 1);
    assert_eq!(parked.published_at, None);
    assert_eq!(
        parked.last_error.as_deref(),
        Some("the event is larger than the server accepts")
    );

    // Parked entries are not taken again: the next pass has nothing to do.
    assert_eq!(setup.outbox.flush().await.expect("a pass"), 0);
    drop(setup.db);
}

/// An entry this release cannot read back (a subject it does not know, written by a later
/// release or by hand) is parked with the reason, and the entries behind it are published.
#[tokio::test]
async fn an_entry_that_cannot_be_read_is_parked_and_does_not_hold_up_the_others() {
    let nats = TestNats::start().await;
    let options = OutboxOptions {
        fast_path: false,
        ..quick_relay()
    };
    let setup = setup(&nats, options).await;
    let raw = setup
        .outbox
        .collection()
        .clone_with_type::<bson::Document>();
    let unknown = bson::oid::ObjectId::new();
    raw.insert_one(doc! {
        "_id": unknown, "subject": "ticket:deleted", "payload": "{}",
        "createdAt": bson::DateTime::now(), "attempts": 0,
    })
    .await
    .expect("inserts");
    let good = ticket_created("concert");
    create_ticket(&setup, &good).await.expect("commits");

    assert_eq!(setup.outbox.flush().await.expect("a pass"), 2);
    let stored = nats.published("ticket:created").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body, body_of(&good));
    let parked = raw
        .find_one(doc! { "_id": unknown })
        .await
        .expect("reads")
        .expect("still there");
    assert!(parked.get_datetime("parkedAt").is_ok(), "{parked}");
    assert_eq!(parked.get_i32("attempts"), Ok(1));
    let reason = parked.get_str("lastError").expect("a reason");
    assert!(
        reason.starts_with("unreadable entry:") && reason.contains("ticket:deleted"),
        "{reason}"
    );
    assert_eq!(setup.outbox.parked().await.expect("counts"), 1);
    assert_eq!(setup.outbox.flush().await.expect("a pass"), 0);
}

/// Issue 11, case 4: a process killed inside a transaction leaves it open in mongod, and every
/// write to the documents it touched waits for it. The test mongod (as the local stack's and
/// the manifests') aborts such a transaction after 5 s, not the default 60.
#[tokio::test]
async fn a_transaction_left_open_by_a_dead_client_blocks_its_documents_for_seconds_only() {
    let db = TestDb::new().await;
    let limit = db
        .client
        .database("admin")
        .run_command(doc! { "getParameter": 1, "transactionLifetimeLimitSeconds": 1 })
        .await
        .expect("getParameter");
    assert_eq!(limit.get_i32("transactionLifetimeLimitSeconds"), Ok(5));

    let orders: Collection<Document> = db.db.collection("orders");
    orders
        .insert_one(doc! { "_id": 1, "status": "created" })
        .await
        .expect("seeded");
    // A client that writes in a transaction and then vanishes without committing or aborting.
    let dead = mongodb::Client::with_uri_str(&db.uri)
        .await
        .expect("connects");
    let mut session = dead.start_session().await.expect("session");
    session.start_transaction().await.expect("transaction");
    dead.database(&db.name)
        .collection::<Document>("orders")
        .update_one(
            doc! { "_id": 1 },
            doc! { "$set": { "status": "half-written" } },
        )
        .session(&mut session)
        .await
        .expect("written in the transaction");
    std::mem::forget(session);
    std::mem::forget(dead);

    let started = Instant::now();
    orders
        .update_one(
            doc! { "_id": 1 },
            doc! { "$set": { "status": "cancelled" } },
        )
        .await
        .expect("the write goes through once the transaction is aborted");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(30), "blocked for {waited:?}");
    let stored = orders.find_one(doc! { "_id": 1 }).await.expect("reads");
    assert_eq!(stored, Some(doc! { "_id": 1, "status": "cancelled" }));
}

/// The fast path's marks are written in batches, off the request path: forty transactions
/// committed at once cost far fewer than forty writes of `publishedAt`, and every entry ends
/// marked (so the relay has nothing to publish again).
#[tokio::test]
async fn the_fast_paths_marks_are_written_in_batches() {
    use std::sync::atomic::Ordering;

    let nats = TestNats::start().await;
    let db = TestDb::new().await;
    // A client of our own that counts the writes to the outbox that are not inserts.
    let (client, marks) = crate::helpers::counting_updates(&db.uri, "outbox").await;
    let database = client.database(db.db.name());
    let bus = connect(&nats).await;
    let outbox = Outbox::new(client.clone(), &database, bus.publisher());
    outbox.ensure_indexes().await.expect("indexes");
    let setup = Setup {
        db,
        outbox,
        tickets: database.collection("tickets"),
    };

    let events: Vec<TicketCreated> = (0..40).map(|i| ticket_created(&format!("t{i}"))).collect();
    let created =
        futures::future::join_all(events.iter().map(|event| create_ticket(&setup, event)));
    for result in created.await {
        result.expect("commits");
    }

    marked(&setup).await;
    assert_eq!(nats.published("ticket:created").await.len(), 40);
    let writes = marks.load(Ordering::Relaxed);
    assert!(
        (1..40).contains(&writes),
        "{writes} writes marked 40 entries published"
    );
}
