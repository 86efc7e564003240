//! Charging a card through Stripe, at most once per order and card.
//!
//! **Charges, not PaymentIntents.** The original charges the client's card token with
//! `stripe.charges.create({currency: 'usd', amount, source: token})`, and its client (Stripe
//! Checkout, or the test token `tok_visa`) produces exactly such tokens; the Charges API takes
//! them as they are, so the wire exchange stays the original's. A PaymentIntent would need a
//! PaymentMethod (and possibly a 3-D Secure round trip with the browser) that this flow does not
//! have.
//!
//! **Idempotency key.** Every charge carries `Idempotency-Key: payments-<sha256(orderId:token)>`
//! ([`idempotency_key`]). A retried request — by this service after a lost response, or by the
//! user after a lost 500 — therefore reaches Stripe with the same key and the same parameters, and
//! Stripe answers with the first charge instead of making a second. A different card is a
//! different token, hence a new key: after a decline (which Stripe also stores under its key) the
//! user can pay with another card. The key is a hash so the card token never appears in logs.
//!
//! **Amounts** are integer cents computed from the price's decimal digits
//! ([`amount_in_cents`]), never `price * 100` in floating point (`19.99 * 100` is
//! `1998.9999999999998`).
//!
//! **Refunds** of charges that did not become an order's payment ([`Stripe::refund`]) carry the
//! key `refund-<charge id>`: a refund retried after a crash or a lost answer is the same refund.
//!
//! The client is `async-stripe` 1.0 (Charges and Refunds APIs only), whose base URL is configurable
//! (`STRIPE_API_BASE`: the tests' and the offline stack's stand-in) and which sends the
//! idempotency key through its `RequestStrategy::Idempotent`.

use std::collections::HashMap;
use std::time::Duration;

use bson::oid::ObjectId;
use sha2::{Digest, Sha256};
use stripe::{
    ApiErrorsCode, ApiErrorsType, Client, ClientBuilder, IdempotencyKey, RequestStrategy,
    StripeError, StripeRequest as _,
};
use stripe_core::charge::CreateCharge;
use stripe_core::refund::{CreateRefund, CreateRefundReason};
use stripe_types::Currency;

/// How long one attempt may take before it counts as lost. With the retries' pauses, a charge
/// takes at most `ATTEMPTS` of these plus 1.5 s (see `common::service::Tuning::attempt_lease`).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts per charge when the exchange fails without an answer (all with the same key).
pub const ATTEMPTS: u32 = 4;

/// The Stripe client; cheap to clone.
#[derive(Clone)]
pub struct Stripe {
    client: Client,
}

/// Why a charge was not made.
#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    /// Stripe refused the card or the request for a reason the payer should see (a decline, an
    /// unknown token, an amount Stripe does not accept): a 400 with Stripe's message.
    #[error("{0}")]
    Rejected(String),
    /// Anything else (Stripe unreachable, our key refused, a response we cannot read). The charge
    /// may or may not have been made; a retry with the same key settles it.
    #[error(transparent)]
    Failed(anyhow::Error),
}

impl ChargeError {
    /// The error with the card token taken out of what gets logged: a failure's cause (only
    /// ever logged). A rejection's message goes back to the payer who sent the token, as Stripe
    /// wrote it; [`redact_token`] is for logging it.
    fn without_token(self, token: &str) -> Self {
        match self {
            Self::Failed(cause) => Self::Failed(anyhow::anyhow!(
                "{}",
                redact_token(&format!("{cause:#}"), token)
            )),
            rejected => rejected,
        }
    }
}

/// `text` with every occurrence of the card `token` replaced: tokens are never logged (Stripe's
/// messages echo them: "No such token: 'tok_…'").
pub fn redact_token(text: &str, token: &str) -> String {
    if token.is_empty() {
        return text.to_owned();
    }
    text.replace(token, "[card token]")
}

/// What to charge.
#[derive(Debug, Clone)]
pub struct ChargeRequest<'a> {
    pub order_id: ObjectId,
    pub amount_cents: i64,
    pub token: &'a str,
}

impl Stripe {
    /// A client for the secret key `key` at `api_base` (e.g. `https://api.stripe.com`).
    pub fn new(key: &str, api_base: &str) -> anyhow::Result<Self> {
        // async-stripe appends `v1/…` to the base as given: it must end with a slash.
        let base = format!("{}/", api_base.trim_end_matches('/'));
        let client = ClientBuilder::new(key)
            .url(base)
            .timeout(ATTEMPT_TIMEOUT)
            .app_info(
                "ticketing-payments",
                Some(env!("CARGO_PKG_VERSION").to_owned()),
                None,
            )
            .build()
            .map_err(|error| anyhow::anyhow!("cannot configure the Stripe client: {error}"))?;
        Ok(Self { client })
    }

    /// Charges the card `token` for the order, in US dollars; returns the charge id (`ch_…`).
    pub async fn charge(&self, request: &ChargeRequest<'_>) -> Result<String, ChargeError> {
        let key = idempotency_key(&request.order_id, request.token);
        let key = IdempotencyKey::new(&key)
            .map_err(|error| ChargeError::Failed(anyhow::anyhow!("{error:?}")))?;
        let create = CreateCharge::new()
            .amount(request.amount_cents)
            .currency(Currency::USD)
            .source(request.token)
            .metadata(HashMap::from([(
                "order_id".to_owned(),
                request.order_id.to_hex(),
            )]));
        let charge = retrying(request.order_id, "charge", || {
            create
                .customize()
                .request_strategy(RequestStrategy::Idempotent(key.clone()))
                .send(&self.client)
        })
        .await
        .map_err(classify)
        .map_err(|error| error.without_token(request.token));
        let outcome = match &charge {
            Ok(_) => "succeeded",
            Err(ChargeError::Rejected(_)) => "rejected",
            Err(ChargeError::Failed(_)) => "failed",
        };
        metrics::counter!("ticketing_payments_charges_total", "outcome" => outcome).increment(1);
        Ok(charge?.id.to_string())
    }

    /// Refunds the whole of charge `charge_id` (of order `order_id`), as a duplicate when
    /// `duplicate` (the order was paid by another charge) and as requested by the customer
    /// otherwise (the order was cancelled). Returns the refund id (`re_…`), or `None` when the
    /// charge had been refunded already by other means (the dashboard, say).
    pub async fn refund(
        &self,
        charge_id: &str,
        order_id: ObjectId,
        duplicate: bool,
    ) -> Result<Option<String>, ChargeError> {
        let key = IdempotencyKey::new(format!("refund-{charge_id}"))
            .map_err(|error| ChargeError::Failed(anyhow::anyhow!("{error:?}")))?;
        let reason = if duplicate {
            CreateRefundReason::Duplicate
        } else {
            CreateRefundReason::RequestedByCustomer
        };
        let create = CreateRefund::new()
            .charge(charge_id)
            .reason(reason)
            .metadata(HashMap::from([("order_id".to_owned(), order_id.to_hex())]));
        let sent = retrying(order_id, "refund", || {
            create
                .customize()
                .request_strategy(RequestStrategy::Idempotent(key.clone()))
                .send(&self.client)
        })
        .await;
        let refunded = match sent {
            Ok(refund) => Ok(Some(refund.id.to_string())),
            Err(StripeError::Stripe(api, 400))
                if api.code == Some(ApiErrorsCode::ChargeAlreadyRefunded) =>
            {
                Ok(None)
            }
            Err(error) => Err(classify(error)),
        };
        let outcome = match &refunded {
            Ok(Some(_)) => "refunded",
            Ok(None) => "already_refunded",
            Err(ChargeError::Rejected(_)) => "rejected",
            Err(ChargeError::Failed(_)) => "failed",
        };
        metrics::counter!("ticketing_payments_refunds_total", "outcome" => outcome).increment(1);
        refunded
    }
}

/// Sends the request `send` makes up to [`ATTEMPTS`] times while the answer is lost or its key
/// is busy in a twin request; the caller's idempotency key makes every resend the same request.
async fn retrying<T, F, Fut>(order_id: ObjectId, what: &str, send: F) -> Result<T, StripeError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, StripeError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match send().await {
            Ok(answer) => return Ok(answer),
            // No answer (the request may have been carried out), or the same key still executing
            // in another request: the same key makes asking again safe.
            Err(error) if attempt < ATTEMPTS && worth_retrying(&error) => {
                tracing::warn!(order = %order_id, attempt, %error, "retrying the Stripe {what} with the same idempotency key");
                tokio::time::sleep(Duration::from_millis(250) * attempt).await;
            }
            Err(error) => return Err(error),
        }
    }
}

fn worth_retrying(error: &StripeError) -> bool {
    match error {
        StripeError::ClientError(_) | StripeError::Timeout => true,
        StripeError::Stripe(api, 409) => api.code == Some(ApiErrorsCode::IdempotencyKeyInUse),
        _ => false,
    }
}

fn classify(error: StripeError) -> ChargeError {
    match error {
        StripeError::Stripe(api, status) => {
            let message = api.message.clone().unwrap_or_default();
            let payer_facing = match &api.type_ {
                ApiErrorsType::CardError => true,
                ApiErrorsType::InvalidRequestError => {
                    status == 400 && matches!(api.param.as_deref(), Some("source" | "amount"))
                }
                _ => false,
            };
            if payer_facing && !message.is_empty() {
                ChargeError::Rejected(message)
            } else {
                ChargeError::Failed(anyhow::anyhow!(
                    "Stripe answered {status}: {} {:?}: {message}",
                    api.type_.as_str(),
                    api.code
                ))
            }
        }
        other => ChargeError::Failed(anyhow::anyhow!("Stripe request failed: {other}")),
    }
}

/// `payments-` and the hex SHA-256 of `orderId:token`: the same order and card always give the
/// same key, a new card a new one.
pub fn idempotency_key(order_id: &ObjectId, token: &str) -> String {
    let digest = Sha256::digest(format!("{}:{token}", order_id.to_hex()).as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("payments-{hex}")
}

/// The price in integer cents, rounded half away from zero at the third decimal of its decimal
/// representation: 19.99 → 1999, 1.005 → 101, 20 → 2000. `None` for a negative, non-finite or
/// absurdly large price.
///
/// Rust prints an `f64` as the shortest decimal that reads back as the same number, and never
/// in exponent notation, so the digits are those of the price as it was written.
pub fn amount_in_cents(price: f64) -> Option<i64> {
    if !price.is_finite() || price < 0.0 {
        return None;
    }
    let text = price.to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let whole: i64 = whole.parse().ok()?;
    let digit = |index: usize| {
        fraction
            .as_bytes()
            .get(index)
            .map_or(0, |byte| i64::from(byte.saturating_sub(b'0')))
    };
    let cents = digit(0) * 10 + digit(1) + i64::from(digit(2) >= 5);
    whole.checked_mul(100)?.checked_add(cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_come_from_the_decimal_digits() {
        for (price, cents) in [
            (19.99, 1999),
            (20.0, 2000),
            (0.5, 50),
            (1.005, 101),
            (0.125, 13),
            (0.124, 12),
            (0.1 + 0.2, 30),
            (4.35, 435),
            (1_234_567.89, 123_456_789),
            (0.0, 0),
        ] {
            assert_eq!(amount_in_cents(price), Some(cents), "{price}");
        }
        // What `price * 100` truncation would get wrong.
        assert_eq!((19.99_f64 * 100.0) as i64, 1998);
        assert_eq!((4.35_f64 * 100.0) as i64, 434);
        for bad in [-1.0, f64::NAN, f64::INFINITY, 1e300] {
            assert_eq!(amount_in_cents(bad), None, "{bad}");
        }
    }

    #[test]
    fn idempotency_keys_depend_on_order_and_token_only() {
        let order = ObjectId::parse_str("5f9d88b9c2b4a1a2b3c4d5e6").expect("valid");
        let other = ObjectId::parse_str("5f9d88b9c2b4a1a2b3c4d5e7").expect("valid");
        let key = idempotency_key(&order, "tok_visa");
        assert_eq!(key, idempotency_key(&order, "tok_visa"));
        assert_ne!(key, idempotency_key(&order, "tok_mastercard"));
        assert_ne!(key, idempotency_key(&other, "tok_visa"));
        assert!(key.starts_with("payments-") && key.len() == 9 + 64, "{key}");
        assert!(!key.contains("tok_visa"));
    }
}
