//! Webhooks (admin): created with a signing secret shown once, changed, deleted; a test event;
//! a delivery sent again. Events themselves are emitted where accounts change
//! ([`crate::ssr::webhooks`]).

use tracing::instrument;

use crate::domain::webhook::{label, WebhookDraft, WebhookSpec};
use crate::domain::{CreatedWebhook, WebhookDetail, WebhookView};
use crate::error::AppError;
use crate::ssr::crypto::aad;
use crate::ssr::db::{self, webhooks::WebhookRow};
use crate::ssr::webhooks::{self, signature, Change};
use crate::ssr::{audit, AppState};

/// Deliveries shown on a webhook's page.
pub const SHOWN_DELIVERIES: i64 = 50;

/// Parses the draft, and refuses a URL the delivery could never reach (a private address
/// literal, plain http to the internet) now rather than at every delivery.
async fn parse(st: &AppState, draft: &WebhookDraft) -> Result<WebhookSpec, AppError> {
    let spec = draft.parse().map_err(AppError::fields)?;
    let url = url::Url::parse(spec.url.as_str())
        .map_err(|e| AppError::field(label::URL, format!("is not a URL: {e}")))?;
    st.outbound
        .check_url(&url)
        .await
        .map_err(|e| AppError::field(label::URL, e.to_string()))?;
    Ok(spec)
}

#[instrument(skip_all, fields(user_id = created_by))]
pub async fn create(
    st: &AppState,
    created_by: i64,
    draft: &WebhookDraft,
) -> Result<CreatedWebhook, AppError> {
    let spec = parse(st, draft).await?;
    let secret = signature::new_secret();
    let mut tx = st.pool.begin().await.map_err(crate::ssr::begin_failed)?;
    let id = db::webhooks::insert(&mut *tx, &spec, created_by, st.clock.now()).await?;
    let sealed = st.secrets.seal_str(&secret, &aad::WEBHOOK_SECRET.row(id));
    db::webhooks::set_secret(&mut *tx, id, sealed).await?;
    tx.commit().await.map_err(crate::ssr::commit_failed)?;
    tracing::info!(webhook_id = id, "webhook created");
    let summary = format!(
        "Webhook {} created ({})",
        display_url(&spec),
        events_text(&spec)
    );
    audit::admin_did(
        &st.pool,
        "webhook.created",
        summary,
        (None, None),
        st.clock.now(),
    )
    .await;
    Ok(CreatedWebhook { id, secret })
}

fn view(r: WebhookRow) -> WebhookView {
    WebhookView {
        events: r.event_kinds(),
        id: r.id,
        url: r.url,
        active: r.active,
        created_at: r.created_at,
        pending: r.pending,
        failed: r.failed,
    }
}

pub async fn list(st: &AppState) -> Result<Vec<WebhookView>, AppError> {
    Ok(db::webhooks::list(&st.pool)
        .await?
        .into_iter()
        .map(view)
        .collect())
}

/// A URL as the audit trail keeps it: scheme, host and port only — receivers often carry a
/// token in the path (Slack- and Discord-style) or the query.
fn strip_query(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}/…",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "(unreadable URL)".to_string(),
    }
}

fn display_url(spec: &WebhookSpec) -> String {
    strip_query(spec.url.as_str())
}

fn events_text(spec: &WebhookSpec) -> String {
    spec.events
        .iter()
        .map(|k| k.code())
        .collect::<Vec<_>>()
        .join(", ")
}

fn not_found() -> AppError {
    AppError::NotFound("The webhook".into())
}

pub async fn detail(st: &AppState, id: i64) -> Result<WebhookDetail, AppError> {
    let webhook = db::webhooks::get(&st.pool, id)
        .await?
        .map(view)
        .ok_or_else(not_found)?;
    let deliveries = db::outbox::latest(&st.pool, id, SHOWN_DELIVERIES).await?;
    Ok(WebhookDetail {
        webhook,
        deliveries,
    })
}

#[instrument(skip_all, fields(webhook_id = id))]
pub async fn update(st: &AppState, id: i64, draft: &WebhookDraft) -> Result<(), AppError> {
    let spec = parse(st, draft).await?;
    let before = db::webhooks::get(&st.pool, id)
        .await?
        .ok_or_else(not_found)?;
    if !db::webhooks::update(&st.pool, id, &spec).await? {
        return Err(not_found());
    }
    let yes_no = |v: bool| if v { "yes" } else { "no" }.to_string();
    let changed = audit::changes(&[
        ("URL", strip_query(&before.url), display_url(&spec)),
        (
            "Events",
            before
                .event_kinds()
                .iter()
                .map(|k| k.code())
                .collect::<Vec<_>>()
                .join(", "),
            events_text(&spec),
        ),
        ("Active", yes_no(before.active), yes_no(spec.active)),
    ]);
    if !changed.is_empty() {
        let summary = format!("Webhook {}: {changed}", strip_query(&before.url));
        audit::admin_did(
            &st.pool,
            "webhook.changed",
            summary,
            (None, None),
            st.clock.now(),
        )
        .await;
    }
    // Reactivated: what waited goes now.
    st.webhooks.wake();
    tracing::info!(active = spec.active, "webhook changed");
    Ok(())
}

#[instrument(skip_all, fields(webhook_id = id))]
pub async fn delete(st: &AppState, id: i64) -> Result<(), AppError> {
    let before = db::webhooks::get(&st.pool, id)
        .await?
        .ok_or_else(not_found)?;
    if !db::webhooks::delete(&st.pool, id).await? {
        return Err(not_found());
    }
    tracing::info!("webhook deleted");
    let summary = format!("Webhook {} deleted", strip_query(&before.url));
    audit::admin_did(
        &st.pool,
        "webhook.deleted",
        summary,
        (None, None),
        st.clock.now(),
    )
    .await;
    Ok(())
}

/// "Send test event": a `webhook.test` event to this webhook alone, active or not.
#[instrument(skip_all, fields(webhook_id = id))]
pub async fn send_test(st: &AppState, id: i64) -> Result<(), AppError> {
    let mut change = Change::begin(&st.pool).await?;
    if !webhooks::ping(change.tx(), id, st.clock.now()).await? {
        return Err(not_found());
    }
    change.commit(&st.webhooks).await?;
    st.webhooks.wake();
    Ok(())
}

/// "Redeliver": the delivery goes again from now, with its attempts counted afresh.
#[instrument(skip_all, fields(webhook_id, delivery_id))]
pub async fn redeliver(st: &AppState, webhook_id: i64, delivery_id: i64) -> Result<(), AppError> {
    if !db::outbox::redeliver(&st.pool, webhook_id, delivery_id, st.clock.now()).await? {
        return Err(AppError::Refused(
            "That delivery does not exist or is being sent right now.".into(),
        ));
    }
    st.webhooks.wake();
    Ok(())
}
