//! The page shell and the pieces several pages share, as maud templates (HTML checked at compile
//! time, every interpolation escaped).
//!
//! The markup keeps the original client's structure and class names where it had them (the
//! `navbar`, the `alert alert-danger` error list with its `Ooops....` heading), so the pages read
//! the same to a user of the original and to its tests.

use common::ErrorItem;
use maud::{DOCTYPE, Markup, html};

use crate::assets::{ICON, SCRIPT, STYLESHEET};
use crate::models::CurrentUser;

/// What the header knows about the visitor.
#[derive(Debug, Clone)]
pub enum Nav {
    /// The API could not tell (it is down): the header shows the brand only.
    Unknown,
    SignedOut,
    SignedIn {
        email: String,
    },
}

impl From<&Option<CurrentUser>> for Nav {
    fn from(user: &Option<CurrentUser>) -> Self {
        match user {
            Some(user) => Self::SignedIn {
                email: user.email.clone(),
            },
            None => Self::SignedOut,
        }
    }
}

/// A whole page: head, header, and `main`.
pub fn page(title: &str, nav: &Nav, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · GitTix" }
                link rel="icon" type="image/svg+xml" href=(ICON.url());
                link rel="stylesheet" href=(STYLESHEET.url());
                script src=(SCRIPT.url()) defer {}
            }
            body {
                a.skip-link href="#main" { "Skip to content" }
                (header(nav))
                main #main .container tabindex="-1" { (main) }
            }
        }
    }
}

fn header(nav: &Nav) -> Markup {
    let links: &[(&str, &str)] = match nav {
        Nav::Unknown => &[],
        Nav::SignedOut => &[("Sign Up", "/auth/signup"), ("Sign In", "/auth/signin")],
        Nav::SignedIn { .. } => &[("Sell Ticket", "/tickets/new"), ("My Orders", "/orders")],
    };
    html! {
        header .navbar {
            nav .navbar-inner aria-label="Main" {
                a .navbar-brand href="/" { "GitTix" }
                ul .nav {
                    @if let Nav::SignedIn { email } = nav {
                        li .nav-user { span .visually-hidden { "Signed in as " } (email) }
                    }
                    @for (label, href) in links {
                        li .nav-item { a .nav-link href=(href) { (label) } }
                    }
                    @if let Nav::SignedIn { .. } = nav {
                        li .nav-item { (sign_out_button()) }
                    }
                }
            }
        }
    }
}

/// Signing out changes state, so it is a form posting to `/auth/signout`, never a link: a link
/// (or an image) on another site cannot sign the user out, and the cross-site check refuses a
/// form posted from one.
pub fn sign_out_button() -> Markup {
    html! {
        form .nav-form method="post" action="/auth/signout" {
            button .nav-link type="submit" { "Sign Out" }
        }
    }
}

/// The original's error list: an alert with `Ooops....` and one line per message. `app.js`
/// renders the same markup for errors of the browser's own API calls.
pub fn error_list(errors: &[ErrorItem]) -> Markup {
    html! {
        div .alert .alert-danger role="alert" {
            h4 { "Ooops...." }
            ul .my-0 {
                @for error in errors {
                    li data-field=[error.field.as_deref()] { (error.message) }
                }
            }
        }
    }
}

/// A request body for a `data-body` attribute (maud escapes it for the attribute).
pub fn json_attribute(body: &impl serde::Serialize) -> String {
    // Serialising a struct of strings cannot fail.
    serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned())
}

/// Where `app.js` puts the error list of an API call started by the element naming it.
pub fn error_slot(id: &str) -> Markup {
    html! { div id=(id) .error-slot aria-live="polite" {} }
}

/// Shown on pages whose form or button only works with the script.
pub fn needs_script() -> Markup {
    html! {
        noscript {
            p .note { "This needs JavaScript: please turn it on to continue." }
        }
    }
}

/// A page that explains a problem and offers a way on.
pub fn problem(heading: &str, text: &str, errors: &[ErrorItem], nav: &Nav) -> Markup {
    page(
        heading,
        nav,
        html! {
            section .problem {
                h1 { (heading) }
                p { (text) }
                @if !errors.is_empty() { (error_list(errors)) }
                p { a .btn .btn-primary href="/" { "Back to the tickets" } }
            }
        },
    )
}

/// The sign-up and sign-in forms: the same two fields, posted as JSON by `app.js` to `api`.
/// `novalidate`: the API's own messages are the ones the user sees, field by field.
pub fn auth_form(heading: &str, api: &str, password_autocomplete: &str) -> Markup {
    html! {
        form .card .form data-api=(api) data-redirect="/" data-errors="form-errors" method="post" novalidate {
            h1 { (heading) }
            div .form-group {
                label for="email" { "Email Address" }
                input #email .form-control name="email" type="email" autocomplete="email" required;
            }
            div .form-group {
                label for="password" { "Password" }
                input #password .form-control name="password" type="password"
                    autocomplete=(password_autocomplete) required;
            }
            (error_slot("form-errors"))
            (needs_script())
            button .btn .btn-primary type="submit" { (heading) }
        }
    }
}
