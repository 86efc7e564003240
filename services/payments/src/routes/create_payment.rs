//! `POST /api/payments {token, orderId}` (signed in) → 201 `{id, orderId, stripeId}`.
//!
//! Checks, in the original's order: signed in (401), both fields present (400, per field; an
//! `orderId` that is not an ObjectId cannot name an order and is reported as `OrderId is
//! required` too), the order exists in the replica (404), belongs to the caller (401), is not
//! cancelled (400 `Cannot pay for an cancelled order`, sic), not paid yet (400 `Order has
//! already been paid`) and its time to pay has not run out (400 `Cannot pay for an expired
//! order`: at or after `expiresAt`, or once payments has declared it expired).
//!
//! Then, so that no order is charged twice and no charge is lost:
//!
//! 1. **Take an attempt** on the order replica (`models::order::take_for_attempt`), written
//!    *before* Stripe is called: only before `expiresAt`, only while no other attempt is in
//!    flight (another card gets 400 `A payment for this order is already in progress`); the same
//!    card may take it again (a retry of the same request).
//! 2. **Charge** through Stripe with the idempotency key of (order, token) (`charges`), outside
//!    any transaction.
//! 3. **Settle** (`Store`): a charge becomes the order's payment with `payment:created`, or
//!    — if the order was cancelled or paid meanwhile — a refund; a decline ends the attempt and
//!    is a 400 with Stripe's message. When Stripe could not be heard (a 500), the attempt stays:
//!    the same card may retry at once, and otherwise the reconciler (`reconciler`) settles it
//!    after its lease.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bson::DateTime;
use common::events::OrderStatus;
use common::validation::{Validator, field};
use common::{AppError, AppResult, JsonBody, JsonObject, RequireUser};

use crate::app::AppState;
use crate::charges::{ChargeError, ChargeRequest, amount_in_cents, idempotency_key};
use crate::models::order::{self, Attempt, Order};
use crate::models::payment::PaymentView;
use crate::models::refund::Reason;
use crate::store::Charged;

pub const TOKEN_REQUIRED: &str = "Token is required";
pub const ORDER_ID_REQUIRED: &str = "OrderId is required";
pub const MAX_TOKEN_CHARS: usize = 255;
pub const TOKEN_TOO_LONG: &str = "Token must be at most 255 characters";
pub const ORDER_CANCELLED: &str = "Cannot pay for an cancelled order";
pub const ALREADY_PAID: &str = "Order has already been paid";
pub const IN_PROGRESS: &str = "A payment for this order is already in progress";
pub const ORDER_EXPIRED: &str = "Cannot pay for an expired order";
pub const PRICE_NOT_CHARGEABLE: &str = "The price of this order cannot be charged";

#[utoipa::path(
    post,
    path = "/api/payments",
    operation_id = "createPayment",
    tag = "payments",
    security(("session" = [])),
    request_body = crate::openapi::NewPayment,
    responses(
        (status = 201, description = "Charged; the order is paid and `payment:created` is published",
            body = PaymentView),
        (status = 400, description = "A field is invalid, the order cannot be paid (cancelled, paid, \
            expired, another card's payment in progress) or Stripe declined the card",
            body = common::ErrorBody),
        (status = 401, description = "Not signed in, or not the order's owner", body = common::ErrorBody),
        (status = 404, description = "No such order", body = common::ErrorBody),
        (status = 500, description = "Stripe could not be heard: the same card may retry at once, \
            and the charge is otherwise settled by the reconciler", body = common::ErrorBody),
    ),
)]
pub async fn handler(
    State(state): State<AppState>,
    user: RequireUser,
    JsonBody(body): JsonBody<JsonObject>,
) -> AppResult<(StatusCode, Json<PaymentView>)> {
    let mut v = Validator::new();
    let token = v
        .required_string("token", field(&body, "token"), TOKEN_REQUIRED)
        .filter(|token| {
            // Stored with the attempt and sent to Stripe: bounded, as every stored string is.
            // (Stripe's tokens and source ids are a few dozen characters.)
            let bounded = token.chars().count() <= MAX_TOKEN_CHARS;
            if !bounded {
                v.reject("token", TOKEN_TOO_LONG);
            }
            bounded
        });
    let order_id = v.object_id("orderId", field(&body, "orderId"), ORDER_ID_REQUIRED);
    let (token, order_id) = v.finish((token, order_id))?;

    let order = order::find(&state.store.orders, order_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if order.user_id != user.id {
        return Err(AppError::NotAuthorized);
    }
    payable(&order, DateTime::now())?;
    // Tickets bounds prices where they enter; a replica written before that may still hold one
    // no card can be charged, which is the payer's 400, not our 500.
    let Some(amount_cents) = amount_in_cents(order.price) else {
        tracing::warn!(order = %order.id, price = order.price, "order price is not an amount of money");
        return Err(AppError::bad_request(PRICE_NOT_CHARGEABLE));
    };

    let key = idempotency_key(&order.id, &token);
    let now = DateTime::now();
    let attempt = Attempt::new(
        key.clone(),
        token.clone(),
        amount_cents,
        now,
        state.attempt_lease,
    );
    if !order::take_for_attempt(&state.store.orders, order.id, &attempt, now).await? {
        // Tell why: paid, cancelled or expired meanwhile, or another card's attempt in flight.
        let current = order::find(&state.store.orders, order.id)
            .await?
            .ok_or(AppError::NotFound)?;
        payable(&current, DateTime::now())?;
        return Err(AppError::bad_request(IN_PROGRESS));
    }

    let charged = state
        .stripe
        .charge(&ChargeRequest {
            order_id: order.id,
            amount_cents,
            token: &token,
        })
        .await;
    let charge_id = match charged {
        Ok(charge_id) => charge_id,
        Err(ChargeError::Rejected(message)) => {
            // Stripe said no, so nothing was charged: another card may try at once.
            state.store.uncharged(order.id, &key).await?;
            let logged = crate::charges::redact_token(&message, &token);
            tracing::info!(order = %order.id, stripe_message = %logged, "Stripe rejected the charge");
            return Err(AppError::BadRequest(message));
        }
        // The card may have been charged without our hearing of it: the attempt stays, for a
        // retry with this card or for the reconciler.
        Err(ChargeError::Failed(cause)) => return Err(AppError::Internal(cause)),
    };

    match state.store.charged(order.id, &key, &charge_id).await? {
        Charged::Paid(payment) => {
            tracing::info!(order = %order.id, payment = %payment.id, charge = %payment.stripe_id, amount_cents, "order paid");
            Ok((StatusCode::CREATED, Json(payment.view())))
        }
        // A twin of this request (same card, same key) recorded this very charge first.
        Charged::AlreadyPaid(_) => Err(AppError::bad_request(ALREADY_PAID)),
        Charged::Refunding(reason) => {
            tracing::info!(order = %order.id, charge = %charge_id, ?reason, "charged, but the order cannot take it; the charge is refunded");
            Err(AppError::bad_request(match reason {
                Reason::OrderCancelled => ORDER_CANCELLED,
                Reason::Duplicate => ALREADY_PAID,
            }))
        }
    }
}

/// Whether the order can be paid at `now`, as far as the replica knows.
fn payable(order: &Order, now: DateTime) -> AppResult<()> {
    if order.status == OrderStatus::Cancelled {
        return Err(AppError::bad_request(ORDER_CANCELLED));
    }
    if order.payment_id.is_some() {
        return Err(AppError::bad_request(ALREADY_PAID));
    }
    if order.is_past_due(now) {
        return Err(AppError::bad_request(ORDER_EXPIRED));
    }
    Ok(())
}
