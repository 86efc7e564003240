//! One file per page.

pub mod api_docs;
pub mod landing;
pub mod my_orders;
pub mod needs_script;
pub mod new_ticket;
pub mod not_found;
pub mod show_order;
pub mod show_ticket;
pub mod signin;
pub mod signout;
pub mod signup;
