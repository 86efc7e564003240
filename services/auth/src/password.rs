//! Password hashing with argon2id.
//!
//! Hashing is deliberately slow (tens of milliseconds) and needs 19 MiB, so it runs on a few
//! threads of its own, one per core, never on an async worker (it would stall every other request
//! on that thread): a burst of sign-ups queues instead of running all at once. Memory: glibc's
//! dynamic mmap threshold would keep each freed 19 MiB block cached (auth reached 380 MB), so the
//! service runs with `MALLOC_MMAP_THRESHOLD_=1048576` (its Deployment and the local stack set it)
//! and the blocks are unmapped on free.

use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads' queue; `None` if no thread could be started.
static HASHERS: LazyLock<Option<mpsc::Sender<Job>>> = LazyLock::new(|| {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    let threads = std::thread::available_parallelism().map_or(2, |cores| cores.get());
    let mut started = 0;
    for index in 0..threads {
        let queue = Arc::clone(&queue);
        let spawned = std::thread::Builder::new()
            .name(format!("argon2-{index}"))
            .spawn(move || {
                // The lock is held only while waiting for the next job, not while running it.
                while let Some(job) = queue.lock().ok().and_then(|queue| queue.recv().ok()) {
                    job();
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(error) => tracing::error!(%error, "cannot start a hashing thread"),
        }
    }
    (started > 0).then_some(jobs)
});

/// Runs argon2 work on the hashing threads (on the blocking pool if there are none).
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let Some(jobs) = HASHERS.as_ref() else {
        return Ok(tokio::task::spawn_blocking(work).await?);
    };
    let (done, result) = tokio::sync::oneshot::channel();
    jobs.send(Box::new(move || {
        let _ = done.send(work());
    }))
    .map_err(|_| anyhow::anyhow!("the hashing threads have stopped"))?;
    Ok(result.await?)
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
