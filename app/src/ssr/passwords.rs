//! Password hashing: Argon2id with the crate's default (OWASP-recommended) parameters, always
//! off the async threads.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use crate::domain::Password;
use crate::error::AppError;

pub async fn hash(password: &Password) -> Result<String, AppError> {
    let raw = password.expose().to_string();
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

/// Checks `raw` against a stored hash. With no hash (unknown email) a dummy hash is still
/// checked, so the answer takes as long either way and does not reveal which emails exist.
pub async fn verify(stored: Option<String>, raw: &str) -> bool {
    let raw = raw.to_string();
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
