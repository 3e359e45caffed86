//! Secrets at rest: XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`), a random 192-bit
//! nonce per value, and `table.column:id` as associated data so a ciphertext cannot be moved
//! to another column or another row unnoticed.

use std::path::{Path, PathBuf};

use crate::ssr::db::Pool;
use base64::Engine;
use chacha20poly1305::{
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
    XChaCha20Poly1305, XNonce,
};

/// Associated data of each sealed column: a ciphertext moved to another column, or to another
/// row of the same column, fails to open.
pub mod aad {
    /// A sealed column; [`Column::row`] names one row's value.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Column(&'static str);

    impl Column {
        /// The associated data of this column in row `id`: `table.column:id`.
        pub fn row(self, id: impl std::fmt::Display) -> String {
            format!("{}:{id}", self.0)
        }

        /// Before rows were bound (databases older than migration 0007): the column only.
        pub fn legacy(self) -> &'static str {
            self.0
        }
    }

    pub const CLIENT_SECRET: Column = Column("mail_servers.client_secret");
    pub const ACCOUNT_PASSWORD: Column = Column("mail_accounts.password");
    pub const ACCESS_TOKEN: Column = Column("mail_accounts.access_token");
    pub const REFRESH_TOKEN: Column = Column("mail_accounts.refresh_token");
    /// Rows of `oauth_states` are named by their state hash.
    pub const PKCE_VERIFIER: Column = Column("oauth_states.pkce_verifier");
    pub const NONCE: Column = Column("oauth_states.nonce");
    pub const WEBHOOK_SECRET: Column = Column("webhooks.secret");
    pub const KEY_CHECK: &str = "settings.secret_key_check";
}

const NONCE_LEN: usize = 24;
const CHECK_PLAINTEXT: &[u8] = b"mailbridge secret key check v1";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("MAILBRIDGE_SECRET_KEY: expected the base64 of exactly 32 bytes (e.g. from `openssl rand -base64 32`)")]
    BadEnvKey,
    #[error("MAILBRIDGE_SECRET_KEY_FILE: {path} does not hold the base64 of exactly 32 bytes")]
    BadFileKey { path: String },
    #[error("MAILBRIDGE_SECRET_KEY_FILE: cannot read or create {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("MAILBRIDGE_SECRET_KEY: the key does not decrypt the secrets already in this database; refusing to start rather than lose them (restore the original key or key file)")]
    WrongKey,
    #[error("MAILBRIDGE_SECRET_KEY_FILE: {path} is missing but this database holds secrets encrypted with a key; restore the file or set MAILBRIDGE_SECRET_KEY")]
    MissingKey { path: String },
    #[error("cannot check the secret key against the database: {0}")]
    Db(#[from] super::db::QueryError),
}

#[derive(Debug, thiserror::Error)]
#[error("a stored secret could not be decrypted")]
pub struct DecryptError;

pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        SecretBox {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// `nonce || ciphertext+tag`.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        // Encryption with a valid key and nonce cannot fail for in-memory sizes.
        let ct = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .unwrap_or_default();
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, blob: &[u8], aad: &str) -> Result<Vec<u8>, DecryptError> {
        if blob.len() < NONCE_LEN + 16 {
            return Err(DecryptError);
        }
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| DecryptError)
    }

    pub fn seal_str(&self, plaintext: &str, aad: &str) -> Vec<u8> {
        self.seal(plaintext.as_bytes(), aad)
    }

    pub fn open_str(&self, blob: &[u8], aad: &str) -> Result<String, DecryptError> {
        self.open(blob, aad)
            .and_then(|v| String::from_utf8(v).map_err(|_| DecryptError))
    }
}

fn decode_key(text: &str) -> Option<[u8; 32]> {
    let t = text.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(t)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(t))
        .ok()?;
    bytes.try_into().ok()
}

/// The default key file: `secret.key` next to the database file.
pub fn default_key_file(database_file: &Path) -> PathBuf {
    database_file
        .parent()
        .map(|d| d.join("secret.key"))
        .unwrap_or_else(|| PathBuf::from("secret.key"))
}

/// Loads the key from `MAILBRIDGE_SECRET_KEY` or the key file, creating the file (mode 0600)
/// only for a database that holds no secrets yet, then proves the key against the database.
pub async fn load(
    pool: &Pool,
    env_key: Option<&str>,
    key_file: &Path,
) -> Result<SecretBox, KeyError> {
    let check = super::db::settings::get(pool, super::db::settings::SECRET_KEY_CHECK).await?;
    let key = match env_key {
        Some(k) => decode_key(k).ok_or(KeyError::BadEnvKey)?,
        None => {
            let path = key_file.display().to_string();
            match std::fs::read_to_string(key_file) {
                Ok(text) => decode_key(&text).ok_or(KeyError::BadFileKey { path })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if check.is_some() {
                        return Err(KeyError::MissingKey { path });
                    }
                    create_key_file(key_file).map_err(|source| KeyError::Io { path, source })?
                }
                Err(source) => return Err(KeyError::Io { path, source }),
            }
        }
    };
    let sb = SecretBox::new(&key);
    match check {
        Some(value) => {
            let blob = base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|_| KeyError::WrongKey)?;
            if sb.open(&blob, aad::KEY_CHECK).ok().as_deref() != Some(CHECK_PLAINTEXT) {
                return Err(KeyError::WrongKey);
            }
        }
        None => {
            let blob = sb.seal(CHECK_PLAINTEXT, aad::KEY_CHECK);
            // Only at first start, when no clock has been moved yet.
            let now = super::clock::Clock::default().now();
            let value = base64::engine::general_purpose::STANDARD.encode(blob);
            super::db::settings::set(pool, super::db::settings::SECRET_KEY_CHECK, &value, now)
                .await?;
        }
    }
    bind_to_rows(pool, &sb).await?;
    Ok(sb)
}

/// Re-seals the values of a database from before migration 0007 (sealed with the column's name
/// only) with their row's associated data, once, in one transaction: either every value is
/// bound to its row or none is and the next start tries again. A value that does not open is
/// left as it is: its account shows the decryption error instead of the start failing.
async fn bind_to_rows(pool: &Pool, sb: &SecretBox) -> Result<(), KeyError> {
    use super::db::{mail_accounts, mail_servers, settings};
    if settings::get(pool, settings::SECRETS_BOUND_TO_ROWS)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let reseal = |blob: Option<Vec<u8>>, column: aad::Column, id: i64| -> Option<Vec<u8>> {
        let blob = blob?;
        Some(match sb.open(&blob, column.legacy()) {
            Ok(plain) => sb.seal(&plain, &column.row(id)),
            Err(_) => blob,
        })
    };
    use super::db::Context;
    let mut tx = pool
        .begin()
        .await
        .context("binding secrets to their rows")?;
    let servers = mail_servers::sealed_secrets(&mut *tx).await?;
    let n_servers = servers.len();
    for (id, blob) in servers {
        let blob = reseal(Some(blob), aad::CLIENT_SECRET, id);
        mail_servers::set_secret(&mut *tx, id, blob).await?;
    }
    let accounts = mail_accounts::sealed_values(&mut *tx).await?;
    let n_accounts = accounts.len();
    for a in accounts {
        mail_accounts::reseal(
            &mut *tx,
            a.id,
            reseal(a.password_enc, aad::ACCOUNT_PASSWORD, a.id),
            reseal(a.access_token_enc, aad::ACCESS_TOKEN, a.id),
            reseal(a.refresh_token_enc, aad::REFRESH_TOKEN, a.id),
        )
        .await?;
    }
    let now = super::clock::Clock::default().now();
    settings::set(&mut *tx, settings::SECRETS_BOUND_TO_ROWS, "1", now).await?;
    tx.commit().await.context("binding secrets to their rows")?;
    if n_servers + n_accounts > 0 {
        tracing::info!(
            servers = n_servers,
            accounts = n_accounts,
            "stored secrets bound to their rows"
        );
    }
    Ok(())
}

fn create_key_file(path: &Path) -> std::io::Result<[u8; 32]> {
    use std::io::Write;
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    writeln!(
        f,
        "{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )?;
    f.sync_all()?;
    tracing::info!(path = %path.display(), "created a new secret key file; back it up with the database");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let sb = SecretBox::new(&[7u8; 32]);
        let blob = sb.seal_str("client-secret", "mail_servers.client_secret");
        assert!(!blob.windows(6).any(|w| w == b"client"));
        assert_eq!(
            sb.open_str(&blob, "mail_servers.client_secret").unwrap(),
            "client-secret"
        );
        assert!(sb.open_str(&blob, "mail_accounts.refresh_token").is_err());
        assert!(SecretBox::new(&[8u8; 32])
            .open_str(&blob, "mail_servers.client_secret")
            .is_err());
        assert!(sb.open(&blob[..10], "x").is_err());
    }

    #[test]
    fn a_value_opens_only_in_its_own_row() {
        let sb = SecretBox::new(&[7u8; 32]);
        let blob = sb.seal_str("refresh", &aad::REFRESH_TOKEN.row(1));
        assert_eq!(
            sb.open_str(&blob, &aad::REFRESH_TOKEN.row(1)).unwrap(),
            "refresh"
        );
        assert!(sb.open_str(&blob, &aad::REFRESH_TOKEN.row(2)).is_err());
        assert!(sb.open_str(&blob, &aad::ACCESS_TOKEN.row(1)).is_err());
        assert!(sb.open_str(&blob, aad::REFRESH_TOKEN.legacy()).is_err());
    }
}
