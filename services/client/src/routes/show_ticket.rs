//! `GET /tickets/{ticketId}`: one ticket and its Purchase button (`app.js` posts
//! `{ticketId}` to `/api/orders`, then goes to the new order's page).

use axum::extract::State;
use maud::html;

use crate::api::{Api, Forwarded};
use crate::models::{PageId, Ticket, format_price};
use crate::page::{PageError, PageResult};
use crate::views::{self, Nav, json_attribute};

/// `POST /api/orders`'s body.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderBody<'a> {
    ticket_id: &'a str,
}

pub async fn handler(
    State(api): State<Api>,
    PageId(ticket_id): PageId,
    from: Forwarded,
) -> PageResult {
    let Some(ticket_id) = ticket_id else {
        let user = api.current_user(&from).await?;
        return Err(PageError::not_found().seen_by(&user));
    };
    let path = format!("/api/tickets/{ticket_id}");
    let (user, ticket) = tokio::join!(api.current_user(&from), api.get::<Ticket>(&from, &path));
    let user = user?;
    let ticket = ticket.map_err(|error| PageError::from(error).seen_by(&user))?;
    let body = json_attribute(&OrderBody {
        ticket_id: &ticket.id,
    });
    Ok(views::page(
        &ticket.title,
        &Nav::from(&user),
        html! {
            article .card {
                h1 { (ticket.title) }
                h4 { "Price: " (format_price(ticket.price)) }
                @if ticket.order_id.is_some() {
                    p .note { "This ticket is reserved by someone else right now. It comes back if their order expires." }
                } @else if user.is_none() {
                    p { a .btn .btn-primary href="/auth/signin" { "Sign in to purchase" } }
                } @else {
                    (views::error_slot("purchase-errors"))
                    (views::needs_script())
                    button .btn .btn-primary type="button" data-api="/api/orders" data-body=(body)
                        data-redirect="/orders/{id}" data-errors="purchase-errors" { "Purchase" }
                }
            }
        },
    ))
}
