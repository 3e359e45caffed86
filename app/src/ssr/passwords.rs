//! Password hashing: Argon2id with the crate's default (OWASP-recommended) parameters, always
//! off the async threads.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use crate::domain::Password;
use crate::error::AppError;

pub async fn hash(password: &Password) -> Result<String, AppError> {
    hash_raw(password.expose()).await
}

/// Hashes a secret that is not a user's password (an app password: generated, so its
/// strength needs no checking).
pub async fn hash_raw(raw: &str) -> Result<String, AppError> {
    let raw = raw.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(raw.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| super::internal("hashing a password", e))
    })
    .await
    .map_err(|e| super::internal("password hashing task", e))?
}

/// How long a sign-in waits for a free hashing slot before it is told to come back.
const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Counts password checks (tests compare it before and after a burst of guesses).
pub static VERIFICATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// [`verify`] under the server's hashing limit: with every slot taken for a second, the caller
/// gets a 429 to retry instead of queueing without bound (each hash holds 19 MiB).
pub async fn verify_limited(
    limit: &tokio::sync::Semaphore,
    stored: Option<String>,
    raw: &str,
) -> Result<bool, AppError> {
    let _slot = match tokio::time::timeout(QUEUE_WAIT, limit.acquire()).await {
        Ok(Ok(permit)) => permit,
        _ => {
            return Err(AppError::RateLimited {
                message: "The server is busy checking other sign-ins; try again in a moment."
                    .into(),
                retry_after_secs: 2,
            })
        }
    };
    Ok(verify(stored, raw).await)
}

/// Checks `raw` against a stored hash. With no hash (unknown email) a dummy hash is still
/// checked, so the answer takes as long either way and does not reveal which emails exist.
pub async fn verify(stored: Option<String>, raw: &str) -> bool {
    let raw = raw.to_string();
    VERIFICATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => (dummy_hash(), false),
        };
        let ok = PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(raw.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && real
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(b"not a real password", &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}
