//! Black-box tests of the client: its pages rendered against a stand-in ingress that records what
//! the client forwarded and answers with canned API JSON.

mod assets;
mod auth_pages;
mod config;
mod errors;
mod helpers;
mod landing;
mod metrics;
mod orders;
mod tickets;
