//! The test kit every service's black-box tests share (feature `test-util`, enabled only in
//! dev-dependencies): the one session key, the one deadline, a signed-in user, and the events
//! the other services would publish, built once here rather than in each service's helpers.
//! Starting servers (MongoDB, NATS, Redis) is `test-support`'s job; this is what needs
//! `common`'s types.

use std::time::Duration;

use bson::oid::ObjectId;

use crate::SessionKeys;
use crate::config::ServiceConfig;
use crate::events::{
    OrderCancelled, OrderCancelledTicket, OrderCreated, OrderCreatedTicket, OrderStatus,
    TicketCreated, TicketUpdated,
};

/// The `JWT_KEY` of every test fleet.
pub const JWT_KEY: &str = "test-jwt-key";

/// How long a test waits for anything asynchronous (an event handled, a relay pass, a
/// replica caught up) before it fails: generous, because CI machines are loaded; a passing
/// test never waits for it.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A service's configuration for a test's own database and NATS server.
pub fn service_config(mongo_uri: &str, nats_url: &str, client_id: &str) -> ServiceConfig {
    ServiceConfig::local(mongo_uri, nats_url, client_id, JWT_KEY)
}

/// The `Cookie` header of `user_id`'s session (the original's `global.signin()`).
pub fn session_cookie(user_id: ObjectId) -> String {
    SessionKeys::new(JWT_KEY, false)
        .cookie_header(&user_id.to_hex(), "test@test.com")
        .expect("a test session signs")
}

/// `ticket:created` of a new ticket by a new user.
pub fn ticket_created(title: &str, price: f64) -> TicketCreated {
    TicketCreated {
        id: ObjectId::new(),
        version: 0,
        title: title.to_owned(),
        price,
        user_id: ObjectId::new(),
    }
}

/// `ticket:updated` of ticket `id` at `version`, not reserved.
pub fn ticket_updated(id: ObjectId, version: i64, title: &str, price: f64) -> TicketUpdated {
    TicketUpdated {
        id,
        version,
        title: title.to_owned(),
        price,
        user_id: ObjectId::new(),
        order_id: None,
    }
}

/// `order:created` of a new order by `user_id` for ticket `ticket_id`, expiring in 15 minutes.
pub fn order_created(user_id: ObjectId, ticket_id: ObjectId, price: f64) -> OrderCreated {
    OrderCreated {
        id: ObjectId::new(),
        version: 0,
        status: OrderStatus::Created,
        user_id,
        expires_at: chrono::Utc::now() + chrono::Duration::minutes(15),
        ticket: OrderCreatedTicket {
            id: ticket_id,
            price,
        },
    }
}

/// The `order:cancelled` that follows `order`.
pub fn order_cancelled(order: &OrderCreated) -> OrderCancelled {
    OrderCancelled {
        id: order.id,
        version: order.version + 1,
        ticket: OrderCancelledTicket {
            id: order.ticket.id,
        },
    }
}
