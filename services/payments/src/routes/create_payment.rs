//! `POST /api/payments {token, orderId}` (signed in) → 201 `{id, orderId, stripeId}`.
//!
//! Checks, in the original's order: signed in (401), both fields present (400, per field; an
//! `orderId` that is not an ObjectId cannot name an order and is reported as `OrderId is
//! required` too), the order exists in the replica (404), belongs to the caller (401), is not
//! cancelled (400 `Cannot pay for an cancelled order`, sic) and not paid yet (400 `Order has
//! already been paid`).
//!
//! Then, so that no order is charged twice:
//!
//! 1. **Claim** the order replica for this attempt (`models::order::claim`): an unpaid, live
//!    order with no other attempt in flight. The claim carries the attempt's Stripe idempotency
//!    key; the same key may re-claim (a retry of the same request), a different card waits until
//!    the attempt ends (400 `A payment for this order is already in progress`).
//! 2. **Charge** through Stripe with the idempotency key of (order, token) (`charges`). A
//!    declined card is a 400 with Stripe's message; the claim is released, nothing is stored or
//!    published, and another card may be tried. When Stripe could not be heard (a 500), the
//!    claim is kept until its lease lapses: the card may have been charged, and only a retry with
//!    the same card, which Stripe answers from its idempotency store, may go on.
//! 3. **Record** in one transaction: the payment (a unique index on `orderId`), the replica's
//!    `paymentId`, and the `payment:created` event in the outbox. Losing a race here is 400
//!    `Order has already been paid`: by then the winner holds the same charge (same key).
//!
//! If recording fails after Stripe charged, the claim is kept: the user's retry re-claims with the
//! same key, Stripe replays the same charge, and the payment is recorded then.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bson::doc;
use common::events::{OrderStatus, PaymentCreated};
use common::validation::{Validator, field};
use common::{AppError, AppResult, JsonBody, JsonObject, RequireAuth};
use futures::FutureExt as _;

use crate::app::AppState;
use crate::charges::{ChargeError, ChargeRequest, amount_in_cents, idempotency_key};
use crate::models::order::{self, Order};
use crate::models::payment::{Payment, PaymentView};

pub const TOKEN_REQUIRED: &str = "Token is required";
pub const ORDER_ID_REQUIRED: &str = "OrderId is required";
pub const ORDER_CANCELLED: &str = "Cannot pay for an cancelled order";
pub const ALREADY_PAID: &str = "Order has already been paid";
pub const IN_PROGRESS: &str = "A payment for this order is already in progress";

pub async fn handler(
    State(state): State<AppState>,
    RequireAuth(user): RequireAuth,
    JsonBody(body): JsonBody<JsonObject>,
) -> AppResult<(StatusCode, Json<PaymentView>)> {
    let mut v = Validator::new();
    let token = v.required_string("token", field(&body, "token"), TOKEN_REQUIRED);
    let order_id = v.object_id("orderId", field(&body, "orderId"), ORDER_ID_REQUIRED);
    v.finish()?;
    let (Some(token), Some(order_id)) = (token, order_id) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated fields missing"
        )));
    };

    let order = order::find(&state.orders, order_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if order.user_id.to_hex() != user.id {
        return Err(AppError::NotAuthorized);
    }
    payable(&order)?;
    let amount_cents = amount_in_cents(order.price).ok_or_else(|| {
        AppError::internal(anyhow::anyhow!(
            "order {} has a price {} that is not an amount of money",
            order.id,
            order.price
        ))
    })?;

    let key = idempotency_key(&order.id, &token);
    if !order::claim(&state.orders, order.id, &key).await? {
        // Tell why: paid or cancelled meanwhile, or another card's attempt in flight.
        let current = order::find(&state.orders, order.id)
            .await?
            .ok_or(AppError::NotFound)?;
        payable(&current)?;
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
    let stripe_id = match charged {
        Ok(stripe_id) => stripe_id,
        Err(ChargeError::Rejected(message)) => {
            // Stripe said no, so nothing was charged: another card may try at once.
            if let Err(error) = order::release(&state.orders, order.id, &key).await {
                tracing::warn!(order = %order.id, %error, "cannot release the payment claim; it lapses by itself");
            }
            tracing::info!(order = %order.id, %message, "Stripe rejected the charge");
            return Err(AppError::BadRequest(message));
        }
        // The card may have been charged without our hearing of it: the claim stays, so only a
        // retry with this card (the same key, which Stripe answers from its store) can proceed
        // until the lease lapses.
        Err(ChargeError::Failed(cause)) => return Err(AppError::Internal(cause)),
    };

    let payment = Payment::new(order.id, stripe_id);
    match record(&state, &payment).await {
        Ok(()) => {}
        Err(error) if is_already_paid(&error) => {
            return Err(AppError::bad_request(ALREADY_PAID));
        }
        Err(error) => return Err(error.into()),
    }
    tracing::info!(order = %order.id, payment = %payment.id, charge = %payment.stripe_id, amount_cents, "order paid");
    Ok((StatusCode::CREATED, Json(payment.view())))
}

/// Whether the order can be paid, as far as the replica knows.
fn payable(order: &Order) -> AppResult<()> {
    if order.status == OrderStatus::Cancelled {
        return Err(AppError::bad_request(ORDER_CANCELLED));
    }
    if order.payment_id.is_some() {
        return Err(AppError::bad_request(ALREADY_PAID));
    }
    Ok(())
}

/// The marker of a transaction rolled back because the order was paid meanwhile.
#[derive(Debug, Clone, Copy)]
struct AlreadyPaid;

fn is_already_paid(error: &mongodb::error::Error) -> bool {
    common::mongo::is_duplicate_key(error) || error.get_custom::<AlreadyPaid>().is_some()
}

/// Stores the payment, marks the replica paid (ending the claim) and stages `payment:created`,
/// all or nothing.
async fn record(state: &AppState, payment: &Payment) -> mongodb::error::Result<()> {
    let event = PaymentCreated {
        id: payment.id,
        order_id: payment.order_id,
        stripe_id: payment.stripe_id.clone(),
    };
    state
        .outbox
        .transaction(
            (&state.payments, &state.orders, payment, &event),
            |mut tx, context| {
                let (payments, orders, payment, event) = *context;
                async move {
                    payments.insert_one(payment).session(tx.session()).await?;
                    let marked = orders
                        .update_one(
                            doc! { "_id": payment.order_id, "paymentId": null },
                            doc! { "$set": { "paymentId": payment.id }, "$unset": { "claim": "" } },
                        )
                        .session(tx.session())
                        .await?;
                    if marked.matched_count != 1 {
                        return Err(mongodb::error::Error::custom(AlreadyPaid));
                    }
                    tx.publish(event).await
                }
                .boxed()
            },
        )
        .await
}
