//! The token a gateway signs in upstream with: from the single-flight refresh path, recorded as
//! handed out to the app password, and — when the upstream refuses it — refreshed once (at
//! most once a minute per account, the budget of a test's forced refresh) and tried once more.

use std::future::Future;

use app::domain::MailAccountView;
use app::ssr::refresh::{self, RefreshError};
use app::ssr::service::app_passwords::Granted;
use app::ssr::{db, AppState};

use super::upstream::OpenError;

/// A token good for at least this long is used as it is.
const MARGIN_SECS: i64 = 120;

fn unusable(e: RefreshError) -> OpenError {
    match e {
        RefreshError::Transient(m) => {
            OpenError::Down(format!("the token could not be refreshed now: {m}"))
        }
        RefreshError::Busy => {
            OpenError::Down("the token is being refreshed by another instance".into())
        }
        other => OpenError::Unusable(format!(
            "{other} (its owner must authorize the mailbox again in Mailbridge)"
        )),
    }
}

async fn record(st: &AppState, who: &Granted, client: &str, protocol: &str) {
    let now = st.clock.now();
    let name = format!("app password '{}' ({protocol})", who.password_name);
    if let Err(e) =
        db::token_handouts::record_named(&st.pool, who.account.id, &name, client, now).await
    {
        tracing::warn!(error = %e, "a token hand-out was not recorded");
    }
    app::ssr::metrics::token_handout(if protocol == "SMTP" {
        "smtp_relay"
    } else {
        "imap_proxy"
    });
}

/// Runs `open` with the account's token; on a refused token, once more with a new one.
pub async fn with_token<T, F, Fut>(
    st: &AppState,
    who: &Granted,
    client: &str,
    protocol: &str,
    open: F,
) -> Result<T, OpenError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, OpenError>>,
{
    let account: &MailAccountView = &who.account;
    let token = refresh::ensure_fresh(st, account.id, MARGIN_SECS)
        .await
        .map_err(unusable)?;
    record(st, who, client, protocol).await;
    let refused = match open(token).await {
        Err(OpenError::Refused(reply)) => reply,
        other => return other,
    };
    let now = st.clock.now();
    let may = st
        .mail_tests
        .may_force_refresh(&st.pool, account.id, now)
        .await
        .unwrap_or(false);
    if !may {
        return Err(OpenError::Refused(refused));
    }
    tracing::info!(
        account_id = account.id,
        "the upstream refused the token; refreshing once"
    );
    refresh::refresh(st, account.id, 0, true)
        .await
        .map_err(unusable)?;
    let token = refresh::ensure_fresh(st, account.id, 0)
        .await
        .map_err(unusable)?;
    record(st, who, client, protocol).await;
    open(token).await
}
