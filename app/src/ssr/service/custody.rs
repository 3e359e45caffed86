//! Custody of the mailbox grants when a mail server changes or goes: which changes move the
//! tokens somewhere their owners did not agree to, the admin's confirmation with the number of
//! mailboxes concerned, and the withdrawal of every grant given for the old destination (here,
//! and revoked at the provider that issued it).

use crate::ssr::db::Tx;
use futures_util::StreamExt;

use crate::domain::mail_server::label;
use crate::error::AppError;
use crate::ssr::crypto::aad;
use crate::ssr::db::mail_servers::{MailServerRecord, MailServerRow};
use crate::ssr::oauth::client::ServerOAuth;
use crate::ssr::{db, oauth, AppState};

/// Revocations sent at once when a server's grants are withdrawn.
const REVOKE_CONCURRENCY: usize = 8;

/// The labels of the settings that decide where a server's tokens go and that `new` changes.
pub fn destination_changes(old: &MailServerRow, new: &MailServerRecord) -> Vec<&'static str> {
    let mut changed = vec![];
    let mut check = |label: &'static str, differs: bool| {
        if differs {
            changed.push(label);
        }
    };
    check(label::AUTH_METHOD, old.auth_method != new.auth_method);
    check(label::PROVIDER, old.provider != new.provider);
    check(label::CLIENT_ID, old.client_id != new.client_id);
    check(label::TENANT, old.tenant != new.tenant);
    check(label::ISSUER_URL, old.issuer_url != new.issuer_url);
    check(
        "OAuth endpoints",
        old.auth_url != new.auth_url
            || old.token_url != new.token_url
            || old.userinfo_url != new.userinfo_url
            || old.revocation_url != new.revocation_url,
    );
    check(label::IMAP_HOST, old.imap_host != new.imap_host);
    check(label::IMAP_PORT, old.imap_port != new.imap_port);
    check(
        label::IMAP_ENCRYPTION,
        old.imap_encryption != new.imap_encryption,
    );
    check(label::SMTP_HOST, old.smtp_host != new.smtp_host);
    check(label::SMTP_PORT, old.smtp_port != new.smtp_port);
    check(
        label::SMTP_ENCRYPTION,
        old.smtp_encryption != new.smtp_encryption,
    );
    check(
        label::VALIDATE_CERTIFICATE,
        old.validate_certificate != new.validate_certificate,
    );
    changed
}

/// A change of destination about to be saved: what the owners are told, and the client of
/// the old provider (to revoke there).
pub struct Handover {
    fields: String,
    pub reason: String,
    pub old_client: Option<ServerOAuth>,
}

/// Gets ready to move a server's destination (`moved`: the labels of the settings changed).
/// Read before the change is written: the old OAuth client is where the grants are revoked.
pub async fn prepare_move(st: &AppState, server_id: i64, moved: &[&str]) -> Handover {
    let fields = moved.join(", ");
    Handover {
        reason: format!(
            "An administrator changed this mail server's {fields}, so the mailbox's grant was revoked: authorize it again to allow the new settings."
        ),
        fields,
        old_client: oauth::client::load(st, server_id).await.ok(),
    }
}

/// In the transaction that saves the change (after the server row is written, so the count is
/// exact): with grants on the server, `confirmed` must be their number, else the admin is asked
/// and the transaction is dropped. Then every grant is forgotten (`needs_reauth`, with the
/// reason) and the server's destination version moves on, so that an authorisation in flight
/// cannot store a grant for the old destination. Returns the grants, to revoke once committed.
pub async fn withdraw_grants(
    tx: &mut Tx<'_>,
    server_id: i64,
    handover: &Handover,
    confirmed: i64,
    now: i64,
) -> Result<Vec<(i64, Vec<u8>)>, AppError> {
    // Before counting: a grant being stored for this server now is either counted here or
    // stored after the change and refused.
    db::serialize(tx, &[&db::mail_servers::destination_lock(server_id)]).await?;
    db::mail_accounts::hold_server(tx, server_id).await?;
    let grants = db::mail_accounts::grants_on_server(&mut **tx, server_id).await?;
    let count = grants.len() as i64;
    if count > 0 && confirmed != count {
        let (n, them) = if count == 1 {
            ("1 linked mail account".to_string(), "its owner")
        } else {
            (format!("{count} linked mail accounts"), "their owners")
        };
        return Err(AppError::Confirm {
            count,
            message: format!(
                "Changing {} changes where the tokens of {n} go. Their grants will be revoked and {them} asked to authorise again. Confirm to save.",
                handover.fields
            ),
        });
    }
    db::mail_accounts::drop_grants_on_server(&mut **tx, server_id, &handover.reason, now).await?;
    crate::ssr::webhooks::emit_each(
        tx,
        crate::domain::EventKind::NeedsReauth,
        grants.iter().map(|g| g.0).collect::<Vec<i64>>(),
        now,
    )
    .await?;
    db::mail_servers::bump_destination(&mut **tx, server_id).await?;
    Ok(grants)
}

/// Revokes withdrawn grants at the provider that issued them, a few at a time. A failure is
/// logged, not fatal: the grant is already gone here. Returns how many failed.
pub async fn revoke_at_old_provider(
    st: &AppState,
    client: Option<&ServerOAuth>,
    grants: Vec<(i64, Vec<u8>)>,
) -> usize {
    if grants.is_empty() {
        return 0;
    }
    let Some(client) = client else {
        tracing::warn!(
            grants = grants.len(),
            "the old OAuth settings cannot be read; grants not revoked at the provider"
        );
        return grants.len();
    };
    let failed = futures_util::stream::iter(grants)
        .map(|(id, blob)| async move {
            let Ok(token) = st.secrets.open_str(&blob, &aad::REFRESH_TOKEN.row(id)) else {
                tracing::warn!(
                    account_id = id,
                    "a withdrawn grant does not decrypt; not revoked"
                );
                return 1;
            };
            match oauth::revocation::revoke(st, client, &token, "refresh_token").await {
                Ok(()) => 0,
                Err(m) => {
                    tracing::warn!(account_id = id, "revoking a withdrawn grant: {m}");
                    1
                }
            }
        })
        .buffer_unordered(REVOKE_CONCURRENCY)
        .fold(0usize, |n, f| async move { n + f })
        .await;
    tracing::info!(failed, "withdrawn grants revoked at the provider");
    failed
}
