//! The event bodies: the original's six field for field as it publishes them (camelCase JSON), and payments' two of our own.
//!
//! Ids are ObjectIds, written as 24-hex strings; a body whose id is anything else does not parse
//! (and is therefore terminated, not retried). Prices are JSON numbers (`f64`), `expiresAt` is an
//! RFC 3339 UTC instant. Unknown fields are ignored, so a newer publisher may add some.

use bson::oid::ObjectId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Event, Subject, wire};

/// `ticket:created` — a ticket was listed. Its version is 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketCreated {
    #[serde(with = "wire::object_id")]
    pub id: ObjectId,
    pub version: i64,
    pub title: String,
    #[serde(with = "wire::js_number")]
    pub price: f64,
    #[serde(with = "wire::object_id")]
    pub user_id: ObjectId,
}

impl Event for TicketCreated {
    const SUBJECT: Subject = Subject::TicketCreated;
}

/// `ticket:updated` — a ticket changed: edited, reserved (`orderId` set) or released
/// (`orderId` absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketUpdated {
    #[serde(with = "wire::object_id")]
    pub id: ObjectId,
    pub version: i64,
    pub title: String,
    #[serde(with = "wire::js_number")]
    pub price: f64,
    #[serde(with = "wire::object_id")]
    pub user_id: ObjectId,
    #[serde(
        default,
        with = "wire::option_object_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_id: Option<ObjectId>,
}

impl Event for TicketUpdated {
    const SUBJECT: Subject = Subject::TicketUpdated;
}

/// An order's status, spelled as the original's `OrderStatus` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum OrderStatus {
    /// Created; the ticket is reserved.
    #[serde(rename = "created")]
    Created,
    /// Cancelled by the user, or expired; the ticket is free again.
    #[serde(rename = "cancelled")]
    Cancelled,
    #[serde(rename = "awaiting:payment")]
    AwaitingPayment,
    /// Paid.
    #[serde(rename = "complete")]
    Complete,
}

impl OrderStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Created => "created",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::AwaitingPayment => "awaiting:payment",
            OrderStatus::Complete => "complete",
        }
    }
}

/// `order:created` — a user reserved a ticket until `expiresAt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCreated {
    #[serde(with = "wire::object_id")]
    pub id: ObjectId,
    pub version: i64,
    pub status: OrderStatus,
    #[serde(with = "wire::object_id")]
    pub user_id: ObjectId,
    #[serde(with = "wire::rfc3339_millis")]
    pub expires_at: DateTime<Utc>,
    pub ticket: OrderCreatedTicket,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCreatedTicket {
    #[serde(with = "wire::object_id")]
    pub id: ObjectId,
    #[serde(with = "wire::js_number")]
    pub price: f64,
}

impl Event for OrderCreated {
    const SUBJECT: Subject = Subject::OrderCreated;
}

/// `order:cancelled` — an order was cancelled or expired; its ticket is free again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCancelled {
    #[serde(with = "wire::object_id")]
    pub id: ObjectId,
    pub version: i64,
    pub ticket: OrderCancelledTicket,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCancelledTicket {
    #[serde(with = "wire::object_id")]
    pub id: ObjectId,
}

impl Event for OrderCancelled {
    const SUBJECT: Subject = Subject::OrderCancelled;
}

/// `expiration:complete` — an order's time to pay ran out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpirationComplete {
    #[serde(with = "wire::object_id")]
    pub order_id: ObjectId,
}

impl Event for ExpirationComplete {
    const SUBJECT: Subject = Subject::ExpirationComplete;
}

/// `payment:created` — an order was paid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCreated {
    #[serde(with = "wire::object_id")]
    pub id: ObjectId,
    #[serde(with = "wire::object_id")]
    pub order_id: ObjectId,
    pub stripe_id: String,
}

impl Event for PaymentCreated {
    const SUBJECT: Subject = Subject::PaymentCreated;
}

/// `payment:expired` — not in the original. Payments' verdict on an order whose time ran out:
/// no payment was accepted before `expiresAt`, and none will be, so orders may cancel it. Orders
/// cancels on this, not on `expiration:complete`, because only payments knows whether a payment
/// accepted in time is still on its way (see docs/architecture.md, "Paid or expired").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentExpired {
    #[serde(with = "wire::object_id")]
    pub order_id: ObjectId,
}

impl Event for PaymentExpired {
    const SUBJECT: Subject = Subject::PaymentExpired;
}

/// `payment:refunded` — not in the original. A charge that did not become an order's payment
/// (the order was cancelled meanwhile, or paid by another charge) was refunded through Stripe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRefunded {
    #[serde(with = "wire::object_id")]
    pub order_id: ObjectId,
    /// The refunded charge, `ch_…`.
    pub stripe_id: String,
    /// Stripe's refund, `re_…`.
    pub refund_id: String,
}

impl Event for PaymentRefunded {
    const SUBJECT: Subject = Subject::PaymentRefunded;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn oid(hex: &str) -> ObjectId {
        ObjectId::parse_str(hex).expect("valid hex")
    }

    const A: &str = "5f9d88b9c2b4a1a2b3c4d5e6";
    const B: &str = "5f9d88b9c2b4a1a2b3c4d5e7";
    const C: &str = "5f9d88b9c2b4a1a2b3c4d5e8";

    #[test]
    fn ticket_bodies_match_the_original() {
        let created = TicketCreated {
            id: oid(A),
            version: 0,
            title: "concert".into(),
            price: 20.0,
            user_id: oid(B),
        };
        assert_eq!(
            serde_json::to_value(&created).expect("serialises"),
            json!({"id": A, "version": 0, "title": "concert", "price": 20, "userId": B})
        );
        let updated = TicketUpdated {
            id: oid(A),
            version: 3,
            title: "concert".into(),
            price: 20.5,
            user_id: oid(B),
            order_id: None,
        };
        assert_eq!(
            serde_json::to_value(&updated).expect("serialises"),
            json!({"id": A, "version": 3, "title": "concert", "price": 20.5, "userId": B})
        );
        let reserved = TicketUpdated {
            order_id: Some(oid(C)),
            ..updated
        };
        let value = serde_json::to_value(&reserved).expect("serialises");
        assert_eq!(value["orderId"], json!(C));
        assert_eq!(
            serde_json::from_value::<TicketUpdated>(value).expect("parses"),
            reserved
        );
    }

    #[test]
    fn order_bodies_match_the_original() {
        let expires_at = DateTime::parse_from_rfc3339("2024-05-01T12:15:00.250Z")
            .expect("valid")
            .with_timezone(&Utc);
        let created = OrderCreated {
            id: oid(A),
            version: 0,
            status: OrderStatus::Created,
            user_id: oid(B),
            expires_at,
            ticket: OrderCreatedTicket {
                id: oid(C),
                price: 10.0,
            },
        };
        let value = serde_json::to_value(&created).expect("serialises");
        assert_eq!(
            value,
            json!({"id": A, "version": 0, "status": "created", "userId": B,
                   "expiresAt": "2024-05-01T12:15:00.250Z", "ticket": {"id": C, "price": 10}})
        );
        assert_eq!(
            serde_json::from_value::<OrderCreated>(value).expect("parses"),
            created
        );

        let cancelled = OrderCancelled {
            id: oid(A),
            version: 1,
            ticket: OrderCancelledTicket { id: oid(C) },
        };
        assert_eq!(
            serde_json::to_value(&cancelled).expect("serialises"),
            json!({"id": A, "version": 1, "ticket": {"id": C}})
        );
        for (status, text) in [
            (OrderStatus::Created, "created"),
            (OrderStatus::Cancelled, "cancelled"),
            (OrderStatus::AwaitingPayment, "awaiting:payment"),
            (OrderStatus::Complete, "complete"),
        ] {
            assert_eq!(
                serde_json::to_value(status).expect("serialises"),
                json!(text)
            );
            assert_eq!(status.as_str(), text);
        }
    }

    #[test]
    fn expiration_and_payment_bodies_match_the_original() {
        assert_eq!(
            serde_json::to_value(ExpirationComplete { order_id: oid(A) }).expect("serialises"),
            json!({"orderId": A})
        );
        let payment = PaymentCreated {
            id: oid(A),
            order_id: oid(B),
            stripe_id: "ch_123".into(),
        };
        assert_eq!(
            serde_json::to_value(&payment).expect("serialises"),
            json!({"id": A, "orderId": B, "stripeId": "ch_123"})
        );
    }

    #[test]
    fn malformed_bodies_do_not_parse() {
        // Other time zones are accepted and normalised to UTC.
        let parsed: OrderCreated = serde_json::from_value(json!({
            "id": A, "version": 0, "status": "created", "userId": B,
            "expiresAt": "2024-05-01T14:15:00+02:00", "ticket": {"id": C, "price": 10}
        }))
        .expect("parses");
        assert_eq!(
            parsed
                .expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "2024-05-01T12:15:00.000Z"
        );
        for bad in [
            json!({"id": "nope", "version": 1, "ticket": {"id": C}}),
            json!({"id": A, "ticket": {"id": C}}),
            json!({"id": A, "version": "1", "ticket": {"id": C}}),
            json!({"id": A, "version": 1, "ticket": {}}),
            json!("order:cancelled"),
        ] {
            assert!(
                serde_json::from_value::<OrderCancelled>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        assert!(
            serde_json::from_value::<OrderCreated>(json!({
                "id": A, "version": 0, "status": "shipped", "userId": B,
                "expiresAt": "2024-05-01T12:15:00Z", "ticket": {"id": C, "price": 10}
            }))
            .is_err()
        );
    }
}
