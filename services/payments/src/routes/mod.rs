//! One module per route.

pub mod create_payment;
