//! The one error type every server function returns. It crosses the wire as JSON so that the
//! browser can put a field's message next to that field.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please sign in to continue.")]
    Unauthorized,
    #[error("You do not have permission to do that.")]
    Forbidden,
    /// Bad input: `field` is the form field's label, `message` says what is wrong with it.
    #[error("{field}: {message}")]
    Field { field: String, message: String },
    /// Credentials were wrong; the message says no more than that.
    #[error("{0}")]
    Denied(String),
    /// A rule of the product refused the request (e.g. too many sign-in attempts, deleting
    /// something still in use).
    #[error("{0}")]
    Refused(String),
    /// Too many attempts; the message says for how long.
    #[error("{0}")]
    RateLimited(String),
    #[error("{0} was not found.")]
    NotFound(String),
    #[error("Something went wrong on the server; the details are in the server log.")]
    Internal,
    #[error("The server could not be reached: {0}")]
    Transport(String),
}

impl AppError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Field {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The message for one form field, if this error is about it.
    pub fn for_field(&self, name: &str) -> Option<String> {
        match self {
            AppError::Field { field, message } if field == name => Some(message.clone()),
            _ => None,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized => 401,
            AppError::Forbidden => 403,
            AppError::Field { .. } => 422,
            AppError::Denied(_) => 401,
            AppError::Refused(_) => 409,
            AppError::RateLimited(_) => 429,
            AppError::NotFound(_) => 404,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(m) => AppError::Transport(m),
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => {
                AppError::field("request", format!("malformed request: {m}"))
            }
            _ => AppError::Internal,
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
