//! Password hashing with argon2id.
//!
//! Hashing is deliberately slow (tens of milliseconds), so it runs on tokio's blocking pool:
//! on an async worker it would stall every other request on that thread. At most one hash per
//! core runs at a time: each needs 19 MiB and a core's worth of time, so running more at once
//! finishes none sooner and only grows the heap (a burst of sign-ups took auth to 220 MB).

use std::sync::LazyLock;

use tokio::sync::Semaphore;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(2, |cores| cores.get()))
});

/// Runs argon2 work on the blocking pool, one job per core at a time.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _permit = HASHING.acquire().await?;
    Ok(tokio::task::spawn_blocking(work).await?)
}

/// Hashes `password` into a PHC string.
pub async fn hash(password: String) -> anyhow::Result<String> {
    hashing(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| anyhow::anyhow!("argon2 hashing failed: {error}"))
    })
    .await?
}

/// A hash of nothing in particular, checked when the email is unknown so that an unknown email
/// takes as long as a wrong password and timing does not reveal which accounts exist.
static DECOY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(b"decoy password", &salt)
        .map(|hash| hash.to_string())
        .ok()
});

/// Whether `password` matches `stored` (a PHC string). With no stored hash, checks the decoy and
/// answers false.
pub async fn verify(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    hashing(move || {
        let (stored, real) = match stored {
            Some(stored) => (stored, true),
            None => match DECOY_HASH.as_ref() {
                Some(decoy) => (decoy.clone(), false),
                None => return Ok(false),
            },
        };
        let parsed = PasswordHash::new(&stored)
            .map_err(|error| anyhow::anyhow!("stored password hash is malformed: {error}"))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(real && matches)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let stored = hash("secret".into()).await.expect("hashes");
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(
            verify("secret".into(), Some(stored.clone()))
                .await
                .expect("verifies")
        );
        assert!(
            !verify("wrong".into(), Some(stored))
                .await
                .expect("verifies")
        );
        assert!(
            !verify("decoy password".into(), None)
                .await
                .expect("verifies")
        );
    }
}
