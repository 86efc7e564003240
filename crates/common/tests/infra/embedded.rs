//! Entries embedded in the document they are about (`Outbox::insert_with`,
//! `Outbox::update_with`): one atomic write, published on the fast path and pulled from the
//! document, or moved by the relay into the outbox collection and published from there — never
//! lost, never published twice, a document's entries in the order they were written.

use std::time::{Duration, Instant};

use bson::{Bson, Document, doc};
use common::events::{TicketCreated, TicketUpdated};
use common::outbox::{EMBEDDED, Outbox, OutboxOptions};
use mongodb::Collection;
use test_support::http::eventually;
use test_support::mongo::TestDb;
use test_support::nats::TestNats;
use tokio_util::sync::CancellationToken;

use crate::helpers::{DEADLINE, OutboxSetup, body_of, connect, outbox_setup, ticket_created};

const TICKETS: &str = "tickets";

type Setup = OutboxSetup;

async fn setup(nats: &TestNats, options: OutboxOptions) -> Setup {
    outbox_setup(nats, options, true).await
}

/// As if the process died right after each insert, with a relay that takes entries at once.
fn no_fast_path() -> OutboxOptions {
    OutboxOptions {
        fast_path: false,
        ..crate::outbox::quick_relay()
    }
}

fn ticket_of(event: &TicketCreated) -> Document {
    doc! { "_id": event.id, "title": &event.title, "version": 0_i64 }
}

/// The ticket as inserted, once its entries have left: the array stays, empty.
fn clean(mut ticket: Document) -> Document {
    ticket.insert(EMBEDDED, Bson::Array(Vec::new()));
    ticket
}

/// The entries embedded in `document`, oldest first.
fn embedded(document: &Document) -> Vec<Document> {
    document
        .get_array(EMBEDDED)
        .expect("an array of entries")
        .iter()
        .map(|entry| entry.as_document().expect("an entry").clone())
        .collect()
}

/// `ticket:updated` for the ticket of `event`, at `version`, with a new title.
fn updated(event: &TicketCreated, version: i64, title: &str) -> TicketUpdated {
    TicketUpdated {
        id: event.id,
        version,
        title: title.to_owned(),
        price: event.price,
        user_id: event.user_id,
        order_id: None,
    }
}

/// The versions of the `ticket:updated` in the stream, in stream order.
async fn updated_versions(nats: &TestNats) -> Vec<serde_json::Value> {
    nats.bodies("ticket:updated")
        .await
        .iter()
        .map(|body| body["version"].clone())
        .collect()
}

/// Saves `title` on the ticket of `event` if it is at `version - 1`, with its `ticket:updated`.
async fn update(
    outbox: &Outbox,
    setup: &Setup,
    event: &TicketCreated,
    version: i64,
    title: &str,
) -> mongodb::error::Result<bool> {
    outbox
        .update_with(
            &setup.tickets,
            doc! { "_id": event.id, "version": version - 1 },
            doc! { "$set": { "title": title, "version": version } },
            &updated(event, version, title),
        )
        .await
}

async fn create(setup: &Setup, event: &TicketCreated) -> mongodb::error::Result<()> {
    setup
        .outbox
        .insert_with(&setup.tickets, &ticket_of(event), event)
        .await
}

async fn stored(setup: &Setup, event: &TicketCreated) -> Document {
    setup
        .tickets
        .find_one(doc! { "_id": event.id })
        .await
        .expect("reads")
        .expect("the ticket is there")
}

/// Waits until the ticket is exactly what was inserted: its entry gone.
async fn entry_removed(setup: &Setup, event: &TicketCreated) {
    let expected = clean(ticket_of(event));
    eventually("the entry to leave the document", DEADLINE, || async {
        (stored(setup, event).await == expected).then_some(())
    })
    .await;
}

async fn collected(setup: &Setup) -> Vec<Document> {
    use futures::TryStreamExt as _;
    setup
        .outbox
        .collection()
        .clone_with_type::<Document>()
        .find(doc! {})
        .await
        .expect("reads")
        .try_collect()
        .await
        .expect("reads")
}

#[tokio::test]
async fn a_new_document_and_its_embedded_event_are_published_together() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, OutboxOptions::default()).await;
    let event = ticket_created("concert");

    create(&setup, &event).await.expect("inserted");

    // Published before the call returned, under the entry's id.
    let published = nats.published("ticket:created").await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].body, body_of(&event));
    let msg_id = published[0].msg_id.clone().expect("a Nats-Msg-Id");
    assert_eq!(msg_id.len(), 24, "an ObjectId: {msg_id}");
    // Then removed from the document, off the request path; the outbox collection never saw it.
    entry_removed(&setup, &event).await;
    assert_eq!(collected(&setup).await, Vec::<Document>::new());
    assert_eq!(setup.outbox.pending().await.expect("counts"), 0);
    drop(setup.db);
}

#[tokio::test]
async fn the_entry_is_written_with_the_document_in_one_insert() {
    let nats = TestNats::start().await;
    // As if the process died right after the insert.
    let setup = setup(
        &nats,
        OutboxOptions {
            relay: false,
            ..no_fast_path()
        },
    )
    .await;
    let event = ticket_created("survivor");
    create(&setup, &event).await.expect("inserted");

    let document = stored(&setup, &event).await;
    let entries = embedded(&document);
    assert_eq!(entries.len(), 1, "{document}");
    let entry = &entries[0];
    assert_eq!(entry.get_str("subject"), Ok("ticket:created"));
    let payload: serde_json::Value =
        serde_json::from_str(entry.get_str("payload").expect("a payload")).expect("JSON");
    assert_eq!(payload, body_of(&event));
    assert_eq!(entry.get_i32("attempts"), Ok(0));
    assert!(entry.get_object_id("_id").is_ok(), "{entry}");
    assert!(entry.get_datetime("createdAt").is_ok(), "{entry}");
    assert_eq!(setup.outbox.pending().await.expect("counts"), 1);
    assert!(nats.published("ticket:created").await.is_empty());
}

#[tokio::test]
async fn an_entry_left_by_a_crash_is_moved_and_published_once_by_the_relay() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, no_fast_path()).await;
    let events: Vec<TicketCreated> = (0..3).map(|i| ticket_created(&format!("t{i}"))).collect();
    for event in &events {
        create(&setup, event).await.expect("inserted");
    }
    let ids: Vec<_> = {
        let mut ids = Vec::new();
        for event in &events {
            let entry = embedded(&stored(&setup, event).await).remove(0);
            ids.push(entry.get_object_id("_id").expect("an id").to_hex());
        }
        ids
    };

    let shutdown = CancellationToken::new();
    let relay = setup.outbox.spawn_relay(shutdown.clone());
    let published = nats.wait_for_published("ticket:created", 3, DEADLINE).await;
    // In the order they were created, each under its entry's id.
    let bodies: Vec<_> = published.iter().map(|m| m.body.clone()).collect();
    assert_eq!(bodies, events.iter().map(body_of).collect::<Vec<_>>());
    let msg_ids: Vec<_> = published.iter().filter_map(|m| m.msg_id.clone()).collect();
    assert_eq!(msg_ids, ids);
    for event in &events {
        entry_removed(&setup, event).await;
    }
    // Now in the outbox collection, marked published like any entry the relay published.
    eventually("the moved entries to be marked", DEADLINE, || async {
        let moved = collected(&setup).await;
        (moved.len() == 3 && moved.iter().all(|e| e.get_datetime("publishedAt").is_ok()))
            .then_some(())
    })
    .await;
    assert_eq!(setup.outbox.pending().await.expect("counts"), 0);
    shutdown.cancel();
    relay.await.expect("relay stops");
    assert_eq!(nats.published("ticket:created").await.len(), 3);
}

/// A crash between the two steps of a move (the entry copied to the outbox collection, not yet
/// removed from its document) leaves both copies: the next pass publishes it once.
#[tokio::test]
async fn a_move_cut_short_is_finished_by_the_next_pass() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, no_fast_path()).await;
    let event = ticket_created("half moved");
    create(&setup, &event).await.expect("inserted");
    let entry = embedded(&stored(&setup, &event).await).remove(0);
    setup
        .outbox
        .collection()
        .clone_with_type::<Document>()
        .insert_one(&entry)
        .await
        .expect("the move's first step");

    assert_eq!(setup.outbox.flush().await.expect("a pass"), 1);
    assert_eq!(nats.bodies("ticket:created").await, [body_of(&event)]);
    assert_eq!(stored(&setup, &event).await, clean(ticket_of(&event)));
    assert_eq!(collected(&setup).await.len(), 1);
    assert_eq!(setup.outbox.pending().await.expect("counts"), 0);
    assert_eq!(setup.outbox.flush().await.expect("a pass"), 0);
}

/// Published, but the removal never written (the process died first): the relay publishes it
/// again and JetStream keeps one copy.
#[tokio::test]
async fn an_entry_published_but_not_removed_is_deduplicated() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, OutboxOptions::default()).await;
    let event = ticket_created("once");
    create(&setup, &event).await.expect("inserted");
    entry_removed(&setup, &event).await;
    let entry = nats.published("ticket:created").await;
    // Put the entry back as if the removal had been lost.
    let restored = doc! {
        "_id": bson::oid::ObjectId::parse_str(entry[0].msg_id.as_deref().expect("an id")).expect("hex"),
        "subject": "ticket:created",
        "payload": serde_json::to_string(&event).expect("serialises"),
        "createdAt": bson::DateTime::now(),
        "attempts": 0,
    };
    setup
        .tickets
        .update_one(
            doc! { "_id": event.id },
            doc! { "$push": { EMBEDDED: restored } },
        )
        .await
        .expect("updates");

    assert_eq!(setup.outbox.flush().await.expect("a pass"), 1);
    assert_eq!(nats.bodies("ticket:created").await, [body_of(&event)]);
    assert_eq!(stored(&setup, &event).await, clean(ticket_of(&event)));
}

#[tokio::test]
async fn with_nats_down_the_insert_succeeds_and_the_relay_publishes_when_it_is_back() {
    let mut nats = TestNats::start().await;
    let setup = setup(
        &nats,
        OutboxOptions {
            fast_path: true,
            ..no_fast_path()
        },
    )
    .await;
    let shutdown = CancellationToken::new();
    let relay = setup.outbox.spawn_relay(shutdown.clone());

    nats.stop().await;
    let event = ticket_created("while down");
    let started = Instant::now();
    create(&setup, &event).await.expect("inserted without NATS");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the insert does not wait for NATS: {:?}",
        started.elapsed()
    );
    assert_eq!(setup.outbox.pending().await.expect("counts"), 1);

    nats.start_again().await;
    let published = nats.wait_for_published("ticket:created", 1, DEADLINE).await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].body, body_of(&event));
    entry_removed(&setup, &event).await;
    eventually("nothing pending", DEADLINE, || async {
        (setup.outbox.pending().await.ok() == Some(0)).then_some(())
    })
    .await;
    shutdown.cancel();
    relay.await.expect("relay stops");
}

/// An embedded event NATS will never accept is moved, parked with the reason, and holds up
/// nobody; its document stays as written.
#[tokio::test]
async fn an_unpublishable_embedded_entry_is_parked_after_its_move() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, no_fast_path()).await;
    let huge = ticket_created(&"x".repeat(1 << 20));
    create(&setup, &huge).await.expect("inserted");
    let good = ticket_created("concert");
    create(&setup, &good).await.expect("inserted");

    // One parked, one published.
    assert_eq!(setup.outbox.flush().await.expect("a pass"), 2);
    assert_eq!(nats.bodies("ticket:created").await, [body_of(&good)]);
    assert_eq!(setup.outbox.parked().await.expect("counts"), 1);
    assert_eq!(setup.outbox.pending().await.expect("counts"), 0);
    let parked = setup
        .outbox
        .collection()
        .find_one(doc! { "parkedAt": { "$ne": null } })
        .await
        .expect("reads")
        .expect("the parked entry");
    assert_eq!(
        parked.last_error.as_deref(),
        Some("the event is larger than the server accepts")
    );
    assert_eq!(stored(&setup, &huge).await, clean(ticket_of(&huge)));
    entry_removed(&setup, &good).await;
}

#[tokio::test]
async fn a_collection_not_declared_is_refused_and_nothing_is_written() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, OutboxOptions::default()).await;
    let other: Collection<Document> = setup.db.db.collection("orders");
    let event = ticket_created("nowhere");

    let error = setup
        .outbox
        .insert_with(&other, &ticket_of(&event), &event)
        .await
        .expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("not declared with Outbox::embedding_in"),
        "{error}"
    );
    assert_eq!(other.count_documents(doc! {}).await.expect("counts"), 0);
    assert!(nats.published("ticket:created").await.is_empty());
}

/// Forty creates at once: far fewer than forty removals, and every document ends clean.
#[tokio::test]
async fn the_removals_are_written_in_batches() {
    use std::sync::atomic::Ordering;

    let nats = TestNats::start().await;
    let db = TestDb::new().await;
    let (client, updates) = crate::helpers::counting_updates(&db.uri, TICKETS).await;
    let database = client.database(db.db.name());
    let bus = connect(&nats).await;
    let outbox = Outbox::new(client.clone(), &database, bus.publisher()).embedding_in(TICKETS);
    outbox.ensure_indexes().await.expect("indexes");
    let setup = Setup {
        db,
        outbox,
        tickets: database.collection(TICKETS),
    };

    let events: Vec<TicketCreated> = (0..40).map(|i| ticket_created(&format!("t{i}"))).collect();
    let created = futures::future::join_all(events.iter().map(|event| create(&setup, event)));
    for result in created.await {
        result.expect("inserted");
    }
    for event in &events {
        entry_removed(&setup, event).await;
    }
    assert_eq!(nats.published("ticket:created").await.len(), 40);
    let writes = updates.load(Ordering::Relaxed);
    assert!(
        (1..40).contains(&writes),
        "{writes} writes removed 40 entries"
    );
}

#[tokio::test]
async fn an_update_and_its_embedded_event_are_published_together() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, OutboxOptions::default()).await;
    let event = ticket_created("concert");
    create(&setup, &event).await.expect("inserted");

    let changed = update(&setup.outbox, &setup, &event, 1, "opera").await;

    assert!(changed.expect("updates"));
    let published = nats.published("ticket:updated").await;
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0].body,
        serde_json::to_value(updated(&event, 1, "opera")).expect("serialises")
    );
    let expected = clean(doc! { "_id": event.id, "title": "opera", "version": 1_i64 });
    eventually("both entries to leave the document", DEADLINE, || async {
        (stored(&setup, &event).await == expected).then_some(())
    })
    .await;
    assert_eq!(collected(&setup).await, Vec::<Document>::new());
    assert_eq!(setup.outbox.pending().await.expect("counts"), 0);
}

/// The filter is the update's condition: a change that lost its race writes nothing and
/// announces nothing.
#[tokio::test]
async fn an_update_whose_filter_matches_nothing_writes_and_publishes_nothing() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, OutboxOptions::default()).await;
    let event = ticket_created("concert");
    create(&setup, &event).await.expect("inserted");
    entry_removed(&setup, &event).await;

    // Stale: the ticket is at version 0, not 4.
    let changed = update(&setup.outbox, &setup, &event, 5, "opera").await;

    assert!(!changed.expect("runs"), "a stale filter");
    assert_eq!(stored(&setup, &event).await, clean(ticket_of(&event)));
    assert!(nats.published("ticket:updated").await.is_empty());
    assert_eq!(setup.outbox.pending().await.expect("counts"), 0);
}

/// A document changed twice before anything was published (the process died after each
/// write): all three entries wait in it, and the relay publishes them once each, in order.
#[tokio::test]
async fn entries_of_successive_changes_wait_together_and_go_out_in_order() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, no_fast_path()).await;
    let event = ticket_created("concert");
    create(&setup, &event).await.expect("inserted");
    assert!(
        update(&setup.outbox, &setup, &event, 1, "opera")
            .await
            .expect("updates")
    );
    assert!(
        update(&setup.outbox, &setup, &event, 2, "ballet")
            .await
            .expect("updates")
    );
    let entries = embedded(&stored(&setup, &event).await);
    let subjects: Vec<_> = entries
        .iter()
        .map(|e| e.get_str("subject").expect("a subject"))
        .collect();
    assert_eq!(
        subjects,
        ["ticket:created", "ticket:updated", "ticket:updated"]
    );
    assert_eq!(setup.outbox.pending().await.expect("counts"), 3);

    assert_eq!(setup.outbox.flush().await.expect("a pass"), 3);

    assert_eq!(nats.bodies("ticket:created").await, [body_of(&event)]);
    assert_eq!(updated_versions(&nats).await, [1, 2]);
    let msg_ids: Vec<_> = collected(&setup)
        .await
        .iter()
        .map(|entry| entry.get_object_id("_id").expect("an id"))
        .collect();
    let written: Vec<_> = entries
        .iter()
        .map(|entry| entry.get_object_id("_id").expect("an id"))
        .collect();
    assert_eq!(msg_ids, written, "moved under their own ids");
    assert_eq!(
        stored(&setup, &event).await,
        clean(doc! { "_id": event.id, "title": "ballet", "version": 2_i64 })
    );
    assert_eq!(setup.outbox.pending().await.expect("counts"), 0);
    assert_eq!(setup.outbox.flush().await.expect("a pass"), 0);
}

/// The marker pulls the entries it published and no other: one written beside them by a
/// process that died before publishing it stays, for the relay.
#[tokio::test]
async fn the_marker_pulls_only_the_entries_it_published() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, OutboxOptions::default()).await;
    let crashing = setup.outbox.clone().with_options(OutboxOptions {
        relay: false,
        ..no_fast_path()
    });
    let event = ticket_created("concert");
    create(&setup, &event).await.expect("inserted");
    assert!(
        update(&crashing, &setup, &event, 1, "opera")
            .await
            .expect("updates")
    );

    assert!(
        update(&setup.outbox, &setup, &event, 2, "ballet")
            .await
            .expect("updates")
    );

    eventually("the published entries to leave", DEADLINE, || async {
        let left = embedded(&stored(&setup, &event).await);
        (left.len() == 1).then_some(left)
    })
    .await;
    let left = embedded(&stored(&setup, &event).await);
    assert_eq!(left[0].get_str("subject"), Ok("ticket:updated"));
    let payload: serde_json::Value =
        serde_json::from_str(left[0].get_str("payload").expect("a payload")).expect("JSON");
    assert_eq!(payload["version"], 1);
    assert_eq!(setup.outbox.pending().await.expect("counts"), 1);

    assert_eq!(setup.outbox.flush().await.expect("a pass"), 1);
    assert_eq!(
        updated_versions(&nats).await,
        [2, 1],
        "the late one published by the relay"
    );
    assert_eq!(setup.outbox.pending().await.expect("counts"), 0);
}

/// A document holding one entry as a field rather than in an array (what a release before
/// embedded updates wrote) is still moved and published once, during a rolling upgrade.
#[tokio::test]
async fn an_entry_of_the_earlier_single_field_shape_is_still_moved() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, no_fast_path()).await;
    let event = ticket_created("legacy");
    let entry = doc! {
        "_id": bson::oid::ObjectId::new(),
        "subject": "ticket:created",
        "payload": serde_json::to_string(&event).expect("serialises"),
        "createdAt": bson::DateTime::now(),
        "attempts": 0,
    };
    let mut ticket = ticket_of(&event);
    ticket.insert(EMBEDDED, entry);
    setup.tickets.insert_one(ticket).await.expect("inserted");
    assert_eq!(setup.outbox.pending().await.expect("counts"), 1);

    assert_eq!(setup.outbox.flush().await.expect("a pass"), 1);

    assert_eq!(nats.bodies("ticket:created").await, [body_of(&event)]);
    assert_eq!(stored(&setup, &event).await, ticket_of(&event));
    assert_eq!(setup.outbox.pending().await.expect("counts"), 0);
}

#[tokio::test]
async fn an_update_of_a_collection_not_declared_is_refused_and_nothing_is_written() {
    let nats = TestNats::start().await;
    let setup = setup(&nats, OutboxOptions::default()).await;
    let other: Collection<Document> = setup.db.db.collection("orders");
    let event = ticket_created("nowhere");
    other.insert_one(ticket_of(&event)).await.expect("inserted");

    let error = setup
        .outbox
        .update_with(
            &other,
            doc! { "_id": event.id },
            doc! { "$set": { "version": 1_i64 } },
            &updated(&event, 1, "nowhere"),
        )
        .await
        .expect_err("refused");

    assert!(error.to_string().contains("not declared"), "{error}");
    assert_eq!(
        other.find_one(doc! {}).await.expect("reads"),
        Some(ticket_of(&event))
    );
    assert!(nats.published("ticket:updated").await.is_empty());
}
