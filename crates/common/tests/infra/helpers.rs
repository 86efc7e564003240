//! What the tests share: a connection to a test's own NATS server, quick listener settings, and
//! sample events.

use std::time::Duration;

use bson::oid::ObjectId;
use common::events::{ConsumerOptions, Nats, OrderCancelled, OrderCancelledTicket, TicketCreated};
use test_support::nats::TestNats;

/// How long any awaited condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub async fn connect(nats: &TestNats) -> Nats {
    Nats::connect(&nats.url, "common-tests")
        .await
        .expect("connects and creates the stream")
}

/// The contract's rules with delays short enough for tests.
pub fn quick_options() -> ConsumerOptions {
    ConsumerOptions {
        max_deliver: 4,
        not_yet_delay: Duration::from_millis(20),
        retry_delay: Duration::from_millis(20),
        max_retry_delay: Duration::from_millis(100),
        ..ConsumerOptions::default()
    }
}

pub fn ticket_created(title: &str) -> TicketCreated {
    TicketCreated {
        id: ObjectId::new(),
        version: 0,
        title: title.to_owned(),
        price: 20.0,
        user_id: ObjectId::new(),
    }
}

pub fn order_cancelled(version: i64) -> OrderCancelled {
    OrderCancelled {
        id: ObjectId::new(),
        version,
        ticket: OrderCancelledTicket {
            id: ObjectId::new(),
        },
    }
}
