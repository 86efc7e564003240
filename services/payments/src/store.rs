//! Every change the service makes with the events it causes: how a payment attempt ends, and
//! how an order's time to pay ends (its settlement). Each method is one MongoDB
//! transaction with the events it causes (outbox), deciding on the order replica's document as
//! stored *in* the transaction, so concurrent decisions on one order conflict and run one after
//! the other (see `models::order` for the fields).
//!
//! The rule (docs/architecture.md, "Paid or expired"): payments alone decides whether an order
//! was paid in time. An attempt is taken only before `expiresAt` (`models::order::take_for_attempt`);
//! once taken, its charge always ends as the order's payment — unless the order was cancelled
//! meanwhile, and then as a refund. `expiration:complete` becomes the verdict `payment:expired`
//! only when no attempt is in flight and none succeeded; with one in flight the verdict waits
//! for its outcome. Orders cancels on `payment:expired`, never on `expiration:complete`.

use bson::doc;
use bson::oid::ObjectId;
use common::events::{OrderStatus, PaymentCreated, PaymentExpired, PaymentRefunded};
use common::outbox::Outbox;
use mongodb::{Collection, Database};

use crate::models::order::Order;
use crate::models::payment::Payment;
use crate::models::refund::{self, Reason, Refund};

/// What a successful charge became.
#[derive(Debug, Clone, PartialEq)]
pub enum Charged {
    /// The order's payment, recorded now with `payment:created`.
    Paid(Payment),
    /// This very charge was recorded already (a retried request, or the reconciler and the
    /// request both settling it).
    AlreadyPaid(Payment),
    /// Not the order's payment: its refund is due.
    Refunding(Reason),
}

/// What `expiration:complete` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No payment: `payment:expired` staged.
    Expired,
    /// An attempt is in flight; its outcome decides.
    Deferred,
    /// Paid, cancelled or expired already: nothing to do.
    Settled,
    /// The replica has not heard of the order yet.
    Unknown,
}

/// The reason a transaction is rolled back when the documents it read changed under it in a way
/// no write conflict caught; the event that ran it is redelivered.
#[derive(Debug, Clone, Copy)]
struct Changed;

/// The service's collections and the outbox their changes are published through.
#[derive(Debug, Clone)]
pub struct Store {
    /// The replica of the orders service's orders, with this service's attempt and verdict.
    pub orders: Collection<Order>,
    pub payments: Collection<Payment>,
    pub refunds: Collection<Refund>,
    pub outbox: Outbox,
}

impl Store {
    pub fn new(database: &Database, outbox: Outbox) -> Self {
        Self {
            orders: database.collection(Order::COLLECTION),
            payments: database.collection(Payment::COLLECTION),
            refunds: database.collection(Refund::COLLECTION),
            outbox,
        }
    }

    pub async fn ensure_indexes(&self, database: &Database) -> mongodb::error::Result<()> {
        crate::models::ensure_indexes(database).await?;
        self.outbox.ensure_indexes().await
    }

    /// Records the successful charge `charge_id` of the attempt keyed `key` on order `order_id`.
    pub async fn charged(
        &self,
        order_id: ObjectId,
        key: &str,
        charge_id: &str,
    ) -> mongodb::error::Result<Charged> {
        common::transaction!(self.outbox, |tx| {
            let order = self
                .orders
                .find_one(doc! { "_id": order_id })
                .session(tx.session())
                .await?
                .ok_or_else(|| common::outbox::abort(Changed))?;
            // Whatever the outcome, this attempt is over.
            self.end_attempt(&mut tx, order_id, key).await?;
            if let Some(payment_id) = order.payment_id {
                let payment = self.payment_in(&mut tx, payment_id).await?;
                if payment.stripe_id == charge_id {
                    return Ok(Charged::AlreadyPaid(payment));
                }
                refund::make_due(
                    &self.refunds,
                    tx.session(),
                    charge_id,
                    order_id,
                    Reason::Duplicate,
                )
                .await?;
                return Ok(Charged::Refunding(Reason::Duplicate));
            }
            if order.status == OrderStatus::Cancelled {
                refund::make_due(
                    &self.refunds,
                    tx.session(),
                    charge_id,
                    order_id,
                    Reason::OrderCancelled,
                )
                .await?;
                return Ok(Charged::Refunding(Reason::OrderCancelled));
            }
            let payment = Payment::new(order_id, charge_id.to_owned());
            self.payments
                .insert_one(&payment)
                .session(tx.session())
                .await?;
            let marked = self
                .orders
                .update_one(
                    doc! { "_id": order_id, "paymentId": null },
                    doc! { "$set": { "paymentId": payment.id } },
                )
                .session(tx.session())
                .await?;
            if marked.matched_count != 1 {
                return Err(common::outbox::abort(Changed));
            }
            tx.publish(&PaymentCreated {
                id: payment.id,
                order_id,
                stripe_id: payment.stripe_id.clone(),
            })
            .await?;
            Ok(Charged::Paid(payment))
        })
    }

    /// Ends the attempt keyed `key` on order `order_id`, which charged nothing (declined). If the
    /// order's time ran out meanwhile, this is when the verdict is reached. Returns whether
    /// `payment:expired` was staged.
    pub async fn uncharged(&self, order_id: ObjectId, key: &str) -> mongodb::error::Result<bool> {
        common::transaction!(self.outbox, |tx| {
            self.end_attempt(&mut tx, order_id, key).await?;
            self.reach_verdict(&mut tx, order_id, doc! { "expiryDue": true })
                .await
        })
    }

    /// `expiration:complete` for order `order_id`.
    pub async fn expire(&self, order_id: ObjectId) -> mongodb::error::Result<Expiry> {
        common::transaction!(self.outbox, |tx| {
            let Some(order) = self
                .orders
                .find_one(doc! { "_id": order_id })
                .session(tx.session())
                .await?
            else {
                return Ok(Expiry::Unknown);
            };
            if order.payment_id.is_some() || order.expired || order.status == OrderStatus::Cancelled
            {
                return Ok(Expiry::Settled);
            }
            if order.attempt.is_some() {
                self.orders
                    .update_one(
                        doc! { "_id": order_id },
                        doc! { "$set": { "expiryDue": true } },
                    )
                    .session(tx.session())
                    .await?;
                return Ok(Expiry::Deferred);
            }
            if self.reach_verdict(&mut tx, order_id, doc! {}).await? {
                Ok(Expiry::Expired)
            } else {
                // Read as free of attempts and payments, then not so when written: the
                // transaction's write conflict normally catches that first.
                Err(common::outbox::abort(Changed))
            }
        })
    }

    /// The payment a replica names, read in the transaction; the replica and its payment are written
    /// together, so its absence means the documents changed under the transaction.
    async fn payment_in(
        &self,
        tx: &mut common::outbox::Tx<'_>,
        payment_id: ObjectId,
    ) -> mongodb::error::Result<Payment> {
        self.payments
            .find_one(doc! { "_id": payment_id })
            .session(tx.session())
            .await?
            .ok_or_else(|| common::outbox::abort(Changed))
    }

    /// Removes the attempt keyed `key` from the order, if it is still there.
    async fn end_attempt(
        &self,
        tx: &mut common::outbox::Tx<'_>,
        order_id: ObjectId,
        key: &str,
    ) -> mongodb::error::Result<()> {
        self.orders
            .update_one(
                doc! { "_id": order_id, "attempt.key": key },
                doc! { "$unset": { "attempt": "" } },
            )
            .session(tx.session())
            .await?;
        Ok(())
    }

    /// Marks the order expired and stages `payment:expired` if it has no attempt in flight, no
    /// payment, is not expired yet and matches `condition`. Returns whether it did.
    async fn reach_verdict(
        &self,
        tx: &mut common::outbox::Tx<'_>,
        order_id: ObjectId,
        condition: bson::Document,
    ) -> mongodb::error::Result<bool> {
        let mut filter = doc! {
            "_id": order_id,
            "attempt": null,
            "paymentId": null,
            "expired": { "$ne": true },
        };
        filter.extend(condition);
        let marked = self
            .orders
            .update_one(
                filter,
                doc! { "$set": { "expired": true, "expiryDue": true } },
            )
            .session(tx.session())
            .await?;
        if marked.matched_count == 0 {
            return Ok(false);
        }
        tx.publish(&PaymentExpired { order_id }).await?;
        Ok(true)
    }

    /// `order:cancelled` after the order was paid (the buyer cancelled it while the payment was
    /// on its way to orders): the payment's charge is refunded.
    pub async fn refund_if_paid(&self, order: &Order) -> mongodb::error::Result<()> {
        let Some(payment_id) = order.payment_id else {
            return Ok(());
        };
        common::transaction!(self.outbox, |tx| {
            let payment = self.payment_in(&mut tx, payment_id).await?;
            refund::make_due(
                &self.refunds,
                tx.session(),
                &payment.stripe_id,
                order.id,
                Reason::OrderCancelled,
            )
            .await
        })
    }

    /// Records that Stripe refunded `refund`'s charge (as `refund_id`, if we know it) and announces
    /// it with `payment:refunded`.
    pub async fn refunded(
        &self,
        refund: &Refund,
        refund_id: Option<&str>,
    ) -> mongodb::error::Result<()> {
        common::transaction!(self.outbox, |tx| {
            let marked = self
                .refunds
                .update_one(
                    doc! { "_id": &refund.charge_id, "refundedAt": null },
                    doc! {
                        "$set": { "refundedAt": bson::DateTime::now(), "refundId": refund_id },
                        "$unset": { "leaseUntil": "", "lastError": "" },
                    },
                )
                .session(tx.session())
                .await?;
            if marked.matched_count == 1 {
                tx.publish(&PaymentRefunded {
                    order_id: refund.order_id,
                    stripe_id: refund.charge_id.clone(),
                    refund_id: refund_id.unwrap_or_default().to_owned(),
                })
                .await?;
            }
            Ok(())
        })
    }
}
