//! `GET /`: the tickets for sale.

use axum::extract::State;
use maud::html;

use crate::api::{Api, Forwarded};
use crate::models::{Ticket, format_price};
use crate::page::{PageError, PageResult};
use crate::views::{self, Nav};

pub async fn handler(State(api): State<Api>, from: Forwarded) -> PageResult {
    let (user, tickets) = tokio::join!(
        api.current_user(&from),
        api.get::<Vec<Ticket>>(&from, "/api/tickets")
    );
    let user = user?;
    let tickets = tickets.map_err(|error| PageError::from(error).seen_by(&user))?;
    Ok(views::page(
        "Tickets",
        &Nav::from(&user),
        html! {
            h1 { "Tickets" }
            @if tickets.is_empty() {
                p .empty {
                    "No tickets for sale right now."
                    @if user.is_some() { " " a href="/tickets/new" { "Sell one" } "." }
                }
            } @else {
                div .table-wrap {
                    table .table {
                        thead {
                            tr { th scope="col" { "Title" } th scope="col" { "Price" } th scope="col" { "Link" } }
                        }
                        tbody {
                            @for ticket in &tickets {
                                tr {
                                    td { (ticket.title) }
                                    td .price { (format_price(ticket.price)) }
                                    td {
                                        a href={ "/tickets/" (ticket.id) } {
                                            "View" span .visually-hidden { " " (ticket.title) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}
