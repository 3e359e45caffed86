//! `GET /api/v1/openapi.json`: the API described by the handlers' and types' own annotations
//! (`utoipa`), so the document cannot drift from the code.

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::accounts;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mailbridge API", version = "1",
         description = "Fresh OAuth2 access tokens and mail accounts for programs. Authenticate with an API key: `Authorization: Bearer mbk_…`."),
    paths(accounts::list, accounts::get, accounts::create, accounts::access_token),
    components(schemas(
        accounts::Account, accounts::AccountPage, accounts::TokenRequest, accounts::AccessToken,
        accounts::Endpoint, accounts::NewAccount, accounts::CreatedAccount, super::ErrorBody
    )),
    modifiers(&ApiKeyScheme)
)]
pub struct ApiDoc;

struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
