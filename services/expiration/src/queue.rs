//! The delayed-job queue: one job per order, due at the order's `expiresAt`, kept in Redis.
//!
//! # Why our own queue and not a crate
//!
//! The original uses Bull (a Node job queue on Redis) with `delay: expiresAt - now`. The closest
//! maintained Rust crate, `apalis-redis` 1.0, is a whole job framework: it brings `apalis-core`
//! (workers, monitors, codecs, task contexts), ULID task ids, and re-delivers a crashed worker's
//! tasks through worker heartbeats and an orphan sweep rather than a per-job lease. What this
//! service needs is far smaller and has to be exact: *one* job per order id (a redelivered
//! `order:created` must not add a second), a due time in milliseconds, and at-least-once firing
//! across replicas and crashes. Four short Lua scripts over two sorted sets do precisely that,
//! with nothing to configure, and are tested here against a real Redis.
//!
//! # Design
//!
//! Keys (all under a configurable prefix, `REDIS_PREFIX`, default `expiration`):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `<prefix>:due` | sorted set | job id → due time (ms since the Unix epoch) |
//! | `<prefix>:processing` | sorted set | job id → lease deadline (ms) of the worker that claimed it |
//! | `<prefix>:fired:<job id>` | string with a TTL | the job was completed ([`FIRED_MEMORY`]) |
//! | `<prefix>:traces` | hash | job id → the `traceparent` of the `order:created` that scheduled it |
//!
//! - [`JobQueue::schedule`] adds the job to `due` unless it is already there (`ZADD NX`), being
//!   worked on, or recently fired — all in one script, so a duplicate or redelivered
//!   `order:created` never makes a second job, however the calls interleave. A new job remembers
//!   the trace it was scheduled in, and the claim hands it back, so the `expiration:complete` it
//!   fires minutes later belongs to the purchase's trace.
//! - [`JobQueue::claim_due`] atomically moves every job due by `now` from `due` to `processing`
//!   with a lease deadline, and also re-claims jobs in `processing` whose lease has run out (their
//!   worker died between claiming and completing). Redis runs a script alone, so two replicas
//!   polling at the same instant never claim the same job while its lease holds.
//! - After publishing, [`JobQueue::complete`] removes the job from `processing` and sets the
//!   `fired` marker; if publishing failed, [`JobQueue::retry_at`] puts it back into `due`.
//!
//! Firing is therefore *at least once*: a worker that dies after publishing but before
//! completing leaves the job to be re-claimed when its lease expires, and it is published again.
//! The publisher gives every `expiration:complete` the message id `expiration:<orderId>`, so
//! JetStream drops such a second copy (inside its duplicate window); beyond that, orders handles
//! `expiration:complete` idempotently.
//!
//! Times are milliseconds since the Unix epoch passed in by the caller (the worker uses its own
//! clock; `expiresAt` comes from the orders service's clock, so the hosts' clocks should agree,
//! as NTP makes them). Passing `now` explicitly also lets the tests move time at will.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};

/// How long a claim holds a job before another worker may take it over: how late the jobs a
/// killed worker had claimed fire, when another worker runs (measured on `stack.sh up --ha`: a
/// 30 s lease made them 30 s late). Publishing takes at most the publisher's ack timeout (5 s),
/// so a live worker completes inside it; should one not (Redis slow to take the completion), the
/// job is published a second time under the same message id and JetStream drops the copy.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(6);

/// How long a fired job is remembered, so an `order:created` redelivered after its job fired
/// (an ack lost, a consumer reset) does not schedule it again.
pub const FIRED_MEMORY: Duration = Duration::from_secs(24 * 60 * 60);

/// How long one Redis command may take before it counts as failed.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What [`JobQueue::schedule`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduled {
    /// A new job.
    Added,
    /// The job was already waiting; its due time is unchanged.
    AlreadyDue,
    /// A worker is firing the job right now.
    InProgress,
    /// The job fired within [`FIRED_MEMORY`].
    AlreadyFired,
}

const SCHEDULE: &str = r"
-- KEYS: due, processing, fired marker, traces; ARGV: job id, due (ms), traceparent ('' for none)
if redis.call('EXISTS', KEYS[3]) == 1 then return 'fired' end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 'in-progress' end
if redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1]) == 1 then
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[4], ARGV[1], ARGV[3]) end
  return 'added'
end
return 'due'
";

const CLAIM: &str = r"
-- KEYS: due, processing, traces; ARGV: now (ms), lease deadline (ms), most jobs to claim, lease (ms)
-- Returns job, time (ms), traceparent ('' for none), job, …; the time is when a due job fell due;
-- for a job taken over from a dead worker, when that worker claimed it (its lease deadline minus
-- the lease), which is no earlier than it fell due.
local now = ARGV[1]
local limit = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
local claimed = {}
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #lapsed, 2 do
  table.insert(claimed, lapsed[i])
  table.insert(claimed, tonumber(lapsed[i + 1]) - lease)
end
if #claimed / 2 < limit then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit - #claimed / 2)
  for i = 1, #due, 2 do
    redis.call('ZREM', KEYS[1], due[i])
    table.insert(claimed, due[i])
    table.insert(claimed, tonumber(due[i + 1]))
  end
end
local jobs = {}
for i = 1, #claimed, 2 do
  redis.call('ZADD', KEYS[2], ARGV[2], claimed[i])
  table.insert(jobs, claimed[i])
  table.insert(jobs, claimed[i + 1])
  table.insert(jobs, redis.call('HGET', KEYS[3], claimed[i]) or '')
end
return jobs
";

const COMPLETE: &str = r"
-- KEYS: processing, fired marker, traces; ARGV: job id, fired memory (ms)
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])
";

const RETRY: &str = r"
-- KEYS: due, processing; ARGV: job id, due (ms)
-- Only a job still being worked on goes back: a completed one must not come back to life.
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  return 1
end
return 0
";

/// A job claimed by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: String,
    /// When it fell due (ms); for a job taken over from a dead worker, when that worker claimed
    /// it. The worker reports its lateness from this.
    pub due_ms: i64,
    /// The trace of the `order:created` that scheduled it.
    pub traceparent: Option<String>,
}

/// The queue, cheap to clone (one multiplexed connection that reconnects by itself).
#[derive(Clone)]
pub struct JobQueue {
    connection: ConnectionManager,
    keys: Keys,
    lease: Duration,
    scripts: Scripts,
}

#[derive(Clone)]
struct Keys {
    prefix: String,
    due: String,
    processing: String,
    traces: String,
}

impl Keys {
    fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            due: format!("{prefix}:due"),
            processing: format!("{prefix}:processing"),
            traces: format!("{prefix}:traces"),
        }
    }

    fn fired(&self, job: &str) -> String {
        format!("{}:fired:{job}", self.prefix)
    }
}

/// `Script` hashes its source once; cloning the queue shares them.
#[derive(Clone)]
struct Scripts {
    schedule: std::sync::Arc<Script>,
    claim: std::sync::Arc<Script>,
    complete: std::sync::Arc<Script>,
    retry: std::sync::Arc<Script>,
}

impl Scripts {
    fn new() -> Self {
        Self {
            schedule: Script::new(SCHEDULE).into(),
            claim: Script::new(CLAIM).into(),
            complete: Script::new(COMPLETE).into(),
            retry: Script::new(RETRY).into(),
        }
    }
}

impl JobQueue {
    /// Connects to `url` (`redis://host:port[/db]`) and keeps its keys under `prefix`. Fails if
    /// Redis cannot be reached now; once connected, the connection is re-established by itself
    /// after an outage (commands fail meanwhile, and are retried by their callers).
    pub async fn connect(url: &str, prefix: &str) -> RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            connection,
            keys: Keys::new(prefix),
            lease: DEFAULT_LEASE,
            scripts: Scripts::new(),
        })
    }

    /// The same queue with another lease (tests shorten it).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Schedules `job` due at `due_ms`, once (see [`Scheduled`]), in the trace of the current
    /// span.
    pub async fn schedule(&self, job: &str, due_ms: i64) -> RedisResult<Scheduled> {
        let outcome: String = self
            .scripts
            .schedule
            .key(&self.keys.due)
            .key(&self.keys.processing)
            .key(self.keys.fired(job))
            .key(&self.keys.traces)
            .arg(job)
            .arg(due_ms)
            .arg(common::telemetry::traceparent().unwrap_or_default())
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(match outcome.as_str() {
            "added" => Scheduled::Added,
            "in-progress" => Scheduled::InProgress,
            "fired" => Scheduled::AlreadyFired,
            _ => Scheduled::AlreadyDue,
        })
    }

    /// Claims up to `limit` jobs due by `now_ms` (or whose previous claim's lease ran out by then)
    /// for this caller, until `now_ms` + the lease.
    pub async fn claim_due(&self, now_ms: i64, limit: usize) -> RedisResult<Vec<String>> {
        let claimed = self.claim(now_ms, limit).await?;
        Ok(claimed.into_iter().map(|job| job.id).collect())
    }

    /// [`JobQueue::claim_due`], with what the worker needs to fire each job (see [`Claimed`]).
    pub async fn claim(&self, now_ms: i64, limit: usize) -> RedisResult<Vec<Claimed>> {
        let lease_ms = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        let claimed: Vec<(String, i64, String)> = self
            .scripts
            .claim
            .key(&self.keys.due)
            .key(&self.keys.processing)
            .key(&self.keys.traces)
            .arg(now_ms)
            .arg(now_ms.saturating_add(lease_ms))
            .arg(limit)
            .arg(lease_ms)
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(claimed
            .into_iter()
            .map(|(id, due_ms, traceparent)| Claimed {
                id,
                due_ms,
                traceparent: Some(traceparent).filter(|value| !value.is_empty()),
            })
            .collect())
    }

    /// Marks a claimed job done. Returns whether this caller still held it (false when its lease
    /// had run out and another worker completed it first).
    pub async fn complete(&self, job: &str) -> RedisResult<bool> {
        let memory_ms = i64::try_from(FIRED_MEMORY.as_millis()).unwrap_or(i64::MAX);
        let removed: i64 = self
            .scripts
            .complete
            .key(&self.keys.processing)
            .key(self.keys.fired(job))
            .key(&self.keys.traces)
            .arg(job)
            .arg(memory_ms)
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(removed == 1)
    }

    /// Gives a claimed job back, due again at `due_ms` (publishing it failed).
    pub async fn retry_at(&self, job: &str, due_ms: i64) -> RedisResult<bool> {
        let moved: i64 = self
            .scripts
            .retry
            .key(&self.keys.due)
            .key(&self.keys.processing)
            .arg(job)
            .arg(due_ms)
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(moved == 1)
    }

    /// When `job` is due, if it is waiting.
    pub async fn due_at(&self, job: &str) -> RedisResult<Option<i64>> {
        redis::cmd("ZSCORE")
            .arg(&self.keys.due)
            .arg(job)
            .query_async(&mut self.connection.clone())
            .await
    }

    /// Jobs waiting and jobs being worked on.
    pub async fn counts(&self) -> RedisResult<(u64, u64)> {
        redis::pipe()
            .cmd("ZCARD")
            .arg(&self.keys.due)
            .cmd("ZCARD")
            .arg(&self.keys.processing)
            .query_async(&mut self.connection.clone())
            .await
    }

    /// Redis answers (readiness).
    pub async fn ping(&self) -> RedisResult<()> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.connection.clone())
            .await
            .map(drop)
    }
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
