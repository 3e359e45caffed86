//! The OAuth authorisation-code flow: start (state + PKCE), callback (checks, code exchange,
//! identity check, encrypted storage) and unlink (revocation).

use std::net::IpAddr;

use oauth2::{
    basic::{
        BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
        BasicTokenType,
    },
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::{
    auth::{random_token, token_hash},
    db::now,
    internal,
    providers::{default_scopes, describe_reqwest, extra_auth_params, Endpoints},
    AppState,
};
use crate::api::auth::SessionUser;
use crate::domain::{AuthMethod, CidrList, ProviderKind};
use crate::error::AppError;

pub const STATE_TTL_SECS: i64 = 600;
pub const AAD_ACCESS: &str = "mail_accounts.access_token";
pub const AAD_REFRESH: &str = "mail_accounts.refresh_token";
const AAD_VERIFIER: &str = "oauth_states.pkce_verifier";

/// The token response with OpenID Connect's `id_token`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct IdTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenFields {}

pub type TokenResp = StandardTokenResponse<IdTokenFields, BasicTokenType>;
pub type ProviderClient = oauth2::Client<
    BasicErrorResponse,
    TokenResp,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A mail server's OAuth settings, secret decrypted, endpoints resolved.
pub struct ServerOAuth {
    pub server_id: i64,
    pub kind: ProviderKind,
    pub client_id: String,
    client_secret: String,
    pub endpoints: Endpoints,
    pub scopes: Vec<String>,
    pub redirect_uri: String,
    pub application_id: i64,
    pub active: bool,
}

#[derive(sqlx::FromRow)]
struct ServerRow {
    id: i64,
    auth_method: String,
    provider: Option<String>,
    client_id: Option<String>,
    client_secret_enc: Option<Vec<u8>>,
    application_id: Option<i64>,
    app_key: Option<String>,
    tenant: String,
    auth_url: Option<String>,
    token_url: Option<String>,
    userinfo_url: Option<String>,
    revocation_url: Option<String>,
    scopes: String,
    active: bool,
}

pub async fn load_server(state: &AppState, server_id: i64) -> Result<ServerOAuth, AppError> {
    let row: ServerRow = sqlx::query_as(
        "SELECT s.id, s.auth_method, s.provider, s.client_id, s.client_secret_enc, s.application_id, a.app_key,
                s.tenant, s.auth_url, s.token_url, s.userinfo_url, s.revocation_url, s.scopes, s.active
         FROM mail_servers s LEFT JOIN applications a ON a.id = s.application_id WHERE s.id = ?1",
    )
    .bind(server_id)
    .fetch_optional(&state.pool)
    .await
    .map_err(|e| internal("reading a mail server", e))?
    .ok_or_else(|| AppError::NotFound("The mail server".into()))?;
    if AuthMethod::parse(&row.auth_method) != Ok(AuthMethod::OAuth2) {
        return Err(AppError::Refused(
            "This mail server uses password authorisation, not OAuth2.".into(),
        ));
    }
    let kind = ProviderKind::parse(row.provider.as_deref().unwrap_or_default()).map_err(|_| {
        AppError::Refused("This mail server has no OAuth provider configured.".into())
    })?;
    let endpoints = match state.providers.endpoints(kind, &row.tenant) {
        Some(e) => e,
        None => Endpoints {
            auth_url: row.auth_url.clone().unwrap_or_default(),
            token_url: row.token_url.clone().unwrap_or_default(),
            userinfo_url: row.userinfo_url.clone(),
            revocation_url: row.revocation_url.clone(),
        },
    };
    let client_secret = match &row.client_secret_enc {
        Some(blob) => state
            .secrets
            .open_str(blob, "mail_servers.client_secret")
            .map_err(|e| internal("decrypting a client secret", e))?,
        None => String::new(),
    };
    let scopes = if row.scopes.trim().is_empty() {
        default_scopes(kind)
    } else {
        row.scopes.as_str()
    };
    Ok(ServerOAuth {
        server_id: row.id,
        kind,
        client_id: row.client_id.unwrap_or_default(),
        client_secret,
        endpoints,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        redirect_uri: row
            .app_key
            .map(|k| state.redirect_uri(&k))
            .unwrap_or_default(),
        application_id: row.application_id.unwrap_or_default(),
        active: row.active,
    })
}

impl ServerOAuth {
    pub fn client(&self) -> Result<ProviderClient, String> {
        let auth = AuthUrl::new(self.endpoints.auth_url.clone())
            .map_err(|e| format!("authorization endpoint: {e}"))?;
        let token = TokenUrl::new(self.endpoints.token_url.clone())
            .map_err(|e| format!("token endpoint: {e}"))?;
        let redirect = RedirectUrl::new(self.redirect_uri.clone())
            .map_err(|e| format!("redirect URI: {e}"))?;
        Ok(oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.client_secret.clone()))
            .set_auth_uri(auth)
            .set_token_uri(token)
            .set_redirect_uri(redirect))
    }

    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }
}

#[derive(sqlx::FromRow)]
pub struct AccountRow {
    pub id: i64,
    pub mail_server_id: i64,
    pub owner_id: i64,
    pub login: String,
    pub status: String,
}

pub async fn load_account(state: &AppState, id: i64) -> Result<AccountRow, AppError> {
    sqlx::query_as(
        "SELECT id, mail_server_id, owner_id, login, status FROM mail_accounts WHERE id = ?1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await
    .map_err(|e| internal("reading a mail account", e))?
    .ok_or_else(|| AppError::NotFound("The mail account".into()))
}

/// Starts an authorisation for `account_id` by `user`: returns the provider URL to send the
/// browser to.
pub async fn start(
    state: &AppState,
    account_id: i64,
    user: &SessionUser,
) -> Result<String, AppError> {
    let account = load_account(state, account_id).await?;
    let server = load_server(state, account.mail_server_id).await?;
    if !server.active {
        return Err(AppError::Refused("This mail server is not active.".into()));
    }
    if server.redirect_uri.is_empty() {
        return Err(AppError::Refused(
            "This mail server has no application (Redirect URI) chosen.".into(),
        ));
    }
    let client = server.client().map_err(|m| {
        AppError::Refused(format!(
            "This mail server's OAuth settings are unusable: {m}"
        ))
    })?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state_token = random_token();
    let mut req = client
        .authorize_url(|| CsrfToken::new(state_token.clone()))
        .set_pkce_challenge(challenge)
        .add_extra_param("login_hint", account.login.clone());
    for s in &server.scopes {
        req = req.add_scope(Scope::new(s.clone()));
    }
    for (k, v) in extra_auth_params(server.kind) {
        req = req.add_extra_param(*k, *v);
    }
    let (url, _) = req.url();
    let t = now();
    // Expired rows are worthless; drop them while we are here.
    let _ = sqlx::query("DELETE FROM oauth_states WHERE expires_at < ?1")
        .bind(t - 86_400)
        .execute(&state.pool)
        .await;
    sqlx::query(
        "INSERT INTO oauth_states (state_hash, account_id, user_id, pkce_verifier_enc, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(token_hash(&state_token))
    .bind(account_id)
    .bind(user.id)
    .bind(state.secrets.seal_str(verifier.secret(), AAD_VERIFIER))
    .bind(t)
    .bind(t + STATE_TTL_SECS)
    .execute(&state.pool)
    .await
    .map_err(|e| internal("storing an authorisation state", e))?;
    tracing::info!(account_id, user_id = user.id, "authorisation started");
    Ok(url.to_string())
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// How a callback ended. `code()` names it in the result page's URL; details (the provider's
/// own words) go to the account's last error, never into a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Linked,
    AccessDenied,
    ProviderError,
    UnknownApplication,
    DisabledApplication,
    AddressRefused,
    InvalidState,
    ExpiredState,
    UsedState,
    OtherUser,
    ExchangeFailed,
    ProviderUnreachable,
    IdentityMismatch,
    NoRefreshToken,
    Failed,
}

impl Outcome {
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::Linked => "linked",
            Outcome::AccessDenied => "access_denied",
            Outcome::ProviderError => "provider_error",
            Outcome::UnknownApplication => "unknown_application",
            Outcome::DisabledApplication => "disabled_application",
            Outcome::AddressRefused => "address_refused",
            Outcome::InvalidState => "invalid_state",
            Outcome::ExpiredState => "expired_state",
            Outcome::UsedState => "used_state",
            Outcome::OtherUser => "other_user",
            Outcome::ExchangeFailed => "exchange_failed",
            Outcome::ProviderUnreachable => "provider_unreachable",
            Outcome::IdentityMismatch => "identity_mismatch",
            Outcome::NoRefreshToken => "no_refresh_token",
            Outcome::Failed => "failed",
        }
    }
}

fn clip(s: &str, n: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(n).collect()
}

async fn record_error(state: &AppState, account_id: i64, message: &str) {
    let r = sqlx::query("UPDATE mail_accounts SET last_error = ?1, updated_at = ?2 WHERE id = ?3")
        .bind(clip(message, 500))
        .bind(now())
        .bind(account_id)
        .execute(&state.pool)
        .await;
    if let Err(e) = r {
        tracing::error!(error = %e, account_id, "recording an account error");
    }
}

#[derive(sqlx::FromRow)]
struct StateRow {
    account_id: i64,
    user_id: i64,
    pkce_verifier_enc: Vec<u8>,
    expires_at: i64,
    used_at: Option<i64>,
}

/// Handles `GET /oauth/callback/{app_key}` for the signed-in `user`. Returns the outcome and
/// the account it concerns, when the state identified one.
pub async fn callback(
    state: &AppState,
    app_key: &str,
    q: &CallbackQuery,
    client_ip: Option<IpAddr>,
    user: &SessionUser,
) -> (Outcome, Option<i64>) {
    match callback_inner(state, app_key, q, client_ip, user).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "oauth callback failed");
            (Outcome::Failed, None)
        }
    }
}

async fn callback_inner(
    state: &AppState,
    app_key: &str,
    q: &CallbackQuery,
    client_ip: Option<IpAddr>,
    user: &SessionUser,
) -> Result<(Outcome, Option<i64>), AppError> {
    // 1. The application: known, active, and reachable from this address.
    let app: Option<(i64, bool, String)> =
        sqlx::query_as("SELECT id, active, allowed_ips FROM applications WHERE app_key = ?1")
            .bind(app_key)
            .fetch_optional(&state.pool)
            .await
            .map_err(|e| internal("reading an application", e))?;
    let Some((app_id, active, allowed)) = app else {
        return Ok((Outcome::UnknownApplication, None));
    };
    if !active {
        return Ok((Outcome::DisabledApplication, None));
    }
    let allowed = CidrList::parse(&allowed).unwrap_or_default();
    if !allowed.is_empty() && !client_ip.map(|ip| allowed.allows(ip)).unwrap_or(false) {
        tracing::warn!(client = ?client_ip, application_id = app_id, "callback from an address outside the allowed list");
        return Ok((Outcome::AddressRefused, None));
    }

    // 2. The state: known, this user's, for a server using this application, unexpired, unused.
    let raw_state = q.state.clone().unwrap_or_default();
    let row: Option<StateRow> = sqlx::query_as(
        "SELECT account_id, user_id, pkce_verifier_enc, expires_at, used_at FROM oauth_states WHERE state_hash = ?1",
    )
    .bind(token_hash(&raw_state))
    .fetch_optional(&state.pool)
    .await
    .map_err(|e| internal("reading an authorisation state", e))?;
    let Some(st) = row.filter(|_| !raw_state.is_empty()) else {
        return Ok((Outcome::InvalidState, None));
    };
    if st.user_id != user.id {
        tracing::warn!(user_id = user.id, "callback with another user's state");
        return Ok((Outcome::OtherUser, None));
    }
    if st.used_at.is_some() {
        return Ok((Outcome::UsedState, Some(st.account_id)));
    }
    if st.expires_at <= now() {
        return Ok((Outcome::ExpiredState, Some(st.account_id)));
    }
    let account = load_account(state, st.account_id).await?;
    let server = load_server(state, account.mail_server_id).await?;
    if server.application_id != app_id {
        return Ok((Outcome::InvalidState, None));
    }
    // Single use, atomically: of two racing callbacks only one gets the row.
    let claimed = sqlx::query(
        "UPDATE oauth_states SET used_at = ?1 WHERE state_hash = ?2 AND used_at IS NULL",
    )
    .bind(now())
    .bind(token_hash(&raw_state))
    .execute(&state.pool)
    .await
    .map_err(|e| internal("using an authorisation state", e))?;
    if claimed.rows_affected() != 1 {
        return Ok((Outcome::UsedState, Some(st.account_id)));
    }
    let id = Some(account.id);

    // 3. The provider said no.
    if let Some(err) = &q.error {
        let desc = q
            .error_description
            .as_deref()
            .map(|d| format!(": {}", clip(d, 300)))
            .unwrap_or_default();
        let outcome = if err == "access_denied" {
            Outcome::AccessDenied
        } else {
            Outcome::ProviderError
        };
        record_error(
            state,
            account.id,
            &format!(
                "The provider refused the authorisation ({}){desc}",
                clip(err, 60)
            ),
        )
        .await;
        return Ok((outcome, id));
    }
    let Some(code) = q.code.clone().filter(|c| !c.is_empty()) else {
        record_error(
            state,
            account.id,
            "The provider returned neither a code nor an error.",
        )
        .await;
        return Ok((Outcome::ProviderError, id));
    };

    // 4. Exchange the code with the PKCE verifier.
    let verifier = state
        .secrets
        .open_str(&st.pkce_verifier_enc, AAD_VERIFIER)
        .map_err(|e| internal("decrypting a PKCE verifier", e))?;
    let client = match server.client() {
        Ok(c) => c,
        Err(m) => {
            record_error(
                state,
                account.id,
                &format!("The mail server's OAuth settings are unusable: {m}"),
            )
            .await;
            return Ok((Outcome::ExchangeFailed, id));
        }
    };
    let token = match client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&state.http)
        .await
    {
        Ok(t) => t,
        Err(e) => {
            let (outcome, message) = describe_token_error(&e);
            record_error(
                state,
                account.id,
                &format!("Exchanging the code failed: {message}"),
            )
            .await;
            return Ok((outcome, id));
        }
    };

    // 5. The identity that consented must be the mailbox's login.
    let identity = match identity(state, &server, &token).await {
        Ok(e) => e,
        Err(m) => {
            revoke_quietly(state, &server, &token).await;
            record_error(
                state,
                account.id,
                &format!("Could not tell which account consented: {m}"),
            )
            .await;
            return Ok((Outcome::IdentityMismatch, id));
        }
    };
    if !identity.eq_ignore_ascii_case(&account.login) {
        revoke_quietly(state, &server, &token).await;
        record_error(
            state,
            account.id,
            &format!(
                "You consented as {}, but this mailbox is {}. Authorize again and choose {}.",
                clip(&identity, 254),
                account.login,
                account.login
            ),
        )
        .await;
        return Ok((Outcome::IdentityMismatch, id));
    }

    // 6. Without a refresh token the link would die within the hour.
    let Some(refresh) = token.refresh_token() else {
        revoke_quietly(state, &server, &token).await;
        record_error(
            state,
            account.id,
            "The provider returned no refresh token. Remove Mailbridge's access in the account's security settings \
             (Google: myaccount.google.com/permissions) and authorize again; a generic provider may need the \
             offline_access scope.",
        )
        .await;
        return Ok((Outcome::NoRefreshToken, id));
    };

    let t = now();
    let expires_at = t + token
        .expires_in()
        .map(|d| d.as_secs() as i64)
        .unwrap_or(3600);
    let scopes = token
        .scopes()
        .map(|s| {
            s.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| server.scopes.join(" "));
    sqlx::query(
        "UPDATE mail_accounts SET access_token_enc = ?1, refresh_token_enc = ?2, access_expires_at = ?3,
            granted_scopes = ?4, status = 'linked', last_error = NULL, last_refresh_at = ?5, refresh_failures = 0,
            next_retry_at = NULL, updated_at = ?5
         WHERE id = ?6",
    )
    .bind(state.secrets.seal_str(token.access_token().secret(), AAD_ACCESS))
    .bind(state.secrets.seal_str(refresh.secret(), AAD_REFRESH))
    .bind(expires_at)
    .bind(clip(&scopes, 1000))
    .bind(t)
    .bind(account.id)
    .execute(&state.pool)
    .await
    .map_err(|e| internal("storing tokens", e))?;
    tracing::info!(account_id = account.id, "mailbox linked");
    Ok((Outcome::Linked, id))
}

/// The provider's own words for a failed token request, and whether it was reachable at all.
pub fn describe_token_error<RE: std::error::Error + 'static>(
    e: &RequestTokenError<RE, BasicErrorResponse>,
) -> (Outcome, String) {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let desc = r
                .error_description()
                .map(|d| format!(": {}", clip(d, 300)))
                .unwrap_or_default();
            (
                Outcome::ExchangeFailed,
                format!("the provider answered {}{desc}", r.error()),
            )
        }
        RequestTokenError::Request(err) => {
            let parts = super::error_chain(err);
            (
                Outcome::ProviderUnreachable,
                format!(
                    "the provider could not be reached ({})",
                    clip(&parts.join(": "), 300)
                ),
            )
        }
        RequestTokenError::Parse(err, body) => (
            Outcome::ExchangeFailed,
            format!(
                "the provider's answer was not a token response ({}; {} bytes)",
                clip(&err.to_string(), 200),
                body.len()
            ),
        ),
        RequestTokenError::Other(m) => (Outcome::ExchangeFailed, clip(m, 300)),
    }
}

/// The e-mail address the tokens belong to: the id_token's `email` (its audience must be this
/// client), else the userinfo endpoint's.
async fn identity(
    state: &AppState,
    server: &ServerOAuth,
    token: &TokenResp,
) -> Result<String, String> {
    if let Some(id_token) = &token.extra_fields().id_token {
        let claims = decode_jwt_claims(id_token).ok_or("the id_token is malformed")?;
        let aud_ok = match &claims["aud"] {
            serde_json::Value::String(a) => a == &server.client_id,
            serde_json::Value::Array(list) => list
                .iter()
                .any(|a| a.as_str() == Some(server.client_id.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err("the id_token was issued to another client".into());
        }
        if let Some(email) = claims["email"].as_str() {
            return Ok(email.to_string());
        }
    }
    let url = server
        .endpoints
        .userinfo_url
        .clone()
        .ok_or("no id_token email and no userinfo endpoint")?;
    let res = state
        .http
        .get(&url)
        .bearer_auth(token.access_token().secret())
        .send()
        .await
        .map_err(|e| format!("userinfo: {}", describe_reqwest(&e)))?;
    if !res.status().is_success() {
        return Err(format!("userinfo answered HTTP {}", res.status().as_u16()));
    }
    let bytes = res
        .bytes()
        .await
        .map_err(|e| format!("userinfo: {}", describe_reqwest(&e)))?;
    let body: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| "userinfo answered something that is not JSON".to_string())?;
    body["email"]
        .as_str()
        .or_else(|| body["preferred_username"].as_str())
        .or_else(|| body["upn"].as_str())
        .map(str::to_string)
        .ok_or_else(|| "userinfo has no email".to_string())
}

/// The payload of a JWT, unverified. It came straight from the token endpoint over the
/// back channel, which OpenID Connect Core §3.1.3.7 allows to trust for this use.
fn decode_jwt_claims(jwt: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Revokes a token at the provider (RFC 7009). Returns a message on failure.
pub async fn revoke(
    state: &AppState,
    server: &ServerOAuth,
    token: &str,
    hint: &str,
) -> Result<(), String> {
    let Some(url) = &server.endpoints.revocation_url else {
        return Ok(());
    };
    let res = state
        .http
        .post(url)
        .basic_auth(&server.client_id, Some(server.client_secret()))
        .form(&[("token", token), ("token_type_hint", hint)])
        .send()
        .await
        .map_err(|e| {
            format!(
                "the revocation endpoint could not be reached ({})",
                describe_reqwest(&e)
            )
        })?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "the revocation endpoint answered HTTP {}",
            res.status().as_u16()
        ))
    }
}

async fn revoke_quietly(state: &AppState, server: &ServerOAuth, token: &TokenResp) {
    let (t, hint) = match token.refresh_token() {
        Some(r) => (r.secret().clone(), "refresh_token"),
        None => (token.access_token().secret().clone(), "access_token"),
    };
    if let Err(m) = revoke(state, server, &t, hint).await {
        tracing::warn!("revoking unused tokens: {m}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_claims_are_read_from_the_payload() {
        use base64::Engine;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"email":"a@b.test","aud":"x"}"#);
        let claims = decode_jwt_claims(&format!("h.{payload}.s")).unwrap();
        assert_eq!(claims["email"], "a@b.test");
        assert!(decode_jwt_claims("garbage").is_none());
    }
}
