//! One module per route.

pub mod current_user;
pub mod signin;
pub mod signout;
pub mod signup;
