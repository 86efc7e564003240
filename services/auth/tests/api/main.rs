//! Black-box tests of the auth service against a real MongoDB.

mod config;
mod current_user;
mod errors;
mod helpers;
mod limits;
mod metrics;
mod signin;
mod signout;
mod signup;
