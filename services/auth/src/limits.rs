//! Rate limits on signing in and up: guessing passwords costs the guesser, not other users.
//!
//! Every sign-in or sign-up hashes a password with argon2 (about 50 ms of a core), so unlimited
//! guessing both finds weak passwords and slows every other user's sign-in. Two limits, as
//! settings (see [`LimitSettings`]):
//!
//! - **per account**: sign-in attempts for one email (compared without case, as accounts are),
//!   [`LimitSettings::signins_per_account`] a minute, in a burst or spread. Attempts, not only
//!   failures, are counted, so that a limited account costs no hash at all; an honest user does
//!   not sign in ten times a minute.
//! - **per client address** (the peer, or the address the trusted ingress saw: see
//!   `common::http::ClientAddress`): sign-ins and sign-ups together,
//!   [`LimitSettings::requests_per_address`] a minute — many accounts guessed from one place.
//!   The default is high enough for a test suite or a load generator signing up hundreds of
//!   users a minute from one machine.
//!
//! A limited request is a 429 in the contract's shape with `Retry-After`, before any hashing.
//!
//! The limits are kept in each process (GCRA, `governor`): with several replicas behind a load
//! balancer a client gets up to replicas × the limit, which still bounds guessing to a handful a
//! minute per account. A shared store (Redis) would make them exact; the fleet's auth has none.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use common::AppError;
use common::config::{ConfigError, parsed_or};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Keys kept before the limiters forget those that are back to full (see `governor`'s
/// `retain_recent`).
const KEYS_BEFORE_SWEEP: usize = 100_000;

/// How much is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// `SIGNIN_ATTEMPTS_PER_ACCOUNT` (10): sign-in attempts per account per minute.
    pub signins_per_account: NonZeroU32,
    /// `AUTH_REQUESTS_PER_ADDRESS` (1200): sign-ins and sign-ups per client address per minute.
    pub requests_per_address: NonZeroU32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            signins_per_account: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            requests_per_address: NonZeroU32::new(1200).unwrap_or(NonZeroU32::MIN),
        }
    }
}

impl LimitSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            signins_per_account: parsed_or(
                "SIGNIN_ATTEMPTS_PER_ACCOUNT",
                defaults.signins_per_account,
            )?,
            requests_per_address: parsed_or(
                "AUTH_REQUESTS_PER_ADDRESS",
                defaults.requests_per_address,
            )?,
        })
    }
}

/// The limiters, shared by the routes.
#[derive(Clone)]
pub struct Limits {
    accounts: Arc<DefaultKeyedRateLimiter<String>>,
    addresses: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Self {
        Self {
            accounts: Arc::new(RateLimiter::keyed(Quota::per_minute(
                settings.signins_per_account,
            ))),
            addresses: Arc::new(RateLimiter::keyed(Quota::per_minute(
                settings.requests_per_address,
            ))),
        }
    }

    /// One more request from `address`, or a 429 saying when to come back.
    pub fn address(&self, address: IpAddr) -> Result<(), AppError> {
        check(&self.addresses, &address)
    }

    /// One more sign-in attempt for `email`, or a 429.
    pub fn account(&self, email: &str) -> Result<(), AppError> {
        check(&self.accounts, &email.to_lowercase())
    }
}

fn check<K>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), AppError>
where
    K: Clone + std::hash::Hash + Eq,
{
    if limiter.len() > KEYS_BEFORE_SWEEP {
        limiter.retain_recent();
    }
    limiter.check_key(key).map_err(|not_until| {
        AppError::TooManyRequests(not_until.wait_time_from(DefaultClock::default().now()))
    })
}
