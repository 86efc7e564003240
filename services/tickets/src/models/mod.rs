//! The service's documents and their queries.

pub mod ticket;
