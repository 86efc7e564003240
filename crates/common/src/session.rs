//! The session: a JWT carried in a cookie in the cookie-session format.
//!
//! The original system stores `{"jwt":"<token>"}` base64-encoded in a cookie named `session`
//! (cookie-session, unsigned). Keeping the exact format means the original client, curl scripts and
//! any service of either fleet read each other's sessions. The token is HS256 with `JWT_KEY` and
//! carries `id`, `email`, `iat` and `exp`.
//!
//! Anything wrong with the cookie — missing, not base64, not JSON, forged, expired — means "not
//! signed in": [`CurrentUser`] is then `None` and [`RequireUser`] answers 401. It is never a 500.

use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tower_cookies::cookie::SameSite;
use tower_cookies::{Cookie, Cookies};

use crate::error::AppError;

/// The cookie's name, as cookie-session names it.
pub const COOKIE_NAME: &str = "session";

/// How long a session lasts unless configured otherwise.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The JWT's claims; also the `currentUser` body of `GET /api/users/currentuser`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserClaims {
    pub id: String,
    pub email: String,
    pub iat: i64,
    pub exp: i64,
}

/// What a service needs to read (and, for auth, write) sessions. Put it in the router state and
/// implement `FromRef` so the extractors find it.
#[derive(Clone)]
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    secure_cookie: bool,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("ttl", &self.ttl)
            .field("secure_cookie", &self.secure_cookie)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct CookieSession {
    jwt: String,
}

impl SessionKeys {
    /// The keys of the session configuration.
    pub fn from_config(config: &crate::config::SessionConfig) -> Self {
        use secrecy::ExposeSecret as _;
        Self::new(config.jwt_key.expose_secret(), config.cookie_secure)
    }

    pub fn new(jwt_key: &str, secure_cookie: bool) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp"]);
        Self {
            encoding: EncodingKey::from_secret(jwt_key.as_bytes()),
            decoding: DecodingKey::from_secret(jwt_key.as_bytes()),
            validation,
            ttl: DEFAULT_SESSION_TTL,
            secure_cookie,
        }
    }

    /// Signs a token for the user, valid from now for the session's lifetime.
    pub fn issue(&self, id: &str, email: &str) -> Result<String, AppError> {
        let iat = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = UserClaims {
            id: id.to_owned(),
            email: email.to_owned(),
            iat,
            exp: iat.saturating_add(ttl),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims (tests use it for expired tokens).
    pub fn sign(&self, claims: &UserClaims) -> Result<String, AppError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(AppError::internal)
    }

    /// The claims of a valid token, or `None`.
    pub fn verify(&self, token: &str) -> Option<UserClaims> {
        jsonwebtoken::decode::<UserClaims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }

    /// The claims of a cookie value in cookie-session format, or `None`.
    pub fn verify_cookie_value(&self, value: &str) -> Option<UserClaims> {
        let token = decode_cookie_value(value)?;
        self.verify(&token)
    }

    /// The `session` cookie holding `token`.
    pub fn cookie(&self, token: &str) -> Cookie<'static> {
        let mut cookie = Cookie::new(COOKIE_NAME, encode_cookie_value(token));
        cookie.set_path("/");
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_secure(self.secure_cookie);
        cookie
    }

    /// `session=<value>` as a browser signed in as this user sends it in its `Cookie` header;
    /// what the original's tests call `global.signin()`.
    pub fn cookie_header(&self, id: &str, email: &str) -> Result<String, AppError> {
        let token = self.issue(id, email)?;
        Ok(format!("{COOKIE_NAME}={}", encode_cookie_value(&token)))
    }

    /// A `session` cookie that tells the browser to forget the session.
    pub fn cleared_cookie(&self) -> Cookie<'static> {
        let mut cookie = self.cookie("");
        cookie.set_value("");
        cookie.make_removal();
        cookie
    }
}

/// `{"jwt":token}` in base64, as cookie-session writes it.
pub fn encode_cookie_value(token: &str) -> String {
    let json = serde_json::json!({ "jwt": token }).to_string();
    STANDARD.encode(json)
}

/// The token inside a cookie-session value, accepting any common base64 alphabet and padding.
pub fn decode_cookie_value(value: &str) -> Option<String> {
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(value.trim()).ok())?;
    serde_json::from_slice::<CookieSession>(&bytes)
        .ok()
        .map(|session| session.jwt)
}

/// The signed-in user, if any. Never rejects.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Option<UserClaims>);

impl<S> FromRequestParts<S> for CurrentUser
where
    SessionKeys: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let keys = SessionKeys::from_ref(state);
        let user = session_cookie(parts)
            .as_deref()
            .and_then(|value| keys.verify_cookie_value(value));
        Ok(Self(user))
    }
}

/// The signed-in user, with the id typed; 401 `Not authorized` when there is none, or when the
/// session's id is not an ObjectId (auth issues nothing else, so such a session was not ours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequireUser {
    pub id: bson::oid::ObjectId,
    pub email: String,
}

impl<S> FromRequestParts<S> for RequireUser
where
    SessionKeys: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        let user = user.ok_or(AppError::NotAuthorized)?;
        let id = bson::oid::ObjectId::parse_str(&user.id).map_err(|_| AppError::NotAuthorized)?;
        Ok(Self {
            id,
            email: user.email,
        })
    }
}

/// The raw `session` cookie value, read through tower-cookies when its layer is installed and
/// straight from the header otherwise, so the extractors work in any router.
fn session_cookie(parts: &Parts) -> Option<String> {
    if let Some(cookies) = parts.extensions.get::<Cookies>() {
        return cookies.get(COOKIE_NAME).map(|c| c.value().to_owned());
    }
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| Cookie::parse(pair.trim().to_owned()).ok())
        .find(|cookie| cookie.name() == COOKIE_NAME)
        .map(|cookie| cookie.value().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys::new("test-key", true)
    }

    #[test]
    fn round_trips_through_the_cookie_format() {
        let keys = keys();
        let token = keys.issue("abc", "a@b.co").expect("issues");
        let value = encode_cookie_value(&token);
        // cookie-session's format exactly: base64 of {"jwt":"…"}.
        let decoded = String::from_utf8(STANDARD.decode(&value).expect("base64")).expect("utf8");
        assert_eq!(decoded, format!(r#"{{"jwt":"{token}"}}"#));
        let claims = keys.verify_cookie_value(&value).expect("valid");
        assert_eq!(
            (claims.id.as_str(), claims.email.as_str()),
            ("abc", "a@b.co")
        );
        assert_eq!(claims.exp - claims.iat, 24 * 60 * 60);
    }

    #[test]
    fn rejects_forged_expired_and_garbage_values() {
        let keys = keys();
        let forged = SessionKeys::new("other-key", true)
            .issue("abc", "a@b.co")
            .expect("issues");
        assert!(
            keys.verify_cookie_value(&encode_cookie_value(&forged))
                .is_none()
        );

        let now = chrono::Utc::now().timestamp();
        let expired = keys
            .sign(&UserClaims {
                id: "abc".into(),
                email: "a@b.co".into(),
                iat: now - 7200,
                exp: now - 3600,
            })
            .expect("signs");
        assert!(
            keys.verify_cookie_value(&encode_cookie_value(&expired))
                .is_none()
        );

        for garbage in ["", "%%%", "bm90IGpzb24=", "eyJqd3QiOjF9", "e30="] {
            assert!(keys.verify_cookie_value(garbage).is_none(), "{garbage}");
        }
    }

    #[test]
    fn cookie_attributes() {
        let cookie = keys().cookie("t");
        let text = cookie.to_string();
        assert!(text.starts_with("session="), "{text}");
        for attribute in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure"] {
            assert!(text.contains(attribute), "{text} lacks {attribute}");
        }
        let insecure = SessionKeys::new("k", false).cookie("t").to_string();
        assert!(!insecure.contains("Secure"), "{insecure}");
    }
}

#[cfg(test)]
mod require_user {
    use axum::http::{Request, header};

    use super::*;

    async fn extract(cookie: Option<String>) -> Result<RequireUser, AppError> {
        let keys = SessionKeys::new("test-key", false);
        let mut request = Request::builder().uri("/");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let (mut parts, ()) = request.body(()).expect("a request").into_parts();
        RequireUser::from_request_parts(&mut parts, &keys).await
    }

    #[tokio::test]
    async fn carries_the_typed_id_and_refuses_ids_auth_never_issues() {
        let keys = SessionKeys::new("test-key", false);
        let id = bson::oid::ObjectId::new();
        let cookie = keys.cookie_header(&id.to_hex(), "a@b.co").expect("signs");
        assert_eq!(
            extract(Some(cookie)).await.expect("signed in"),
            RequireUser {
                id,
                email: "a@b.co".to_owned()
            }
        );
        let odd = keys
            .cookie_header("not-an-object-id", "a@b.co")
            .expect("signs");
        assert!(matches!(
            extract(Some(odd)).await,
            Err(AppError::NotAuthorized)
        ));
        assert!(matches!(extract(None).await, Err(AppError::NotAuthorized)));
    }
}
