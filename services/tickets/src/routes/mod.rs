//! One module per route, and the ticket fields create and update share.

pub mod create;
pub mod index;
pub mod show;
pub mod update;

use common::validation::{Validator, field};
use common::{AppError, JsonObject};

pub const TITLE_REQUIRED: &str = "Title is required";
pub const PRICE_INVALID: &str = "Price must be greater than 0";
pub const TITLE_TOO_LONG: &str = "Title must be at most 200 characters";
pub const PRICE_TOO_HIGH: &str = "Price must be at most 1000000";

/// The longest title, in characters. Bounded where it enters so that every event and page
/// carrying it stays small: an unbounded title once made a `ticket:created` larger than NATS's
/// maximum payload, which could never be published.
pub const MAX_TITLE_CHARS: usize = 200;
/// The highest price, in dollars: its amount in cents must fit Stripe's integer amounts (and
/// an `i64`) with room to spare; `1e17` was once accepted here and made payment a 500.
pub const MAX_PRICE: f64 = 1_000_000.0;

/// `title` (non-empty, at most [`MAX_TITLE_CHARS`]) and `price` (a number or numeric string,
/// > 0 and at most [`MAX_PRICE`]), every error at once.
pub fn ticket_fields(body: &JsonObject) -> Result<(String, f64), AppError> {
    let mut v = Validator::new();
    let title = v
        .required_string("title", field(body, "title"), TITLE_REQUIRED)
        .filter(|title| {
            let short = title.chars().count() <= MAX_TITLE_CHARS;
            if !short {
                v.reject("title", TITLE_TOO_LONG);
            }
            short
        });
    let price = v
        .positive_number("price", field(body, "price"), PRICE_INVALID)
        .filter(|&price| {
            let low = price <= MAX_PRICE;
            if !low {
                v.reject("price", PRICE_TOO_HIGH);
            }
            low
        });
    v.finish((title, price))
}
