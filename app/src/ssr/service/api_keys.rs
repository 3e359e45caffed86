//! API keys: created by an admin (shown once), listed, revoked; and checked on every REST
//! request — by hash, for revocation, expiry, the caller's address and the per-key rate.

use std::net::IpAddr;

use tracing::instrument;

use crate::domain::api_key::{label, ApiKeyDraft, KEY_PREFIX};
use crate::domain::{ApiKeyView, CidrList, CreatedApiKey};
use crate::error::AppError;
use crate::ssr::db::{self, api_keys::ApiKeyRow};
use crate::ssr::sessions::{random_token, token_hash};
use crate::ssr::{audit, AppState};

/// Characters of a key kept for display ("mbk_" and the first 8 random ones).
const SHOWN: usize = 12;

#[instrument(skip_all, fields(user_id = created_by))]
pub async fn create(
    st: &AppState,
    created_by: i64,
    draft: &ApiKeyDraft,
) -> Result<CreatedApiKey, AppError> {
    let now = st.clock.now();
    let spec = draft.parse(now).map_err(AppError::fields)?;
    let key = format!("{KEY_PREFIX}{}", random_token());
    let mut tx = st.pool.begin().await.map_err(crate::ssr::begin_failed)?;
    for server in spec.servers.iter().flatten() {
        if db::mail_servers::get(&mut *tx, *server).await?.is_none() {
            return Err(AppError::field(
                label::SERVERS,
                format!("mail server {server} does not exist"),
            ));
        }
    }
    let id = db::api_keys::insert(
        &mut tx,
        &spec,
        &key[..SHOWN],
        &token_hash(&key),
        created_by,
        now,
    )
    .await
    .map_err(|e| {
        if e.is_unique_violation() {
            AppError::field(label::NAME, "an API key with this name already exists")
        } else {
            e.into()
        }
    })?;
    tx.commit().await.map_err(crate::ssr::commit_failed)?;
    // The name is logged so the audit of who created what is possible; the key never is.
    tracing::info!(
        api_key_id = id,
        name = spec.name.as_str(),
        "API key created"
    );
    let summary = format!(
        "API key '{}' created ({}; {})",
        spec.name.as_str(),
        permissions_text(spec.perm_tokens, spec.perm_accounts),
        if spec.servers.is_none() {
            "all mail servers"
        } else {
            "chosen mail servers"
        }
    );
    audit::admin_did(&st.pool, "api_key.created", summary, (None, None), now).await;
    Ok(CreatedApiKey { id, key })
}

pub async fn list(st: &AppState) -> Result<Vec<ApiKeyView>, AppError> {
    let rows = db::api_keys::list(&st.pool).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let scope = if r.all_servers {
            "all mail servers".to_string()
        } else {
            let servers = db::api_keys::servers(&st.pool, r.id).await?;
            if servers.is_empty() {
                // Every chosen server was deleted since: the key reaches nothing.
                "no mail server (deleted)".to_string()
            } else {
                servers
                    .into_iter()
                    .map(|(_, s)| s)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        out.push(ApiKeyView {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            scope,
            permissions: permissions_text(r.perm_tokens, r.perm_accounts),
            allowed_ips: r.allowed_ips,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            last_used_addr: r.last_used_addr,
            revoked: r.revoked_at.is_some(),
        });
    }
    Ok(out)
}

fn permissions_text(tokens: bool, accounts: bool) -> String {
    [(tokens, "tokens"), (accounts, "accounts")]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, p)| p)
        .collect::<Vec<_>>()
        .join(", ")
}

#[instrument(skip_all, fields(api_key_id = id))]
pub async fn revoke(st: &AppState, id: i64) -> Result<(), AppError> {
    if !db::api_keys::revoke(&st.pool, id, st.clock.now()).await? {
        return Err(AppError::NotFound("The API key".into()));
    }
    tracing::info!("API key revoked");
    let name = db::api_keys::list(&st.pool)
        .await?
        .into_iter()
        .find(|k| k.id == id)
        .map(|k| k.name)
        .unwrap_or_default();
    let summary = format!("API key '{name}' revoked");
    audit::admin_did(
        &st.pool,
        "api_key.revoked",
        summary,
        (None, None),
        st.clock.now(),
    )
    .await;
    Ok(())
}

/// A caller the API let in.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key: ApiKeyRow,
    pub addr: IpAddr,
}

impl ApiCaller {
    /// Whether this key may reach accounts of `server`.
    pub async fn reaches(&self, st: &AppState, server: i64) -> Result<bool, AppError> {
        if self.key.all_servers {
            return Ok(true);
        }
        Ok(db::api_keys::reaches(&st.pool, self.key.id, server).await?)
    }
}

/// Why a request was not let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Missing, unknown, revoked or expired key (401).
    InvalidToken(&'static str),
    /// The caller's address is not in the key's list (403).
    Address,
    /// Over the per-key rate (429).
    Rate { retry_after_secs: u64 },
}

/// Checks the bearer key of a request from `addr`, counts it against the key's rate and notes
/// the use.
pub async fn authenticate(
    st: &AppState,
    bearer: Option<&str>,
    addr: IpAddr,
    per_minute: i64,
) -> Result<Result<ApiCaller, Refusal>, AppError> {
    let Some(key) = bearer.filter(|k| k.starts_with(KEY_PREFIX) && k.len() < 200) else {
        return Ok(Err(Refusal::InvalidToken(
            "an API key is required: Authorization: Bearer mbk_…",
        )));
    };
    let Some(row) = db::api_keys::by_hash(&st.pool, &token_hash(key)).await? else {
        return Ok(Err(Refusal::InvalidToken("the API key is not known")));
    };
    let now = st.clock.now();
    if row.revoked_at.is_some() {
        return Ok(Err(Refusal::InvalidToken("the API key was revoked")));
    }
    if row.expires_at.is_some_and(|e| now >= e) {
        return Ok(Err(Refusal::InvalidToken("the API key has expired")));
    }
    // An unreadable stored list admits nobody, like an application's.
    let allowed = CidrList::parse(&row.allowed_ips)
        .map(|l| l.allows(addr))
        .unwrap_or(false);
    if !allowed {
        return Ok(Err(Refusal::Address));
    }
    if !db::rate_events::record_within(&st.pool, RATE_KIND, row.id, now, now - 60, per_minute)
        .await?
    {
        let (_, first) =
            db::rate_events::count_since(&st.pool, RATE_KIND, row.id, now - 60).await?;
        let retry = first.map(|t| t + 60 - now).unwrap_or(60).max(1);
        return Ok(Err(Refusal::Rate {
            retry_after_secs: retry as u64,
        }));
    }
    db::api_keys::touch(&st.pool, row.id, &addr.to_string(), now).await?;
    Ok(Ok(ApiCaller { key: row, addr }))
}

/// The kind under which API requests are counted in `rate_events`.
pub const RATE_KIND: &str = "api_request";
