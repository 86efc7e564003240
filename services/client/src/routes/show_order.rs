//! `GET /orders/{orderId}`: an order, the time left to pay for it, and the Pay button.
//!
//! The server renders the seconds left at the time of the request (so the page reads right without
//! JavaScript); `app.js` then counts down every second from `data-expires-at`, corrected by the
//! difference between the server's clock (`data-now`) and the browser's, and turns the page to
//! "Order Expired" and removes the Pay button when the time is up. The Pay button posts
//! `{token:"tok_visa", orderId}` to `/api/payments` when no Stripe publishable key is configured,
//! or opens Stripe's checkout with it, then goes to `/orders`.

use axum::extract::State;
use chrono::Utc;
use maud::{Markup, html};

use crate::api::{Api, Forwarded};
use crate::app::StripeKey;
use crate::models::{CurrentUser, Order, PageId, format_price};
use crate::page::{PageError, PageResult};
use crate::views::{self, Nav, json_attribute};

pub async fn handler(
    State(api): State<Api>,
    State(stripe): State<StripeKey>,
    PageId(order_id): PageId,
    from: Forwarded,
) -> PageResult {
    let user = api.current_user(&from).await?;
    let Some(viewer) = &user else {
        return Err(PageError::sign_in_required());
    };
    let Some(order_id) = order_id else {
        return Err(PageError::not_found().seen_by(&user));
    };
    let order = api
        .get::<Order>(&from, &format!("/api/orders/{order_id}"))
        .await
        .map_err(|error| PageError::from(error).seen_by(&user))?;
    Ok(views::page(
        "Order",
        &Nav::from(&user),
        html! {
            article .card {
                h1 { "Order for " (order.ticket.title) }
                h4 { "Price: " (format_price(order.ticket.price)) }
                (state(&order, viewer, &stripe))
            }
        },
    ))
}

/// `POST /api/payments`'s body; a struct so the attribute's field order never changes.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PaymentBody<'a> {
    token: &'a str,
    order_id: &'a str,
}

fn state(order: &Order, viewer: &CurrentUser, stripe: &StripeKey) -> Markup {
    let now = Utc::now();
    let ms_left = (order.expires_at - now).num_milliseconds();
    // As the original: whole seconds, rounded; expired once below zero.
    let seconds_left = (ms_left as f64 / 1000.0).round() as i64;
    match order.status.as_str() {
        "complete" => html! { p .status-line .ok { "Paid. Enjoy the show!" } },
        "cancelled" if seconds_left >= 0 => html! { p .status-line { "Order Cancelled" } },
        _ if seconds_left < 0 => html! { p .status-line #countdown { "Order Expired" } },
        _ => {
            let body = json_attribute(&PaymentBody {
                token: "tok_visa",
                order_id: &order.id,
            });
            let cents = (order.ticket.price * 100.0).round() as i64;
            html! {
                p .status-line #countdown role="timer"
                    data-expires-at=(order.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                    data-now=(now.timestamp_millis())
                    data-hide-when-expired="pay-area" {
                    (seconds_left) " seconds until order expires"
                }
                div #pay-area {
                    (views::error_slot("pay-errors"))
                    (views::needs_script())
                    button .btn .btn-primary type="button" data-api="/api/payments" data-body=(body)
                        data-redirect="/orders" data-errors="pay-errors"
                        data-stripe-key=[stripe.0.as_deref()] data-amount=(cents)
                        data-email=(viewer.email) { "Pay" }
                }
            }
        }
    }
}
