//! The stream, the publisher and the listener's delivery rules.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::stream::StorageType;
use bson::oid::ObjectId;
use common::events::{
    HandlerError, OrderCancelled, QueueGroup, STREAM, Subject, TicketCreated, ensure_stream,
};
use test_support::http::eventually;
use test_support::nats::TestNats;
use tokio_util::sync::CancellationToken;

use crate::helpers::{DEADLINE, connect, order_cancelled, quick_options, ticket_created};

const GROUP: QueueGroup = QueueGroup::new("test-service");
const TICKET_CREATED_CONSUMER: &str = "test-service-ticket-created";
const ORDER_CANCELLED_CONSUMER: &str = "test-service-order-cancelled";

/// A test's own NATS server, the bus on it, and consumers of [`GROUP`] with the quick options.
async fn listening() -> (
    TestNats,
    common::events::Nats,
    CancellationToken,
    common::events::Consumers,
) {
    let nats = TestNats::start().await;
    let bus = connect(&nats).await;
    let shutdown = CancellationToken::new();
    let consumers = bus
        .consumers(GROUP, shutdown.clone())
        .with_options(quick_options());
    (nats, bus, shutdown, consumers)
}

/// Listens to `ticket:created`, recording every event handled.
async fn record_tickets(listener: &mut common::events::Consumers) -> Seen<TicketCreated> {
    let seen = Seen::<TicketCreated>::default();
    listener
        .listen(
            seen.clone(),
            |event: TicketCreated, seen: Seen<_>| async move {
                seen.push(event);
                Ok(())
            },
        )
        .await
        .expect("listens");
    seen
}

/// Records the events a handler saw.
struct Seen<T>(Arc<Mutex<Vec<T>>>);

impl<T> Clone for Seen<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Default for Seen<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T: Clone> Seen<T> {
    fn push(&self, value: T) {
        self.0.lock().expect("not poisoned").push(value);
    }

    fn all(&self) -> Vec<T> {
        self.0.lock().expect("not poisoned").clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<T> {
        eventually(&format!("{count} handled events"), DEADLINE, || async {
            let all = self.all();
            (all.len() >= count).then_some(all)
        })
        .await
    }
}

#[tokio::test]
async fn the_stream_is_created_idempotently_with_the_contract_settings() {
    let nats = TestNats::start().await;
    let bus = connect(&nats).await;
    ensure_stream(bus.jetstream(), 1)
        .await
        .expect("a second ensure changes nothing");
    let mut stream = bus.jetstream().get_stream(STREAM).await.expect("exists");
    let info = stream.info().await.expect("info");
    // Every subject of the contract (their spelling is checked in `events::tests`), no other.
    let subjects: Vec<_> = Subject::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(info.config.subjects, subjects);
    assert_eq!(info.config.storage, StorageType::File);
    assert_eq!(info.config.duplicate_window, Duration::from_secs(600));
}

#[tokio::test]
async fn publishing_twice_under_one_id_stores_one_message() {
    let nats = TestNats::start().await;
    let publisher = connect(&nats).await.publisher();
    let event = ticket_created("concert");

    let first = publisher
        .publish_with_id("event-1", &event)
        .await
        .expect("published");
    let again = publisher
        .publish_with_id("event-1", &event)
        .await
        .expect("published");
    assert!(!first.duplicate);
    assert!(again.duplicate, "JetStream drops the second copy");
    assert_eq!(again.sequence, first.sequence);
    let other = publisher.publish(&event).await.expect("published");
    assert!(!other.duplicate, "a fresh id is a new message");

    let stored = nats.published("ticket:created").await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].msg_id.as_deref(), Some("event-1"));
    assert_eq!(
        stored[0].body,
        serde_json::json!({
            "id": event.id.to_hex(), "version": 0, "title": "concert", "price": 20,
            "userId": event.user_id.to_hex()
        })
    );
    let fresh_id = stored[1]
        .msg_id
        .clone()
        .expect("every publish carries an id");
    assert_ne!(fresh_id, "event-1");
}

#[tokio::test]
async fn a_handled_event_is_acked_once() {
    let (nats, bus, shutdown, mut listener) = listening().await;
    let seen = record_tickets(&mut listener).await;

    let event = ticket_created("concert");
    bus.publisher().publish(&event).await.expect("published");

    assert_eq!(seen.wait_for(1).await, [event]);
    let info = nats
        .wait_consumer_idle(TICKET_CREATED_CONSUMER, DEADLINE)
        .await;
    assert_eq!(info.num_redelivered, 0);
    assert_eq!(info.config.ack_wait, Duration::from_secs(5));
    assert_eq!(listener.stats().handled(), 1);
    shutdown.cancel();
    listener.join().await;
}

#[tokio::test]
async fn a_failed_handler_gets_the_event_again_after_a_nak() {
    let (nats, bus, shutdown, mut listener) = listening().await;
    let calls = Arc::new(AtomicUsize::new(0));
    listener
        .listen(
            calls.clone(),
            |_: TicketCreated, calls: Arc<AtomicUsize>| async move {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(HandlerError::failed(anyhow::anyhow!("database is away"))),
                    _ => Ok(()),
                }
            },
        )
        .await
        .expect("listens");

    bus.publisher()
        .publish(&ticket_created("concert"))
        .await
        .expect("published");

    eventually("a successful third delivery", DEADLINE, || async {
        (listener.stats().handled() == 1).then_some(())
    })
    .await;
    nats.wait_consumer_idle(TICKET_CREATED_CONSUMER, DEADLINE)
        .await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(listener.stats().retried(), 2);
    assert_eq!(listener.stats().parked(), 0);
    shutdown.cancel();
    listener.join().await;
}

#[tokio::test]
async fn not_yet_events_come_back_until_the_gap_closes() {
    let (nats, bus, shutdown, mut listener) = listening().await;
    // A replica's stored version, applied by the replica rule.
    let stored = Arc::new(AtomicI64::new(0));
    let applied = Seen::<i64>::default();
    listener
        .listen(
            (stored.clone(), applied.clone()),
            |event: OrderCancelled, (stored, applied): (Arc<AtomicI64>, Seen<i64>)| async move {
                let held = stored.load(Ordering::SeqCst);
                if event.version <= held {
                    Ok(())
                } else if event.version == held + 1 {
                    stored.store(event.version, Ordering::SeqCst);
                    applied.push(event.version);
                    Ok(())
                } else {
                    Err(HandlerError::not_yet(format!("holding {held}")))
                }
            },
        )
        .await
        .expect("listens");

    let publisher = bus.publisher();
    let base = order_cancelled(0);
    for version in [3, 2, 1] {
        let event = OrderCancelled {
            version,
            ..base.clone()
        };
        publisher.publish(&event).await.expect("published");
    }

    assert_eq!(
        applied.wait_for(3).await,
        [1, 2, 3],
        "applied in version order"
    );
    nats.wait_consumer_idle(ORDER_CANCELLED_CONSUMER, DEADLINE)
        .await;
    assert_eq!(listener.stats().parked(), 0);
    assert!(
        listener.stats().retried() >= 2,
        "3 and 2 came back at least once"
    );
    shutdown.cancel();
    listener.join().await;
}

#[tokio::test]
async fn an_unparseable_body_is_terminated_and_does_not_block_the_consumer() {
    let (nats, bus, shutdown, mut listener) = listening().await;
    let seen = record_tickets(&mut listener).await;

    nats.publish_raw("ticket:created", "bad-1", b"{not json")
        .await;
    nats.publish_raw(
        "ticket:created",
        "bad-2",
        br#"{"id":"not-an-object-id","version":0}"#,
    )
    .await;
    let good = ticket_created("after the bad ones");
    bus.publisher().publish(&good).await.expect("published");

    assert_eq!(seen.wait_for(1).await, [good]);
    let info = nats
        .wait_consumer_idle(TICKET_CREATED_CONSUMER, DEADLINE)
        .await;
    assert_eq!(
        info.num_redelivered, 0,
        "terminated bodies are never retried"
    );
    assert_eq!(listener.stats().terminated(), 2);
    assert_eq!(seen.all().len(), 1);
    shutdown.cancel();
    listener.join().await;
}

#[tokio::test]
async fn an_event_failing_every_delivery_is_parked_after_max_deliveries() {
    let nats = TestNats::start().await;
    let bus = connect(&nats).await;
    let shutdown = CancellationToken::new();
    let poison_calls = Arc::new(AtomicUsize::new(0));
    let seen = Seen::<String>::default();
    let options = quick_options();
    let max_deliver = usize::try_from(options.max_deliver).expect("positive");
    let mut listener = bus.consumers(GROUP, shutdown.clone()).with_options(options);
    listener
        .listen(
            (poison_calls.clone(), seen.clone()),
            |event: TicketCreated, (poison_calls, seen): (Arc<AtomicUsize>, Seen<String>)| async move {
                if event.title == "poison" {
                    poison_calls.fetch_add(1, Ordering::SeqCst);
                    return Err(HandlerError::failed(anyhow::anyhow!("always fails")));
                }
                seen.push(event.title);
                Ok(())
            },
        )
        .await
        .expect("listens");

    let poison = ticket_created("poison");
    bus.publisher().publish(&poison).await.expect("published");
    bus.publisher()
        .publish(&ticket_created("fine"))
        .await
        .expect("published");

    assert_eq!(
        seen.wait_for(1).await,
        ["fine"],
        "the poison does not block the rest"
    );
    eventually("the poison to be parked", DEADLINE, || async {
        (listener.stats().parked() == 1).then_some(())
    })
    .await;
    nats.wait_consumer_idle(TICKET_CREATED_CONSUMER, DEADLINE)
        .await;
    assert_eq!(poison_calls.load(Ordering::SeqCst), max_deliver);
    let stored = nats.bodies("ticket:created").await;
    assert_eq!(
        stored[0]["id"],
        poison.id.to_hex(),
        "a parked event stays in the stream for an operator"
    );
    shutdown.cancel();
    listener.join().await;
}

#[tokio::test]
async fn replicas_sharing_a_queue_group_handle_each_event_once() {
    let nats = TestNats::start().await;
    let shutdown = CancellationToken::new();
    let seen = Seen::<ObjectId>::default();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let bus = connect(&nats).await;
        let mut listener = bus
            .consumers(GROUP, shutdown.clone())
            .with_options(quick_options());
        listener
            .listen(
                seen.clone(),
                |event: TicketCreated, seen: Seen<_>| async move {
                    // Long enough for the other replica's pull to be served meanwhile.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    seen.push(event.id);
                    Ok(())
                },
            )
            .await
            .expect("listens");
        replicas.push(listener);
    }

    let publisher = connect(&nats).await.publisher();
    let mut published = Vec::new();
    for n in 0..30 {
        let event = ticket_created(&format!("ticket {n}"));
        publisher.publish(&event).await.expect("published");
        published.push(event.id);
    }

    seen.wait_for(30).await;
    nats.wait_consumer_idle(TICKET_CREATED_CONSUMER, DEADLINE)
        .await;
    let mut handled = seen.all();
    handled.sort();
    published.sort();
    assert_eq!(handled, published, "each event handled exactly once");
    let per_replica: Vec<u64> = replicas.iter().map(|r| r.stats().handled()).collect();
    assert_eq!(per_replica.iter().sum::<u64>(), 30, "{per_replica:?}");
    shutdown.cancel();
    for listener in replicas {
        listener.join().await;
    }
}

#[tokio::test]
async fn consumers_resume_after_nats_restarts() {
    resume_after_restart(false).await;
}

#[tokio::test]
async fn a_nats_that_lost_its_store_gets_the_stream_and_consumers_back() {
    resume_after_restart(true).await;
}

/// NATS restarts under a listener with work behind it (keeping its store or, as a server whose
/// volume was lost, without it): the next event is published and handled once it is back.
async fn resume_after_restart(lose_store: bool) {
    let mut nats = TestNats::start().await;
    let (bus, shutdown, listener, seen) = titles_seen_before_a_restart(&nats).await;
    let publisher = bus.publisher();

    nats.stop().await;
    if lose_store {
        nats.start_again_without_store().await;
    } else {
        nats.start_again().await;
    }

    let after = ticket_created("after");
    eventually("a publish once NATS is back", DEADLINE, || async {
        publisher
            .publish_with_id("after-restart", &after)
            .await
            .ok()
    })
    .await;
    assert_eq!(seen.wait_for(2).await, ["before", "after"]);
    nats.wait_consumer_idle(TICKET_CREATED_CONSUMER, DEADLINE)
        .await;
    shutdown.cancel();
    listener.join().await;
}

#[tokio::test]
async fn shutdown_lets_the_handler_in_flight_finish_and_ack() {
    let (nats, bus, shutdown, mut listener) = listening().await;
    let started = Arc::new(tokio::sync::Notify::new());
    let finished = Arc::new(AtomicBool::new(false));
    listener
        .listen(
            (started.clone(), finished.clone()),
            |_: TicketCreated, (started, finished): (Arc<tokio::sync::Notify>, Arc<AtomicBool>)| async move {
                started.notify_one();
                // Work that is still running when shutdown is requested.
                tokio::time::sleep(Duration::from_millis(300)).await;
                finished.store(true, Ordering::SeqCst);
                Ok(())
            },
        )
        .await
        .expect("listens");

    bus.publisher()
        .publish(&ticket_created("slow"))
        .await
        .expect("published");
    tokio::time::timeout(DEADLINE, started.notified())
        .await
        .expect("the handler starts");
    shutdown.cancel();
    tokio::time::timeout(DEADLINE, listener.join())
        .await
        .expect("the listener stops");

    assert!(
        finished.load(Ordering::SeqCst),
        "the handler ran to its end"
    );
    let info = nats
        .consumer_info(TICKET_CREATED_CONSUMER)
        .await
        .expect("consumer exists");
    assert_eq!(
        (info.num_pending, info.num_ack_pending),
        (0, 0),
        "and its delivery was acked"
    );
}

#[tokio::test]
async fn a_slow_delivery_does_not_hold_up_the_ones_behind_it_and_shutdown_settles_all() {
    let (nats, bus, shutdown, mut listener) = listening().await;
    let released = Arc::new(tokio::sync::Notify::new());
    let seen = Seen::<String>::default();
    listener
        .listen(
            (released.clone(), seen.clone()),
            |event: TicketCreated, (released, seen): (Arc<tokio::sync::Notify>, Seen<String>)| async move {
                if event.title == "slow" {
                    // Held until the test lets it go: one at a time, nothing behind it would run.
                    let _ = tokio::time::timeout(DEADLINE, released.notified()).await;
                }
                seen.push(event.title);
                Ok(())
            },
        )
        .await
        .expect("listens");

    let publisher = bus.publisher();
    for title in ["slow", "second", "third"] {
        publisher
            .publish(&ticket_created(title))
            .await
            .expect("published");
    }
    let mut first_two = seen.wait_for(2).await;
    first_two.sort();
    assert_eq!(
        first_two,
        ["second", "third"],
        "handled while the first is still being handled"
    );

    // Stopping with the slow one still in hand: it is finished and acked before the task ends.
    shutdown.cancel();
    released.notify_one();
    tokio::time::timeout(DEADLINE, listener.join())
        .await
        .expect("the listener stops");
    let all = seen.all();
    assert_eq!(
        (all.len(), all.last().map(String::as_str)),
        (3, Some("slow"))
    );
    nats.wait_consumer_idle(TICKET_CREATED_CONSUMER, DEADLINE)
        .await;
}

#[tokio::test]
async fn a_new_release_with_other_settings_updates_the_durable_consumer() {
    let nats = TestNats::start().await;
    let bus = connect(&nats).await;
    let shutdown = CancellationToken::new();
    let noop = |_: TicketCreated, (): ()| async { Ok(()) };
    let mut old = bus.consumers(GROUP, shutdown.clone());
    old.listen((), noop).await.expect("listens");
    let mut new =
        bus.consumers(GROUP, shutdown.clone())
            .with_options(common::events::ConsumerOptions {
                ack_wait: Duration::from_secs(7),
                max_deliver: 5,
                ..quick_options()
            });
    new.listen((), noop)
        .await
        .expect("the existing consumer is updated");
    let info = nats
        .consumer_info(TICKET_CREATED_CONSUMER)
        .await
        .expect("exists");
    assert_eq!(
        (info.config.ack_wait, info.config.max_deliver),
        (Duration::from_secs(7), 5)
    );
    shutdown.cancel();
    old.join().await;
    new.join().await;
}

#[test]
fn a_body_can_only_be_published_on_its_own_subject() {
    fn subject_of<E: common::events::Event>(_: &E) -> Subject {
        E::SUBJECT
    }
    assert_eq!(subject_of(&ticket_created("x")), Subject::TicketCreated);
    assert_eq!(subject_of(&order_cancelled(1)), Subject::OrderCancelled);
}

/// The set-up of the restart tests: a listener recording ticket titles, and one event ("before")
/// published and handled, so a restart happens with a consumer that has work behind it.
async fn titles_seen_before_a_restart(
    nats: &TestNats,
) -> (
    common::events::Nats,
    CancellationToken,
    common::events::Consumers,
    Seen<String>,
) {
    let bus = connect(nats).await;
    let shutdown = CancellationToken::new();
    let seen = Seen::<String>::default();
    let mut listener = bus
        .consumers(GROUP, shutdown.clone())
        .with_options(quick_options());
    listener
        .listen(
            seen.clone(),
            |event: TicketCreated, seen: Seen<_>| async move {
                seen.push(event.title);
                Ok(())
            },
        )
        .await
        .expect("listens");
    bus.publisher()
        .publish(&ticket_created("before"))
        .await
        .expect("published");
    seen.wait_for(1).await;
    (bus, shutdown, listener, seen)
}
