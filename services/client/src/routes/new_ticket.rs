//! `GET /tickets/new`: the sell form (`app.js` posts `{title, price}` to `/api/tickets`, then goes
//! to `/`). The price is formatted to two decimals when the field loses focus, as the original.

use axum::extract::State;
use maud::html;

use crate::api::{Api, Forwarded};
use crate::page::{PageError, PageResult};
use crate::views::{self, Nav};

pub async fn handler(State(api): State<Api>, from: Forwarded) -> PageResult {
    let user = api.current_user(&from).await?;
    if user.is_none() {
        return Err(PageError::sign_in_required());
    }
    Ok(views::page(
        "Create a Ticket",
        &Nav::from(&user),
        html! {
            form .card .form data-api="/api/tickets" data-redirect="/" data-errors="form-errors" method="post" novalidate {
                h1 { "Create a Ticket" }
                div .form-group {
                    label for="title" { "Title" }
                    input #title .form-control name="title" type="text" autocomplete="off" required;
                }
                div .form-group {
                    label for="price" { "Price" }
                    input #price .form-control name="price" type="text" inputmode="decimal"
                        autocomplete="off" data-money required;
                }
                (views::error_slot("form-errors"))
                (views::needs_script())
                button .btn .btn-primary type="submit" { "Submit" }
            }
        },
    ))
}
