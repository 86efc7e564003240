//! The reconciler: settles in the background what a request could not.
//!
//! - **Attempts whose outcome is unknown.** A request that dies after taking an attempt (the
//!   process killed, Stripe's answer lost, a timeout) leaves the attempt on the order replica.
//!   Once its lease lapses, the reconciler sends the very same charge again — same parameters,
//!   same idempotency key — so Stripe answers with what it did the first time (or charges now,
//!   if the first request never reached it: the attempt was accepted in time, and the buyer
//!   asked to pay). The answer is then settled exactly as the request would have
//!   (`Store::charged` / `Store::uncharged`). If Stripe cannot be heard, the attempt
//!   stays and is tried again after another lease.
//! - **Refunds due** (`models::refund`): each is sent to Stripe with the key `refund-<charge>`
//!   and recorded with `payment:refunded`.
//!
//! Every replica runs one; leases keep two of them off the same piece of work.

use std::time::Duration;

use bson::DateTime;
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::charges::{ChargeError, ChargeRequest};
use crate::models::order::{self, Order};
use crate::models::refund::{self, Reason, Refund};
use crate::store::Charged;

/// Work done by one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Attempts whose outcome was learnt and recorded.
    pub attempts_settled: usize,
    /// Refunds made and recorded.
    pub refunds_made: usize,
    /// Pieces of work that failed this time and wait for the next lease.
    pub failed: usize,
}

/// Items per kind a pass takes at most, so a pass stays short.
const PASS_LIMIT: usize = 100;

/// One pass: every lapsed attempt, then every due refund (up to [`PASS_LIMIT`] each).
pub async fn reconcile_once(state: &AppState) -> mongodb::error::Result<Pass> {
    let mut pass = Pass::default();
    for _ in 0..PASS_LIMIT {
        let Some(order) =
            order::take_lapsed_attempt(&state.store.orders, DateTime::now(), state.attempt_lease)
                .await?
        else {
            break;
        };
        if settle_attempt(state, &order).await {
            pass.attempts_settled += 1;
        } else {
            pass.failed += 1;
        }
    }
    for _ in 0..PASS_LIMIT {
        let Some(due) = refund::take_due(&state.store.refunds).await? else {
            break;
        };
        if make_refund(state, &due).await {
            pass.refunds_made += 1;
        } else {
            pass.failed += 1;
        }
    }
    report_unreconciled(state).await?;
    Ok(pass)
}

/// `ticketing_payments_unreconciled{reason}`: charges whose outcome is not recorded yet
/// (`attempt`: an attempt in flight or lapsed) and refunds due but not made (`refund`). Both
/// drain within a reconciler lease when Stripe answers; one that stays above zero is an alert.
async fn report_unreconciled(state: &AppState) -> mongodb::error::Result<()> {
    let attempts = state
        .store
        .orders
        .count_documents(bson::doc! { "attempt.leaseUntil": { "$ne": null } })
        .await?;
    let refunds = state
        .store
        .refunds
        .count_documents(bson::doc! { "refundedAt": null })
        .await?;
    metrics::gauge!("ticketing_payments_unreconciled", "reason" => "attempt").set(attempts as f64);
    metrics::gauge!("ticketing_payments_unreconciled", "reason" => "refund").set(refunds as f64);
    Ok(())
}

/// Runs a pass every `interval` until `shutdown`.
pub fn spawn(
    state: AppState,
    interval: Duration,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match reconcile_once(&state).await {
                Ok(pass) if pass == Pass::default() => {}
                Ok(pass) => tracing::info!(?pass, "payments reconciler pass"),
                Err(error) => tracing::warn!(%error, "payments reconciler pass failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    })
}

/// Asks Stripe again for the attempt on `order` and records the answer; whether it was settled.
async fn settle_attempt(state: &AppState, order: &Order) -> bool {
    let Some(attempt) = &order.attempt else {
        return false;
    };
    let request = ChargeRequest {
        order_id: order.id,
        amount_cents: attempt.amount_cents,
        token: &attempt.token,
    };
    let settled = match state.stripe.charge(&request).await {
        Ok(charge_id) => state.store.charged(order.id, &attempt.key, &charge_id)
            .await
            .map(|charged| {
                match &charged {
                    Charged::Paid(payment) | Charged::AlreadyPaid(payment) => {
                        tracing::info!(order = %order.id, payment = %payment.id, charge = %payment.stripe_id, "reconciled an attempt: the order is paid");
                    }
                    Charged::Refunding(reason) => {
                        tracing::info!(order = %order.id, ?reason, "reconciled an attempt: its charge is to be refunded");
                    }
                }
            }),
        Err(ChargeError::Rejected(message)) => {
            let logged = crate::charges::redact_token(&message, &attempt.token);
            tracing::info!(order = %order.id, stripe_message = %logged, "reconciled an attempt: nothing was charged");
            state.store.uncharged(order.id, &attempt.key)
                .await
                .map(|_| ())
        }
        Err(ChargeError::Failed(error)) => {
            tracing::warn!(order = %order.id, %error, "cannot reconcile the attempt yet: Stripe did not answer");
            return false;
        }
    };
    match settled {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(order = %order.id, %error, "cannot record the reconciled attempt; tried again later");
            false
        }
    }
}

/// Refunds `due` through Stripe and records it; whether that worked.
async fn make_refund(state: &AppState, due: &Refund) -> bool {
    let duplicate = due.reason == Reason::Duplicate;
    match state
        .stripe
        .refund(&due.charge_id, due.order_id, duplicate)
        .await
    {
        Ok(refund_id) => match state.store.refunded(due, refund_id.as_deref()).await {
            Ok(()) => {
                tracing::info!(order = %due.order_id, charge = %due.charge_id, refund = refund_id.as_deref().unwrap_or("(refunded outside)"), reason = ?due.reason, "charge refunded");
                true
            }
            Err(error) => {
                tracing::warn!(charge = %due.charge_id, %error, "refunded, but not recorded yet; the refund is asked for again (same key)");
                false
            }
        },
        Err(error) => {
            tracing::error!(order = %due.order_id, charge = %due.charge_id, %error, "refund failed; tried again after its lease");
            if let Err(note) =
                refund::note_failure(&state.store.refunds, &due.charge_id, &error.to_string()).await
            {
                tracing::warn!(charge = %due.charge_id, error = %note, "cannot note the failed refund");
            }
            false
        }
    }
}
