//! `/api/v1/accounts`: the accounts a key reaches, and fresh access tokens for them.

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    Extension, Json,
};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use app::domain::{AccountStatus, AuthMethod, MailAccountView};
use app::ssr::audit::{acting, Actor};
use app::ssr::client::ClientAddr;
use app::ssr::db;
use app::ssr::refresh::{self, RefreshError};
use app::ssr::AppState;

use super::{caller, require, ApiError};

/// A mail account (never a token or password).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub login: String,
    pub owner_email: String,
    pub server_id: i64,
    pub server_subject: String,
    /// `pending`, `linked`, `needs_reauth`, `error` or `disabled`.
    pub status: String,
    /// When the stored access token expires (RFC 3339).
    pub access_token_expires_at: Option<String>,
    pub last_error: Option<String>,
    /// The last successful IMAP/SMTP login (RFC 3339).
    pub last_successful_login_at: Option<String>,
}

impl From<MailAccountView> for Account {
    fn from(a: MailAccountView) -> Self {
        Account {
            id: a.id,
            name: a.name,
            login: a.login,
            owner_email: a.owner_email,
            server_id: a.mail_server_id,
            server_subject: a.server_subject,
            status: a.status.code().to_string(),
            access_token_expires_at: a.access_expires_at.and_then(rfc3339),
            last_error: a.last_error,
            last_successful_login_at: a.last_login_at.and_then(rfc3339),
        }
    }
}

/// Unix seconds as RFC 3339 (UTC).
pub fn rfc3339(ts: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountPage {
    pub accounts: Vec<Account>,
    /// Accounts matching the filter, on every page.
    pub total: i64,
    /// This page, from 0.
    pub page: i64,
    pub page_size: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only accounts of this mail server.
    pub server: Option<String>,
    /// Only accounts with this status.
    pub status: Option<String>,
    /// Only the account(s) with this login (mailbox address, any case).
    pub login: Option<String>,
    /// The page, from 0 (50 accounts a page).
    pub page: Option<String>,
}

fn addr(ext: &Option<Extension<ClientAddr>>) -> Option<std::net::IpAddr> {
    ext.as_ref().map(|e| e.0 .0)
}

/// The accounts this key reaches.
#[utoipa::path(get, path = "/api/v1/accounts", params(ListQuery),
    responses((status = 200, body = AccountPage), (status = 401, body = super::ErrorBody),
              (status = 403, body = super::ErrorBody), (status = 429, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn list(
    State(st): State<AppState>,
    headers: HeaderMap,
    ext: Option<Extension<ClientAddr>>,
    uri: axum::http::Uri,
) -> Result<Json<AccountPage>, ApiError> {
    let caller = caller(&st, &headers, addr(&ext)).await?;
    require(&caller, "accounts")?;
    // Read only now: a caller without a key learns nothing from the query's parsing either.
    let Query(q) = Query::<ListQuery>::try_from_uri(&uri)
        .map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let server = match q.server.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| ApiError::invalid("server", "must be a mail server id"))?,
        ),
    };
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(AccountStatus::parse(s).map_err(|m| ApiError::invalid("status", m))?),
    };
    let login = q
        .login
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase);
    let page = match q.page.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 0,
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|p| (0..1_000_000).contains(p))
            .ok_or_else(|| ApiError::invalid("page", "must be a page number from 0"))?,
    };
    let rows = db::mail_accounts::api_page(
        &st.pool,
        caller.key.id,
        server,
        status,
        login.as_deref(),
        page,
    )
    .await
    .map_err(app::error::AppError::from)?;
    let total = rows.first().map(|r| r.total).unwrap_or(0);
    Ok(Json(AccountPage {
        accounts: rows.into_iter().map(|r| r.row.into()).collect(),
        total,
        page,
        page_size: app::domain::PAGE_SIZE,
    }))
}

/// The account `id` if this key reaches it; 404 otherwise, whether or not it exists.
async fn reached(
    st: &AppState,
    caller: &app::ssr::service::api_keys::ApiCaller,
    id: &str,
) -> Result<MailAccountView, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    // One query with the key's scope in it: an account outside the scope and one that does
    // not exist take the same path and the same time.
    db::mail_accounts::view_for_key(&st.pool, id, caller.key.id)
        .await
        .map_err(app::error::AppError::from)?
        .ok_or_else(ApiError::not_found)
}

/// One account.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", params(("id" = i64, Path, description = "Account id")),
    responses((status = 200, body = Account), (status = 401, body = super::ErrorBody),
              (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn get(
    State(st): State<AppState>,
    headers: HeaderMap,
    ext: Option<Extension<ClientAddr>>,
    Path(id): Path<String>,
) -> Result<Json<Account>, ApiError> {
    let caller = caller(&st, &headers, addr(&ext)).await?;
    require(&caller, "accounts")?;
    Ok(Json(reached(&st, &caller, &id).await?.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Refresh first when the token would expire within this many seconds (default 300, at
    /// most 3300).
    pub min_validity_secs: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Endpoint {
    pub host: String,
    pub port: i64,
    /// `ssl`, `starttls` or `none`.
    pub encryption: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessToken {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// RFC 3339.
    pub expires_at: String,
    pub scope: String,
    pub login: String,
    /// The base64 XOAUTH2 initial response (`user=…\x01auth=Bearer …\x01\x01`), ready for
    /// IMAP `AUTHENTICATE XOAUTH2` or SMTP `AUTH XOAUTH2`.
    pub sasl_xoauth2: String,
    pub imap: Endpoint,
    pub smtp: Endpoint,
}

/// A valid access token for the account, refreshed first when it would expire within
/// `min_validity_secs` (one refresh per account at a time, shared with the background task).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/access-token",
    params(("id" = i64, Path, description = "Account id")),
    request_body(content = Option<TokenRequest>, content_type = "application/json"),
    responses((status = 200, body = AccessToken), (status = 400, body = super::ErrorBody),
              (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody),
              (status = 429, body = super::ErrorBody), (status = 503, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn access_token(
    State(st): State<AppState>,
    headers: HeaderMap,
    ext: Option<Extension<ClientAddr>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<([(header::HeaderName, &'static str); 1], Json<AccessToken>), ApiError> {
    let caller = caller(&st, &headers, addr(&ext)).await?;
    require(&caller, "tokens")?;
    let request: TokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TokenRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::invalid(
                "body",
                format!("expected {{\"min_validity_secs\": N}}: {e}"),
            )
        })?
    };
    let min_validity = request.min_validity_secs.unwrap_or(300);
    if !(0..=3300).contains(&min_validity) {
        return Err(ApiError::invalid(
            "min_validity_secs",
            "must be from 0 to 3300",
        ));
    }
    let account = reached(&st, &caller, &id).await?;
    let client = caller.addr.to_string();
    // What the refresh behind it records is the key's doing.
    let actor = Actor::api_key(caller.key.id, &caller.key.name, client.clone());
    let token = acting(
        actor,
        hand_out(
            &st,
            &account,
            min_validity,
            Some((caller.key.id, caller.key.name.as_str())),
            &client,
        ),
    )
    .await?;
    // A token must never sit in a cache.
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(token)))
}

/// A valid access token for `account` (refreshed first when it expires within
/// `min_validity` seconds), recorded as handed out to `key` (`None`: the command line) at
/// `client`. Shared by the API and `mailbridge token`.
pub async fn hand_out(
    st: &AppState,
    account: &MailAccountView,
    min_validity: i64,
    key: Option<(i64, &str)>,
    client: &str,
) -> Result<AccessToken, ApiError> {
    let unusable = |status: AccountStatus, last_error: Option<String>| {
        let mut e = ApiError::new(
            StatusCode::CONFLICT,
            "account_unusable",
            format!(
                "The account is {}: {}",
                status.code(),
                last_error
                    .clone()
                    .unwrap_or_else(|| "its owner must authorise it".into())
            ),
        );
        e.body.status = Some(status.code().to_string());
        e.body.last_error = last_error;
        e
    };
    if account.auth_method == AuthMethod::Password {
        let mut e = ApiError::new(
            StatusCode::CONFLICT,
            "account_unusable",
            "The account signs in with a password: there is no access token to hand out.",
        );
        e.body.status = Some(account.status.code().to_string());
        return Err(e);
    }
    if account.status != AccountStatus::Linked {
        return Err(unusable(account.status, account.last_error.clone()));
    }
    let server = db::mail_servers::get(&st.pool, account.mail_server_id)
        .await
        .map_err(app::error::AppError::from)?
        .ok_or_else(ApiError::not_found)?;
    if !server.active {
        // Deactivating a server is how an admin cuts programs off its mailboxes.
        let mut e = ApiError::new(
            StatusCode::CONFLICT,
            "account_unusable",
            "The account's mail server is deactivated: no token is handed out.",
        );
        e.body.status = Some(account.status.code().to_string());
        return Err(e);
    }
    // Asking for more validity than the background task keeps would otherwise make every call
    // a refresh at the provider: such early refreshes happen at most once a minute per account
    // (the same budget as a test's forced refresh); in between, the current token — still good
    // for longer than the background margin, its expiry in the answer — is handed out.
    let now = st.clock.now();
    let background = st.refresh.before_secs.max(60);
    let remaining = account.access_expires_at.unwrap_or(0) - now;
    let margin = if remaining > background
        && remaining <= min_validity
        && !st
            .mail_tests
            .may_force_refresh(&st.pool, account.id, now)
            .await?
    {
        0
    } else {
        min_validity
    };
    let token = match refresh::ensure_fresh(st, account.id, margin).await {
        Ok(t) => t,
        Err(e @ (RefreshError::Transient(_) | RefreshError::Busy)) => {
            let mut err = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider_unavailable",
                format!("The token could not be refreshed now: {e}"),
            );
            err.retry_after = Some(30);
            return Err(err);
        }
        Err(_) => {
            // Whatever went wrong is now on the account (status and last error).
            let now = db::mail_accounts::view(&st.pool, account.id)
                .await
                .map_err(app::error::AppError::from)?
                .ok_or_else(ApiError::not_found)?;
            return Err(unusable(now.status, now.last_error));
        }
    };
    let row = db::mail_accounts::view(&st.pool, account.id)
        .await
        .map_err(app::error::AppError::from)?
        .ok_or_else(ApiError::not_found)?;
    let scope = db::mail_accounts::granted_scopes(&st.pool, account.id)
        .await
        .map_err(app::error::AppError::from)?
        .unwrap_or_default();
    let now = st.clock.now();
    db::token_handouts::record(&st.pool, account.id, key, client, now)
        .await
        .map_err(app::error::AppError::from)?;
    app::ssr::metrics::token_handout(if key.is_some() { "api" } else { "cli" });
    let (actor_kind, actor_id, actor) = match key {
        Some((id, name)) => ("api_key", Some(id), name),
        None => ("system", None, "command line"),
    };
    let entry = db::audit::NewEntry {
        kind: "token.handed_out",
        account_id: Some(account.id),
        server_id: Some(account.mail_server_id),
        user_id: Some(account.owner_id),
        summary: format!(
            "{} on {}: access token handed out to {actor}",
            account.login, account.server_subject
        ),
    };
    db::audit::insert(
        &st.pool,
        &entry,
        actor_kind,
        actor_id,
        actor,
        Some(client),
        now,
    )
    .await
    .map_err(app::error::AppError::from)?;
    tracing::info!(account_id = account.id, api_key_id = ?key.map(|k| k.0), "access token handed out");
    let sasl = format!("user={}\x01auth=Bearer {token}\x01\x01", row.login);
    Ok(AccessToken {
        sasl_xoauth2: base64::engine::general_purpose::STANDARD.encode(sasl),
        access_token: token,
        token_type: "Bearer".into(),
        expires_at: row.access_expires_at.and_then(rfc3339).unwrap_or_default(),
        scope,
        login: row.login,
        imap: Endpoint {
            host: server.imap_host,
            port: server.imap_port,
            encryption: server.imap_encryption.code().into(),
        },
        smtp: Endpoint {
            host: server.smtp_host,
            port: server.smtp_port,
            encryption: server.smtp_encryption.code().into(),
        },
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// The owner: an active user's e-mail address.
    pub owner_email: String,
    pub server_id: i64,
    /// Shown in lists; the login when empty.
    #[serde(default)]
    pub name: String,
    /// The mailbox address.
    pub login: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedAccount {
    pub account: Account,
    /// The Mailbridge page the owner opens (signing in first if needed) to authorise it.
    pub authorize_url: String,
}

/// Creates a pending account for an existing user on a server this key reaches.
#[utoipa::path(post, path = "/api/v1/accounts", request_body = NewAccount,
    responses((status = 201, body = CreatedAccount), (status = 400, body = super::ErrorBody),
              (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    ext: Option<Extension<ClientAddr>>,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedAccount>), ApiError> {
    let caller = caller(&st, &headers, addr(&ext)).await?;
    require(&caller, "accounts")?;
    let new: NewAccount = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid(
            "body",
            format!("expected {{\"owner_email\", \"server_id\", \"name\", \"login\"}}: {e}"),
        )
    })?;
    if !caller.reaches(&st, new.server_id).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "No such mail server.",
        ));
    }
    let owner_key = app::domain::Email::parse(&new.owner_email)
        .map_err(|m| ApiError::invalid("owner_email", m))?
        .key();
    let owner = db::users::active_id_by_email(&st.pool, &owner_key)
        .await
        .map_err(app::error::AppError::from)?
        .ok_or_else(|| ApiError::invalid("owner_email", "is not an active user"))?;
    let form = app::domain::mail_account::NewAccountForm::parse(
        &new.name,
        &new.server_id.to_string(),
        &new.login,
        &owner.to_string(),
    )
    .map_err(|errors| {
        let (field, message) = errors
            .into_iter()
            .next()
            .unwrap_or(("body", "is not valid".into()));
        ApiError::invalid(api_field(field), message)
    })?;
    // The key acts for the organisation, as an admin would.
    let acting_as = app::domain::SessionUser {
        id: 0,
        email: format!("api-key:{}", caller.key.name),
        name: caller.key.name.clone(),
        role: app::domain::Role::Admin,
    };
    let actor = Actor::api_key(caller.key.id, &caller.key.name, caller.addr.to_string());
    let id = acting(
        actor,
        app::ssr::service::mail_accounts::create(&st, &acting_as, &form, ""),
    )
    .await
    .map_err(|e| match e {
        app::error::AppError::Invalid(fields) => {
            let f = fields.into_iter().next();
            ApiError::invalid(
                f.as_ref().map(|f| api_field(&f.field)).unwrap_or("body"),
                f.map(|f| f.message).unwrap_or_default(),
            )
        }
        other => other.into(),
    })?;
    let account = db::mail_accounts::view(&st.pool, id)
        .await
        .map_err(app::error::AppError::from)?
        .ok_or_else(ApiError::not_found)?;
    tracing::info!(
        account_id = id,
        api_key_id = caller.key.id,
        "pending account created through the API"
    );
    Ok((
        StatusCode::CREATED,
        Json(CreatedAccount {
            authorize_url: format!("{}/mail-accounts/{id}", st.settings.public_url),
            account: account.into(),
        }),
    ))
}

/// The API's name of a form field.
fn api_field(label: &str) -> &'static str {
    use app::domain::mail_account::label;
    match label {
        l if l == label::NAME => "name",
        l if l == label::LOGIN => "login",
        l if l == label::SERVER => "server_id",
        l if l == label::OWNER => "owner_email",
        _ => "body",
    }
}
