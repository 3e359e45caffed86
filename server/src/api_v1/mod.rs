//! The REST API for programs (`/api/v1`, JSON, `Authorization: Bearer <API key>`): accounts,
//! fresh access tokens, and the OpenAPI document generated from these types.

pub mod accounts;
pub mod openapi;

use std::net::IpAddr;

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{any, get, post},
    Json, Router,
};
use serde::Serialize;

use app::error::AppError;
use app::ssr::service::api_keys::{self, ApiCaller, Refusal};
use app::ssr::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/accounts",
            get(accounts::list)
                .post(accounts::create)
                .fallback(wrong_method),
        )
        .route(
            "/api/v1/accounts/{id}",
            get(accounts::get).fallback(wrong_method),
        )
        .route(
            "/api/v1/accounts/{id}/access-token",
            post(accounts::access_token).fallback(wrong_method),
        )
        .route(
            "/api/v1/openapi.json",
            get(openapi::document).fallback(wrong_method),
        )
        // Anything else under /api/v1 is a JSON 404 too, not the app's HTML page.
        .route("/api/v1/{*rest}", any(unknown_route))
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This method is not allowed here; see /api/v1/openapi.json.",
    )
}

async fn unknown_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "No such API route; see /api/v1/openapi.json.",
    )
}

/// Every refusal: a status and `{"error": "...", "message": "..."}` (plus details for some).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Box<ErrorBody>,
    pub retry_after: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: `invalid_token`, `insufficient_scope`, `forbidden_address`,
    /// `not_found`, `rate_limited`, `invalid_request`, `account_unusable`,
    /// `provider_unavailable`, `server_error`.
    pub error: &'static str,
    /// What happened, for a person.
    pub message: String,
    /// For `account_unusable`: the account's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// For `account_unusable`: the account's last error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// For `invalid_request`: the field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: Box::new(ErrorBody {
                error,
                message: message.into(),
                status: None,
                last_error: None,
                field: None,
            }),
            retry_after: None,
        }
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such account.")
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("{field}: {}", message.into()),
        );
        e.body.field = Some(field.to_string());
        e
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(fields) => {
                let first = fields.first().map(|f| f.field.clone());
                let message = fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut err = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message);
                err.body.field = first;
                err
            }
            AppError::NotFound(_) => ApiError::not_found(),
            AppError::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "This API key may not do that.",
            ),
            AppError::RateLimited {
                message,
                retry_after_secs,
            } => {
                let mut err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
                err.retry_after = Some(retry_after_secs);
                err
            }
            AppError::Refused(m) | AppError::Denied(m) => {
                ApiError::new(StatusCode::CONFLICT, "refused", m)
            }
            other => {
                tracing::error!(error = %other, "API request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "Something went wrong on the server; the details are in the server log.",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(&*self.body)).into_response();
        let h = res.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                h.insert(header::RETRY_AFTER, v);
            }
        }
        // A token answer must never sit in a cache.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}

/// The caller of a request: its key checked (known, not revoked or expired, address, rate).
pub async fn caller(
    st: &AppState,
    headers: &HeaderMap,
    addr: Option<IpAddr>,
) -> Result<ApiCaller, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let addr = addr.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    match api_keys::authenticate(st, bearer, addr, st.settings.api_rate_per_minute).await? {
        Ok(caller) => Ok(caller),
        Err(Refusal::InvalidToken(why)) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            format!("Unauthorized: {why}."),
        )),
        Err(Refusal::Address) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_address",
            format!("This API key may not be used from {addr}."),
        )),
        Err(Refusal::Rate { retry_after_secs }) => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "This API key made more than {} requests in a minute; retry in {retry_after_secs} s.",
                    st.settings.api_rate_per_minute
                ),
            );
            e.retry_after = Some(retry_after_secs);
            Err(e)
        }
    }
}

/// 403 unless the key has `permission` (`tokens` or `accounts`).
pub fn require(caller: &ApiCaller, permission: &str) -> Result<(), ApiError> {
    let granted = match permission {
        "tokens" => caller.key.perm_tokens,
        "accounts" => caller.key.perm_accounts,
        _ => false,
    };
    if granted {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("This API key lacks the '{permission}' permission."),
        ))
    }
}
