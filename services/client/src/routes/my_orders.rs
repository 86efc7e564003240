//! `GET /orders`: the signed-in user's orders, one `title - price - status` line each.

use axum::extract::State;
use maud::html;

use crate::api::{Api, Forwarded};
use crate::models::{Order, format_price};
use crate::page::{PageError, PageResult};
use crate::views::{self, Nav};

pub async fn handler(State(api): State<Api>, from: Forwarded) -> PageResult {
    let user = api.current_user(&from).await?;
    if user.is_none() {
        return Err(PageError::sign_in_required());
    }
    let orders = api
        .get::<Vec<Order>>(&from, "/api/orders")
        .await
        .map_err(|error| PageError::from(error).seen_by(&user))?;
    Ok(views::page(
        "My Orders",
        &Nav::from(&user),
        html! {
            h1 { "My Orders" }
            @if orders.is_empty() {
                p .empty { "No orders yet. " a href="/" { "Find a ticket" } "." }
            } @else {
                ul .orders {
                    @for order in &orders {
                        li data-status=(order.status) {
                            a href={ "/orders/" (order.id) } { (order.ticket.title) }
                            " - " (format_price(order.ticket.price)) " - "
                            span .status { (order.status) }
                        }
                    }
                }
            }
        },
    ))
}
