//! The Redis queue on its own: scheduling once, atomic claims, leases, completion. Time is passed
//! in explicitly, so lease expiry is tested without waiting for it.

use std::collections::HashSet;
use std::time::Duration;

use expiration::queue::{Claimed, JobQueue, Scheduled};
use test_support::redis::TestRedis;
use tracing::Instrument as _;

const ORDER_A: &str = "5f9d88b9c2b4a1a2b3c4d5e6";
const ORDER_B: &str = "5f9d88b9c2b4a1a2b3c4d5e7";

async fn queue(redis: &TestRedis) -> JobQueue {
    JobQueue::connect(&redis.url(), "expiration")
        .await
        .expect("connects to redis")
}

#[tokio::test]
async fn a_job_is_scheduled_once_and_keeps_its_first_due_time() {
    let redis = TestRedis::start().await;
    let queue = queue(&redis).await;

    assert_eq!(
        queue.schedule(ORDER_A, 5_000).await.expect("schedules"),
        Scheduled::Added
    );
    assert_eq!(
        queue.schedule(ORDER_A, 5_000).await.expect("schedules"),
        Scheduled::AlreadyDue
    );
    assert_eq!(
        queue.schedule(ORDER_A, 9_000).await.expect("schedules"),
        Scheduled::AlreadyDue
    );

    assert_eq!(queue.due_at(ORDER_A).await.expect("reads"), Some(5_000));
    assert_eq!(queue.counts().await.expect("counts"), (1, 0));
}

#[tokio::test]
async fn only_due_jobs_are_claimed_and_each_once() {
    let redis = TestRedis::start().await;
    let queue = queue(&redis).await;
    queue.schedule(ORDER_A, 1_000).await.expect("schedules");
    queue.schedule(ORDER_B, 2_000).await.expect("schedules");

    assert_eq!(
        queue.claim_due(999, 10).await.expect("claims"),
        Vec::<String>::new()
    );
    assert_eq!(queue.claim_due(1_500, 10).await.expect("claims"), [ORDER_A]);
    assert_eq!(
        queue.claim_due(1_500, 10).await.expect("claims"),
        Vec::<String>::new()
    );
    assert_eq!(queue.claim_due(2_000, 10).await.expect("claims"), [ORDER_B]);
    assert_eq!(queue.counts().await.expect("counts"), (0, 2));
}

#[tokio::test]
async fn claims_respect_their_limit() {
    let redis = TestRedis::start().await;
    let queue = queue(&redis).await;
    for due in 0..5 {
        queue
            .schedule(&format!("job-{due}"), due)
            .await
            .expect("schedules");
    }

    assert_eq!(
        queue.claim_due(100, 2).await.expect("claims"),
        ["job-0", "job-1"]
    );
    assert_eq!(
        queue.claim_due(100, 2).await.expect("claims"),
        ["job-2", "job-3"]
    );
    assert_eq!(queue.claim_due(100, 2).await.expect("claims"), ["job-4"]);
}

#[tokio::test]
async fn concurrent_claims_never_hand_out_a_job_twice() {
    let redis = TestRedis::start().await;
    let setup = queue(&redis).await;
    let jobs: HashSet<String> = (0..300).map(|n| format!("job-{n:03}")).collect();
    for job in &jobs {
        setup.schedule(job, 0).await.expect("schedules");
    }

    // Eight workers, each with its own connection, racing to drain the queue in small batches.
    let mut workers = Vec::new();
    for _ in 0..8 {
        let queue = queue(&redis).await;
        workers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let batch = queue.claim_due(1_000, 3).await.expect("claims");
                if batch.is_empty() {
                    return claimed;
                }
                claimed.extend(batch);
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.expect("worker finishes"));
    }

    let distinct: HashSet<String> = all.iter().cloned().collect();
    assert_eq!(all.len(), jobs.len(), "every job claimed exactly once");
    assert_eq!(distinct, jobs);
}

#[tokio::test]
async fn a_claim_whose_lease_runs_out_is_handed_out_again() {
    let redis = TestRedis::start().await;
    let queue = queue(&redis).await.with_lease(Duration::from_millis(1_000));
    queue.schedule(ORDER_A, 0).await.expect("schedules");

    assert_eq!(queue.claim_due(100, 10).await.expect("claims"), [ORDER_A]);
    // The worker that claimed it "died": while its lease holds, nobody else gets the job...
    assert_eq!(
        queue.claim_due(1_099, 10).await.expect("claims"),
        Vec::<String>::new()
    );
    // ...and once the lease is over, the next poll gets it, with a fresh lease.
    assert_eq!(queue.claim_due(1_100, 10).await.expect("claims"), [ORDER_A]);
    assert_eq!(
        queue.claim_due(2_099, 10).await.expect("claims"),
        Vec::<String>::new()
    );

    assert!(queue.complete(ORDER_A).await.expect("completes"));
    assert_eq!(
        queue.claim_due(60_000, 10).await.expect("claims"),
        Vec::<String>::new()
    );
    assert_eq!(queue.counts().await.expect("counts"), (0, 0));
}

#[tokio::test]
async fn a_job_in_progress_or_fired_is_not_scheduled_again() {
    let redis = TestRedis::start().await;
    let queue = queue(&redis).await;
    queue.schedule(ORDER_A, 0).await.expect("schedules");
    queue.claim_due(10, 10).await.expect("claims");

    assert_eq!(
        queue.schedule(ORDER_A, 0).await.expect("schedules"),
        Scheduled::InProgress
    );
    assert!(queue.complete(ORDER_A).await.expect("completes"));
    assert_eq!(
        queue.schedule(ORDER_A, 0).await.expect("schedules"),
        Scheduled::AlreadyFired
    );
    assert_eq!(queue.counts().await.expect("counts"), (0, 0));
    // A late second completion (a worker whose lease ran out) changes nothing.
    assert!(!queue.complete(ORDER_A).await.expect("completes"));
}

#[tokio::test]
async fn a_job_given_back_is_due_again_but_a_completed_one_stays_done() {
    let redis = TestRedis::start().await;
    let queue = queue(&redis).await;
    queue.schedule(ORDER_A, 0).await.expect("schedules");
    queue.claim_due(10, 10).await.expect("claims");

    assert!(queue.retry_at(ORDER_A, 3_000).await.expect("gives back"));
    assert_eq!(queue.due_at(ORDER_A).await.expect("reads"), Some(3_000));
    assert_eq!(
        queue.claim_due(2_999, 10).await.expect("claims"),
        Vec::<String>::new()
    );
    assert_eq!(queue.claim_due(3_000, 10).await.expect("claims"), [ORDER_A]);

    assert!(queue.complete(ORDER_A).await.expect("completes"));
    assert!(!queue.retry_at(ORDER_A, 4_000).await.expect("gives back"));
    assert_eq!(queue.counts().await.expect("counts"), (0, 0));
}

#[tokio::test]
async fn queues_with_different_prefixes_share_a_server_without_seeing_each_other() {
    let redis = TestRedis::start().await;
    let one = JobQueue::connect(&redis.url(), "one")
        .await
        .expect("connects");
    let two = JobQueue::connect(&redis.url(), "two")
        .await
        .expect("connects");
    one.schedule(ORDER_A, 0).await.expect("schedules");

    assert_eq!(
        two.claim_due(10, 10).await.expect("claims"),
        Vec::<String>::new()
    );
    assert_eq!(
        two.schedule(ORDER_A, 0).await.expect("schedules"),
        Scheduled::Added
    );
    assert_eq!(one.claim_due(10, 10).await.expect("claims"), [ORDER_A]);
    assert_eq!(two.claim_due(10, 10).await.expect("claims"), [ORDER_A]);

    let mut connection = redis.connection().await;
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut connection)
        .await
        .expect("lists keys");
    keys.sort();
    assert_eq!(keys, ["one:processing", "two:processing"]);
}

/// A job keeps the trace it was scheduled in (the `order:created` delivery's), and hands it back
/// with the claim however much later, for the `expiration:complete` it fires; a job scheduled
/// outside any trace has none. Completing a job forgets its trace with it.
#[tokio::test]
async fn a_job_keeps_the_trace_it_was_scheduled_in() {
    let redis = TestRedis::start().await;
    let queue = queue(&redis).await;
    let settings = common::telemetry::Settings {
        json: true,
        export: false,
    };
    let (subscriber, _telemetry) =
        common::telemetry::subscriber("expiration-test", settings, std::io::sink);
    let _logging = tracing::subscriber::set_default(subscriber);

    let delivery = tracing::info_span!("process");
    common::telemetry::set_parent(
        &delivery,
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    );
    let scheduled_in = common::telemetry::traceparent_of(&delivery).expect("traced");
    queue
        .schedule(ORDER_A, 1_000)
        .instrument(delivery)
        .await
        .expect("schedules");
    queue.schedule(ORDER_B, 1_000).await.expect("schedules");

    let mut claimed = queue.claim(5_000, 10).await.expect("claims");
    claimed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        claimed,
        [
            Claimed {
                id: ORDER_A.to_owned(),
                due_ms: 1_000,
                traceparent: Some(scheduled_in),
            },
            Claimed {
                id: ORDER_B.to_owned(),
                due_ms: 1_000,
                traceparent: None,
            },
        ]
    );

    assert!(queue.complete(ORDER_A).await.expect("completes"));
    let mut redis_client = redis::Client::open(redis.url())
        .expect("a redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("connects");
    let traces: i64 = redis::cmd("HLEN")
        .arg("expiration:traces")
        .query_async(&mut redis_client)
        .await
        .expect("reads");
    assert_eq!(traces, 0, "the completed job's trace is forgotten");
}
