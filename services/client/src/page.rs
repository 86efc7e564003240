//! What a page answers when it cannot show what was asked: a page, never a stack trace.
//!
//! An API 404 (or an id that cannot exist) is the 404 page; an API 401 asks the visitor to sign
//! in; anything else — the ingress down, a timeout, a 5xx, a body that is not the contract's — is a
//! friendly "try again" page that shows the API's own messages if it sent any. The cause goes to
//! the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::ErrorItem;
use maud::html;

use crate::api::ApiError;
use crate::models::CurrentUser;
use crate::views::{self, Nav};

#[derive(Debug)]
pub enum Problem {
    NotFound,
    SignInRequired,
    Unavailable { errors: Vec<ErrorItem> },
}

#[derive(Debug)]
pub struct PageError {
    pub problem: Problem,
    pub nav: Nav,
}

pub type PageResult<T = maud::Markup> = Result<T, PageError>;

impl PageError {
    pub fn not_found() -> Self {
        Self {
            problem: Problem::NotFound,
            nav: Nav::Unknown,
        }
    }

    pub fn sign_in_required() -> Self {
        Self {
            problem: Problem::SignInRequired,
            nav: Nav::SignedOut,
        }
    }

    /// The header of the error page shows who is signed in, once that is known.
    pub fn seen_by(mut self, user: &Option<CurrentUser>) -> Self {
        self.nav = Nav::from(user);
        self
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        let problem = match error {
            ApiError::Status { status, .. } if status == StatusCode::NOT_FOUND => Problem::NotFound,
            ApiError::Status { status, .. } if status == StatusCode::UNAUTHORIZED => {
                Problem::SignInRequired
            }
            ApiError::Status { status, errors } => {
                tracing::warn!(%status, ?errors, "a page's API call failed");
                Problem::Unavailable { errors }
            }
            ApiError::Unavailable(cause) => {
                tracing::error!(%cause, "a page's API call failed");
                Problem::Unavailable { errors: Vec::new() }
            }
        };
        Self {
            problem,
            nav: Nav::Unknown,
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self.problem {
            Problem::NotFound => (StatusCode::NOT_FOUND, not_found_page(&self.nav)).into_response(),
            Problem::SignInRequired => (
                StatusCode::UNAUTHORIZED,
                views::page(
                    "Sign in required",
                    &self.nav,
                    html! {
                        section .problem {
                            h1 { "Sign in required" }
                            p { "Please sign in with the account this page belongs to." }
                            p {
                                a .btn .btn-primary href="/auth/signin" { "Sign In" }
                                " "
                                a .btn .btn-secondary href="/auth/signup" { "Sign Up" }
                            }
                        }
                    },
                ),
            )
                .into_response(),
            Problem::Unavailable { errors } => (
                StatusCode::BAD_GATEWAY,
                views::problem(
                    "Something went wrong",
                    "We could not load this page just now. Please try again in a moment.",
                    &errors,
                    &self.nav,
                ),
            )
                .into_response(),
        }
    }
}

pub fn not_found_page(nav: &Nav) -> maud::Markup {
    views::problem(
        "Page not found",
        "There is nothing here. The ticket or order may have been removed, or the address is mistyped.",
        &[],
        nav,
    )
}
