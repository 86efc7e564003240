//! `ops parked list`, `replay` and `unpark`, run as an operator runs them, against a real NATS
//! JetStream where a consumer gave up on two events, and a real MongoDB whose outbox parked an
//! entry it could not read.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bson::doc;
use bson::oid::ObjectId;
use common::config::NatsConfig;
use common::events::parked::{self, ParkedEvent};
use common::events::{ConsumerOptions, HandlerError, Nats, QueueGroup, TicketCreated};
use common::outbox::Outbox;
use common::testing::{DEADLINE, ticket_created};
use test_support::http::eventually;
use test_support::mongo::TestDb;
use test_support::nats::TestNats;
use tokio_util::sync::CancellationToken;

const CONSUMER: &str = "ops-test-ticket-created";

fn ops(nats: &TestNats, args: &[&str]) -> (bool, String) {
    ops_with(nats, None, args)
}

fn ops_with(nats: &TestNats, mongo: Option<&str>, args: &[&str]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ops"));
    if let Some(uri) = mongo {
        command.env("MONGO_URI", uri);
    }
    run(command.env("NATS_URL", &nats.url).args(args))
}

fn run(command: &mut Command) -> (bool, String) {
    let output = command.output().expect("ops runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn parked_events_are_listed_with_their_cause_and_replayed_once_fixed() {
    let nats = TestNats::start().await;
    let bus = Nats::connect(&NatsConfig::local(&nats.url, "ops-test"))
        .await
        .expect("connects");
    let shutdown = CancellationToken::new();
    let broken = Arc::new(AtomicBool::new(true));
    let mut consumers = bus
        .consumers(QueueGroup::new("ops-test"), shutdown.clone())
        .with_options(ConsumerOptions {
            max_deliver: 2,
            retry_delay: Duration::from_millis(20),
            max_retry_delay: Duration::from_millis(50),
            ..ConsumerOptions::default()
        });
    consumers
        .listen(
            broken.clone(),
            |_: TicketCreated, broken: Arc<AtomicBool>| async move {
                if broken.load(Ordering::SeqCst) {
                    Err(HandlerError::failed(anyhow::anyhow!(
                        "the database is away"
                    )))
                } else {
                    Ok(())
                }
            },
        )
        .await
        .expect("listens");
    let stats = consumers.stats();

    let event = ticket_created("concert", 20.0);
    let sequence = bus
        .publisher()
        .publish(&event)
        .await
        .expect("published")
        .sequence;
    nats.publish_raw("ticket:created", "bad-body", b"{not json")
        .await;
    eventually("both events to be given up on", DEADLINE, || async {
        (stats.parked() == 1 && stats.terminated() == 1).then_some(())
    })
    .await;

    let records = eventually("both records", DEADLINE, || async {
        let records = parked::list(bus.jetstream()).await.ok()?;
        (records.len() == 2).then_some(records)
    })
    .await;
    let strip = |record: &ParkedEvent| ParkedEvent {
        parked_at: String::new(),
        ..record.clone()
    };
    assert_eq!(
        strip(&records[0]),
        ParkedEvent {
            consumer: CONSUMER.to_owned(),
            subject: "ticket:created".to_owned(),
            sequence,
            deliveries: 2,
            error: "the database is away".to_owned(),
            parked_at: String::new(),
            outbox_entry: None,
        }
    );
    assert_eq!(records[1].sequence, sequence + 1);
    assert_eq!(records[1].deliveries, 1);
    assert!(
        records[1].error.starts_with("body does not parse:"),
        "{}",
        records[1].error
    );
    assert!(
        records[0].parked_at.ends_with('Z'),
        "{}",
        records[0].parked_at
    );

    let (ok, listed) = ops(&nats, &["parked", "list"]);
    assert!(ok, "{listed}");
    assert!(
        listed.contains(&format!(
            "seq {sequence}  ticket:created  {CONSUMER}  deliveries 2  at {}",
            records[0].parked_at
        )),
        "{listed}"
    );
    assert!(listed.contains("    the database is away"), "{listed}");

    // The cause is fixed; the replay is handled (and acked) like any event.
    broken.store(false, Ordering::SeqCst);
    let (ok, replayed) = ops(&nats, &["parked", "replay", &sequence.to_string()]);
    assert!(ok, "{replayed}");
    assert_eq!(
        replayed.trim(),
        format!("replayed sequence {sequence} as sequence {}", sequence + 2)
    );
    eventually("the replay to be handled", DEADLINE, || async {
        (stats.handled() == 1).then_some(())
    })
    .await;
    let stored = nats.published("ticket:created").await;
    assert_eq!(stored[2].body, stored[0].body, "the same event, again");

    let (ok, _) = ops(&nats, &["parked", "replay", "999"]);
    assert!(!ok, "a sequence with no event is an error");
    shutdown.cancel();
    consumers.join().await;
}

/// An outbox entry no release can read (a subject it does not know) is parked by the relay and
/// listed beside the deliveries; corrected by hand and unparked, the relay publishes it.
#[tokio::test]
async fn a_parked_outbox_entry_is_listed_and_unparked_once_fixed() {
    let nats = TestNats::start().await;
    let db = TestDb::new().await;
    let bus = Nats::connect(&NatsConfig::local(&nats.url, "ops-test"))
        .await
        .expect("connects");
    let outbox = Outbox::new(db.client.clone(), &db.db, bus.publisher());
    let raw = outbox.collection().clone_with_type::<bson::Document>();
    let id = ObjectId::new();
    let event = ticket_created("misfiled", 20.0);
    let payload = serde_json::to_string(&event).expect("serialises");
    raw.insert_one(doc! {
        "_id": id, "subject": "ticket:deleted", "payload": &payload,
        "createdAt": bson::DateTime::now(), "attempts": 0,
    })
    .await
    .expect("inserts");
    assert_eq!(outbox.flush().await.expect("a pass"), 1, "parked");

    let (ok, listed) = ops(&nats, &["parked", "list"]);
    assert!(ok, "{listed}");
    let header = format!(
        "outbox.{}  entry {}  ticket:deleted  attempts 1  at ",
        db.name,
        id.to_hex()
    );
    assert!(listed.starts_with(&header), "{listed}");
    assert!(listed.contains("\n    unreadable entry: "), "{listed}");

    let (ok, _) = ops_with(
        &nats,
        Some(&db.uri),
        &["parked", "unpark", &db.name, &ObjectId::new().to_hex()],
    );
    assert!(!ok, "no such parked entry is an error");
    raw.update_one(
        doc! { "_id": id },
        doc! { "$set": { "subject": "ticket:created" } },
    )
    .await
    .expect("corrects");
    let (ok, unparked) = ops_with(
        &nats,
        Some(&db.uri),
        &["parked", "unpark", &db.name, &id.to_hex()],
    );
    assert!(ok, "{unparked}");
    assert_eq!(
        unparked.trim(),
        format!(
            "entry {} of {} handed back to its relay",
            id.to_hex(),
            db.name
        )
    );
    assert_eq!(outbox.flush().await.expect("a pass"), 1, "published");
    let stored = nats.published("ticket:created").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body, serde_json::to_value(&event).expect("json"));
    assert_eq!(outbox.parked().await.expect("counts"), 0);
}

#[tokio::test]
async fn where_nats_has_users_ops_connects_as_the_operators() {
    let nats = TestNats::start_with_config(
        "authorization { users = [\n\
           { user: test-support, password: test-support }\n\
           { user: admin, password: admin-secret }\n\
         ] }",
    )
    .await;
    // The services' streams, as a service would set them up.
    Nats::connect(
        &NatsConfig::local(&nats.url, "ops-test").with_credentials("test-support", "test-support"),
    )
    .await
    .expect("the streams are set up");
    let ops = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ops"));
        command.env("NATS_URL", &nats.url).args(["parked", "list"]);
        command
    };
    let (ok, out) = run(ops()
        .env("NATS_USER", "admin")
        .env("NATS_PASSWORD", "admin-secret"));
    assert!(ok, "ops as admin: {out}");
    assert_eq!(out, "no parked events\n");
    let (ok, _) = run(&mut ops());
    assert!(!ok, "ops connects without a user");
}
