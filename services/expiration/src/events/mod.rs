//! The one event this service listens to, `order:created`; what it publishes,
//! `expiration:complete`, is sent by the [`crate::worker`] when a job falls due.

pub mod order_created;
