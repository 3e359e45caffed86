//! A mail server's OAuth client: its settings with the secret decrypted and the endpoints
//! resolved, and the oauth2 crate's client built from them.

use oauth2::{
    basic::{
        BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
        BasicTokenType,
    },
    AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, ExtraTokenFields, RedirectUrl,
    RequestTokenError, StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::Outcome;
use crate::domain::mail_server::LoginDomains;
use crate::domain::{AuthMethod, ProviderKind};
use crate::error::AppError;
use crate::ssr::crypto::aad;
use crate::ssr::providers::{default_scopes, Endpoints};
use crate::ssr::{db, provider_text, AppState};

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
    pub allowed_domains: LoginDomains,
    /// [`MailServerRow::destination_fingerprint`](crate::ssr::db::mail_servers::MailServerRow)
    /// when loaded.
    pub destination: String,
    /// The server's `destination_version` when loaded.
    pub destination_version: i64,
}

/// The OAuth settings of mail server `server_id`; refused for a password server.
pub async fn load(state: &AppState, server_id: i64) -> Result<ServerOAuth, AppError> {
    let row = db::mail_servers::get(&state.pool, server_id)
        .await?
        .ok_or_else(|| AppError::NotFound("The mail server".into()))?;
    if row.auth_method != AuthMethod::OAuth2 {
        return Err(AppError::Refused(
            "This mail server uses password authorisation, not OAuth2.".into(),
        ));
    }
    let kind = row.provider.ok_or_else(|| {
        AppError::Refused("This mail server has no OAuth provider configured.".into())
    })?;
    let endpoints = match state.providers.endpoints(kind, &row.tenant) {
        Some(e) => e,
        None => Endpoints {
            auth_url: row.auth_url.clone().unwrap_or_default(),
            token_url: row.token_url.clone().unwrap_or_default(),
            userinfo_url: row.userinfo_url.clone(),
            revocation_url: row.revocation_url.clone(),
            // An issuer is trusted to sign ID tokens only with the keys its discovery listed.
            issuer: row.jwks_url.as_ref().and(row.issuer_url.clone()),
            jwks_url: row.jwks_url.clone(),
        },
    };
    let client_secret = match &row.client_secret_enc {
        Some(blob) => state
            .secrets
            .open_str(blob, &aad::CLIENT_SECRET.row(row.id))
            .map_err(|e| crate::ssr::internal("decrypting a client secret", e))?,
        None => String::new(),
    };
    let destination = row.destination_fingerprint();
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
        allowed_domains: LoginDomains::stored(&row.allowed_domains),
        destination,
        destination_version: row.destination_version,
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

/// The provider's own words for a failed token request, and whether it was reachable at all.
pub fn describe_token_error<RE: std::error::Error + 'static>(
    e: &RequestTokenError<RE, BasicErrorResponse>,
) -> (Outcome, String) {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let desc = r
                .error_description()
                .map(|d| format!(": {}", provider_text(d, 300)))
                .unwrap_or_default();
            (
                Outcome::ExchangeFailed,
                format!("the provider answered {}{desc}", r.error()),
            )
        }
        RequestTokenError::Request(err) => {
            let parts = crate::ssr::error_chain(err);
            (
                Outcome::ProviderUnreachable,
                format!(
                    "the provider could not be reached ({})",
                    provider_text(&parts.join(": "), 300)
                ),
            )
        }
        RequestTokenError::Parse(err, body) => (
            Outcome::ExchangeFailed,
            format!(
                "the provider's answer was not a token response ({}; {} bytes)",
                provider_text(&err.to_string(), 200),
                body.len()
            ),
        ),
        RequestTokenError::Other(m) => (Outcome::ExchangeFailed, provider_text(m, 300)),
    }
}
