//! Optional paging of the list routes (`GET /api/tickets`, `GET /api/orders`): `?limit=N` returns
//! at most N items (1 to [`MAX_LIMIT`]), `&after=<id>` the ones after that item, in the lists'
//! own order (oldest first: ObjectIds grow with creation time, so the id is the cursor). A page
//! that may have more after it says where, as a `Link: <…>; rel="next"` header, so the body stays
//! the original's plain array. Without `limit` a list is whole, as the original's is: existing
//! clients see no change.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use bson::oid::ObjectId;
use bson::{Document, doc};

use crate::error::{AppError, ErrorItem};

/// The most items one page holds.
pub const MAX_LIMIT: u32 = 100;

pub const LIMIT_INVALID: &str = "limit must be an integer from 1 to 100";
pub const AFTER_INVALID: &str = "after must be the id of an item";

/// What a list route was asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    pub limit: Option<u32>,
    pub after: Option<ObjectId>,
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Page::parse(parts.uri.query().unwrap_or_default())
    }
}

impl Page {
    /// From a query string; other parameters are ignored, a repeated one counts once (its last).
    pub fn parse(query: &str) -> Result<Self, AppError> {
        let (mut limit, mut after) = (None, None);
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "limit" => limit = Some(value.into_owned()),
                "after" => after = Some(value.into_owned()),
                _ => {}
            }
        }
        let mut errors = Vec::new();
        let limit = limit.and_then(|raw| {
            let parsed = raw
                .parse::<u32>()
                .ok()
                .filter(|limit| (1..=MAX_LIMIT).contains(limit));
            if parsed.is_none() {
                errors.push(ErrorItem::field("limit", LIMIT_INVALID));
            }
            parsed
        });
        let after = after.and_then(|raw| {
            let parsed = ObjectId::parse_str(&raw).ok();
            if parsed.is_none() {
                errors.push(ErrorItem::field("after", AFTER_INVALID));
            }
            parsed
        });
        if errors.is_empty() {
            Ok(Self { limit, after })
        } else {
            Err(AppError::Validation(errors))
        }
    }

    /// `filter`, narrowed to the items after the cursor.
    pub fn filter(&self, mut filter: Document) -> Document {
        if let Some(after) = self.after {
            filter.insert("_id", doc! { "$gt": after });
        }
        filter
    }

    /// How many items to read: one more than the page holds, to know whether another follows.
    pub fn read_limit(&self) -> Option<i64> {
        self.limit.map(|limit| i64::from(limit) + 1)
    }

    /// Cuts `items` (read with [`Page::read_limit`]) to the page, and the headers that say where
    /// the next page is, if there is one. `id` is an item's id, `path` the route's.
    pub fn finish<T>(
        &self,
        mut items: Vec<T>,
        id: impl Fn(&T) -> ObjectId,
        path: &str,
    ) -> (HeaderMap, Vec<T>) {
        let mut headers = HeaderMap::new();
        let Some(limit) = self.limit else {
            return (headers, items);
        };
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if items.len() > limit {
            items.truncate(limit);
            if let Some(last) = items.last() {
                let link = format!(
                    "<{path}?limit={limit}&after={}>; rel=\"next\"",
                    id(last).to_hex()
                );
                if let Ok(link) = HeaderValue::from_str(&link) {
                    headers.insert(header::LINK, link);
                }
            }
        }
        (headers, items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_cursors_parse_and_bad_ones_are_field_errors() {
        let id = ObjectId::new();
        assert_eq!(Page::parse("").ok(), Some(Page::default()));
        assert_eq!(
            Page::parse(&format!("limit=5&after={id}&other=x")).ok(),
            Some(Page {
                limit: Some(5),
                after: Some(id)
            })
        );
        assert_eq!(
            Page::parse("limit=3&limit=7")
                .ok()
                .and_then(|page| page.limit),
            Some(7)
        );
        for bad in ["limit=0", "limit=101", "limit=-1", "limit=x", "limit="] {
            let error = Page::parse(bad).expect_err(bad);
            assert_eq!(
                error.body().errors,
                [ErrorItem::field("limit", LIMIT_INVALID)],
                "{bad}"
            );
        }
        let both = Page::parse("limit=0&after=nope").expect_err("two errors");
        assert_eq!(
            both.body().errors,
            [
                ErrorItem::field("limit", LIMIT_INVALID),
                ErrorItem::field("after", AFTER_INVALID)
            ]
        );
    }
}
