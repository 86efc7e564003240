//! Request validation that reports every bad field at once, with the contract's messages.
//!
//! Bodies arrive as loosely typed JSON values; a [`Validator`] turns each field into the typed
//! value the route needs or records `{message, field}` for it, then [`Validator::finish`] fails
//! with all of them together, as express-validator does in the original.

use serde_json::Value;

use crate::error::{AppError, ErrorItem};
use crate::json::JsonObject;

#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<ErrorItem>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an error for `field`.
    pub fn reject(&mut self, field: &str, message: &str) {
        self.errors.push(ErrorItem::field(field, message));
    }

    /// A string field, trimmed; `None` (and an error) when it is absent, not a string, or fails
    /// `accept` after trimming.
    pub fn trimmed_string(
        &mut self,
        field: &str,
        value: Option<&Value>,
        message: &str,
        accept: impl FnOnce(&str) -> bool,
    ) -> Option<String> {
        match value.and_then(Value::as_str).map(str::trim) {
            Some(text) if accept(text) => Some(text.to_owned()),
            _ => {
                self.reject(field, message);
                None
            }
        }
    }

    /// A required, non-empty string (after trimming).
    pub fn required_string(
        &mut self,
        field: &str,
        value: Option<&Value>,
        message: &str,
    ) -> Option<String> {
        self.trimmed_string(field, value, message, |text| !text.is_empty())
    }

    /// An email address.
    pub fn email(&mut self, field: &str, value: Option<&Value>, message: &str) -> Option<String> {
        self.trimmed_string(field, value, message, is_email)
    }

    /// A number, or a string holding one (the original client sends prices as `"20.00"`), that
    /// is finite and strictly positive.
    pub fn positive_number(
        &mut self,
        field: &str,
        value: Option<&Value>,
        message: &str,
    ) -> Option<f64> {
        let number = match value {
            Some(Value::Number(number)) => number.as_f64(),
            Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
            _ => None,
        };
        match number {
            Some(number) if number.is_finite() && number > 0.0 => Some(number),
            _ => {
                self.reject(field, message);
                None
            }
        }
    }

    /// A MongoDB ObjectId given as its 24-hex string.
    pub fn object_id(
        &mut self,
        field: &str,
        value: Option<&Value>,
        message: &str,
    ) -> Option<bson::oid::ObjectId> {
        match value
            .and_then(Value::as_str)
            .and_then(|text| bson::oid::ObjectId::parse_str(text.trim()).ok())
        {
            Some(id) => Some(id),
            None => {
                self.reject(field, message);
                None
            }
        }
    }

    /// Fails with every recorded error, or hands back the validated `fields` (an `Option` or a
    /// tuple of them, as the checks above returned them) without their `Option`s:
    ///
    /// ```
    /// # use common::validation::{Validator, field};
    /// # let body = serde_json::json!({"title": "concert", "price": "20"});
    /// # let body = body.as_object().expect("an object");
    /// let mut v = Validator::new();
    /// let title = v.required_string("title", field(body, "title"), "Title is required");
    /// let price = v.positive_number("price", field(body, "price"), "Price must be greater than 0");
    /// let (title, price) = v.finish((title, price))?;
    /// # assert_eq!((title.as_str(), price), ("concert", 20.0));
    /// # Ok::<(), common::AppError>(())
    /// ```
    pub fn finish<F: Fields>(self, fields: F) -> Result<F::Valid, AppError> {
        if !self.errors.is_empty() {
            return Err(AppError::Validation(self.errors));
        }
        // Every check that returns `None` records an error, so this holds unless a check is wrong.
        fields.valid().ok_or_else(|| {
            AppError::internal(anyhow::anyhow!(
                "a field failed validation without an error"
            ))
        })
    }
}

/// What [`Validator::finish`] hands back: the checks' results without their `Option`s.
pub trait Fields {
    type Valid;
    fn valid(self) -> Option<Self::Valid>;
}

impl Fields for () {
    type Valid = ();
    fn valid(self) -> Option<()> {
        Some(())
    }
}

impl<A> Fields for Option<A> {
    type Valid = A;
    fn valid(self) -> Option<A> {
        self
    }
}

impl<A, B> Fields for (Option<A>, Option<B>) {
    type Valid = (A, B);
    fn valid(self) -> Option<(A, B)> {
        Some((self.0?, self.1?))
    }
}

/// The longest address mail can be sent to (RFC 5321's 256-octet path, less its angle brackets);
/// the parser below bounds only the local part (64) and the domain (255).
pub const MAX_EMAIL_LEN: usize = 254;

/// Whether `text` is a plausible email address (RFC 5322 address syntax, with a dotted domain as
/// express-validator's `isEmail` requires, at most [`MAX_EMAIL_LEN`] bytes).
pub fn is_email(text: &str) -> bool {
    if text.len() > MAX_EMAIL_LEN {
        return false;
    }
    let Ok(address) = email_address::EmailAddress::parse_with_options(
        text,
        email_address::Options::default().without_display_text(),
    ) else {
        return false;
    };
    let domain = address.domain();
    domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.starts_with('[')
}

/// A field of a JSON object body; `null` counts as absent.
pub fn field<'a>(body: &'a JsonObject, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|value| !value.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_error_before_failing() {
        let body = json!({"email": "nope", "password": 12});
        let body = body.as_object().expect("object");
        let mut v = Validator::new();
        assert_eq!(
            v.email("email", field(body, "email"), "Email must be valid"),
            None
        );
        assert_eq!(
            v.required_string("password", field(body, "password"), "bad"),
            None
        );
        let Err(AppError::Validation(items)) = v.finish(()) else {
            panic!("expected validation error");
        };
        assert_eq!(
            items,
            vec![
                ErrorItem::field("email", "Email must be valid"),
                ErrorItem::field("password", "bad")
            ]
        );
    }

    #[test]
    fn emails() {
        for good in ["a@b.co", "first.last+tag@example.com", " test@test.com "] {
            assert!(is_email(good.trim()), "{good}");
        }
        for bad in [
            "",
            "plain",
            "a@",
            "@b.co",
            "a@localhost",
            "a b@c.d",
            "A <a@b.co>",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        // Found by schemathesis: 255 characters, each part within its own bound.
        let label = "a".repeat(63);
        let longest = format!("0@{}.{label}.{label}.{}", "0".repeat(63), "a".repeat(60));
        assert_eq!(longest.len(), MAX_EMAIL_LEN);
        assert!(is_email(&longest));
        assert!(!is_email(&format!("{longest}a")));
    }

    #[test]
    fn prices_accept_numbers_and_numeric_strings() {
        let mut v = Validator::new();
        assert_eq!(
            v.positive_number("price", Some(&json!(20)), "m"),
            Some(20.0)
        );
        assert_eq!(
            v.positive_number("price", Some(&json!("20.00")), "m"),
            Some(20.0)
        );
        assert_eq!(
            v.positive_number("price", Some(&json!(" 9.5 ")), "m"),
            Some(9.5)
        );
        assert!(v.finish(()).is_ok());
        for bad in [
            json!(0),
            json!(-10),
            json!("abc"),
            json!("NaN"),
            json!("inf"),
            json!(true),
            json!(null),
        ] {
            let mut v = Validator::new();
            assert_eq!(v.positive_number("price", Some(&bad), "m"), None, "{bad}");
            assert!(v.finish(()).is_err());
        }
    }
}
