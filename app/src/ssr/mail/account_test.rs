//! "Run test" for a mail account: a fresh token first, one refresh-and-retry if the login is
//! refused, and the result stored on the account.

use std::time::Duration;

use tracing::instrument;

use super::checklist::not_authorised;
use super::{test, Credential, Mechanism, Target};
use futures_util::FutureExt;

use crate::domain::{AccountStatus, AuthMethod, EventKind, Protocol, ProtocolResult, SessionUser};
use crate::error::AppError;
use crate::ssr::crypto::aad;
use crate::ssr::db::mail_accounts::MailAccountRow;
use crate::ssr::{db, oauth, refresh, AppState};

/// "Run test" by `user`: within their rate, joining a test of the same account and protocol
/// that is already running, and counting a refused password login against them.
pub async fn run_for(
    state: &AppState,
    user: &SessionUser,
    id: i64,
    protocol: Protocol,
) -> Result<ProtocolResult, AppError> {
    let password = account(state, id).await?.password_enc.is_some();
    let gate = &state.mail_tests;
    gate.admit(&state.pool, user.id, state.clock.now(), password)
        .await?;
    let st = state.clone();
    // It runs in a task of its own, where the caller's task-local actor is not: carried in.
    let actor = crate::ssr::audit::current();
    let test =
        crate::ssr::audit::acting(
            actor,
            async move { run_account_test(&st, id, protocol).await },
        )
        .boxed();
    let running = gate.start(id, protocol, test);
    if !password {
        return running.await;
    }
    // A task of its own, so that the attempt is settled even if this request goes away; awaited
    // here, so that the next test of this user sees it settled.
    let (st, user_id, outcome) = (state.clone(), user.id, running);
    let settled = tokio::spawn(async move {
        let result = outcome.await;
        if !matches!(&result, Ok(r) if r.auth_failed) {
            if let Err(e) = st.mail_tests.password_not_refused(&st.pool, user_id).await {
                tracing::warn!(error = %e, "giving back a password attempt");
            }
        }
        result
    });
    settled.await.unwrap_or(Err(AppError::Internal))
}

async fn account(state: &AppState, id: i64) -> Result<MailAccountRow, AppError> {
    db::mail_accounts::get(&state.pool, id)
        .await?
        .ok_or_else(|| AppError::NotFound("The mail account".into()))
}

#[instrument(skip_all, fields(account_id = id, protocol = protocol.label()))]
pub async fn run_account_test(
    state: &AppState,
    id: i64,
    protocol: Protocol,
) -> Result<ProtocolResult, AppError> {
    let account = account(state, id).await?;
    if account.status == AccountStatus::Disabled {
        return Ok(not_authorised(
            protocol,
            "the mailbox is disabled (its owner's account was deactivated)",
        ));
    }
    let server = db::mail_servers::get(&state.pool, account.mail_server_id)
        .await?
        .ok_or_else(|| AppError::NotFound("The mail server".into()))?;
    let (host, port, encryption) = match protocol {
        Protocol::Imap => (server.imap_host, server.imap_port, server.imap_encryption),
        Protocol::Smtp => (server.smtp_host, server.smtp_port, server.smtp_encryption),
    };
    let target = Target {
        host,
        port: port as u16,
        encryption,
        validate_certificate: server.validate_certificate,
        login: account.login.clone(),
        mechanism: Mechanism::Auto,
    };
    let timeout = Duration::from_secs(state.mail.timeout_secs);
    let extra = &state.mail.extra_ca;
    let run = |cred: Credential| {
        let target = &target;
        async move {
            test(
                protocol,
                target,
                &cred,
                extra,
                &state.outbound.policy,
                timeout,
            )
            .await
        }
    };
    let result = if server.auth_method == AuthMethod::Password {
        let pw = account
            .password_enc
            .as_ref()
            .and_then(|b| {
                state
                    .secrets
                    .open_str(b, &aad::ACCOUNT_PASSWORD.row(id))
                    .ok()
            })
            .ok_or_else(|| AppError::Refused("This mail account has no password stored.".into()))?;
        run(Credential::Password(pw)).await
    } else {
        oauth::client::load(state, account.mail_server_id).await?;
        // The token is read after the server row: a change of the server's destination
        // withdraws the grants in its own transaction, so a token found here was granted for
        // the host and port read above.
        let token = match refresh::ensure_fresh(state, id, 120).await {
            Ok(t) => t,
            Err(e) => return Ok(not_authorised(protocol, &e.to_string())),
        };
        let first = run(Credential::Bearer(token)).await;
        if first.ok || !first.auth_failed {
            first
        } else {
            // A refused token: refresh once and retry once before reporting — at most once a
            // minute per account, so that clicking cannot hammer the provider.
            if !state
                .mail_tests
                .may_force_refresh(&state.pool, id, state.clock.now())
                .await?
            {
                let mut r = first;
                r.message = format!(
                    "{} (the token was refreshed less than a minute ago; not again yet)",
                    r.message
                );
                return store(state, id, protocol, r).await;
            }
            match refresh::refresh(state, id, 0, true).await {
                Ok(()) => match refresh::ensure_fresh(state, id, 0).await {
                    Ok(t) => {
                        let mut second = run(Credential::Bearer(t)).await;
                        if !second.ok {
                            second.message = format!(
                                "{} (after refreshing the token and retrying once)",
                                second.message
                            );
                        }
                        second
                    }
                    Err(e) => not_authorised(protocol, &e.to_string()),
                },
                Err(e) => {
                    let mut r = first;
                    r.message = format!("{} The refresh that followed failed too: {e}", r.message);
                    r.hint = Some(
                        "The provider refused the refresh token: authorize the mailbox again."
                            .into(),
                    );
                    r
                }
            }
        }
    };
    store(state, id, protocol, result).await
}

async fn store(
    state: &AppState,
    id: i64,
    protocol: Protocol,
    result: ProtocolResult,
) -> Result<ProtocolResult, AppError> {
    crate::ssr::metrics::mail_test(protocol, result.ok);
    let now = state.clock.now();
    let mut change = crate::ssr::webhooks::Change::begin(&state.pool).await?;
    db::mail_accounts::store_test(
        &mut **change.tx(),
        id,
        protocol,
        result.ok,
        &result.message,
        now,
    )
    .await?;
    let kind = if result.ok {
        EventKind::TestPassed
    } else {
        EventKind::TestFailed
    };
    let test = serde_json::json!({
        "protocol": protocol.label().to_lowercase(),
        "ok": result.ok,
        "message": result.message,
    });
    change.emit(kind, id, Some(("test", test)), now).await?;
    change.commit(&state.webhooks).await?;
    Ok(result)
}
