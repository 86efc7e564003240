//! The stylesheet and script, compiled into the binary so the image needs nothing but it.
//!
//! Each file is served under a URL carrying a hash of its content (`/static/app.css?v=…`, the hash
//! computed at compile time), so browsers may cache it for a year: a new build changes the URL.
//! A request with a stale or missing `v` still gets the current file, only with a short lifetime.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    pub hash: u64,
}

impl Asset {
    const fn new(name: &'static str, content_type: &'static str, body: &'static [u8]) -> Self {
        Self {
            name,
            content_type,
            body,
            hash: fnv1a(body),
        }
    }

    /// The URL pages link to.
    pub fn url(&self) -> String {
        format!("/static/{}?v={:016x}", self.name, self.hash)
    }

    fn etag(&self) -> String {
        format!("\"{:016x}\"", self.hash)
    }
}

pub const STYLESHEET: Asset = Asset::new(
    "app.css",
    "text/css; charset=utf-8",
    include_bytes!("../static/app.css"),
);
pub const SCRIPT: Asset = Asset::new(
    "app.js",
    "text/javascript; charset=utf-8",
    include_bytes!("../static/app.js"),
);
pub const ICON: Asset = Asset::new(
    "icon.svg",
    "image/svg+xml",
    include_bytes!("../static/icon.svg"),
);

/// The API's OpenAPI document, generated from the API services' annotated routes and checked in
/// by `tools/api-doc` (whose test keeps it current); served at `GET /api/docs/openapi.json`.
pub const OPENAPI: Asset = Asset::new(
    "openapi.json",
    "application/json",
    include_bytes!("../static/openapi.json"),
);

const ASSETS: [&Asset; 4] = [&STYLESHEET, &SCRIPT, &ICON, &OPENAPI];

/// FNV-1a: tiny, `const`, and plenty to tell two builds' files apart.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

#[derive(Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// `GET /static/{name}`.
pub async fn handler(
    name: Result<Path<String>, PathRejection>,
    version: Result<Query<Version>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    // A name that does not decode names no asset.
    let Some(asset) = name
        .ok()
        .and_then(|Path(name)| ASSETS.iter().find(|asset| asset.name == name))
    else {
        return crate::routes::not_found::bare().into_response();
    };
    // `v` only busts caches: a query that does not parse (`v=a&v=b`) is no version, and the
    // asset is served with the short cache lifetime, never a plain-text 400.
    let current =
        version.is_ok_and(|Query(version)| version.v.as_deref() == Some(&asset.etag()[1..17]));
    serve(asset, current, &headers)
}

/// `GET /api/docs/openapi.json`: the document at its well-known address, revalidated by ETag.
pub async fn openapi(headers: HeaderMap) -> Response {
    serve(&OPENAPI, false, &headers)
}

/// The asset, or 304 when the caller holds this very file; cached for a year when the URL
/// names this build's version (`current`), for five minutes otherwise.
fn serve(asset: &Asset, current: bool, headers: &HeaderMap) -> Response {
    let etag = asset.etag();
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|value| value.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    response
}
