//! `ops parked list` and `ops parked replay`, run as an operator runs them, against a real
//! NATS JetStream where a consumer gave up on two events.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::events::parked::{self, ParkedEvent};
use common::events::{ConsumerOptions, HandlerError, Nats, QueueGroup, TicketCreated};
use common::testing::{DEADLINE, ticket_created};
use test_support::http::eventually;
use test_support::nats::TestNats;
use tokio_util::sync::CancellationToken;

const CONSUMER: &str = "ops-test-ticket-created";

fn ops(nats: &TestNats, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ops"))
        .args(args)
        .env("NATS_URL", &nats.url)
        .output()
        .expect("ops runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn parked_events_are_listed_with_their_cause_and_replayed_once_fixed() {
    let nats = TestNats::start().await;
    let bus = Nats::connect(&nats.url, "ops-test")
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
