//! The one error type every server function returns. It crosses the wire as JSON so that the
//! browser can put each field's message next to that field.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// What is wrong with one form field: `field` is the field's label as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please sign in to continue.")]
    Unauthorized,
    #[error("You do not have permission to do that.")]
    Forbidden,
    /// Bad input: every mistake of the form at once, so the page can mark them all.
    #[error("{}", describe(.0))]
    Invalid(Vec<FieldError>),
    /// Credentials were wrong; the message says no more than that.
    #[error("{0}")]
    Denied(String),
    /// A rule of the product refused the request (e.g. too many sign-in attempts, deleting
    /// something still in use).
    #[error("{0}")]
    Refused(String),
    /// Too many attempts, or too many at once; the message says for how long, and the answer
    /// carries `Retry-After`.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The request would affect `count` things the caller has not agreed to yet (e.g. linked
    /// mailboxes that must be authorised again); sent again with that count, it goes ahead.
    #[error("{message}")]
    Confirm { message: String, count: i64 },
    #[error("{0} was not found.")]
    NotFound(String),
    #[error("Something went wrong on the server; the details are in the server log.")]
    Internal,
    #[error("The server could not be reached: {0}")]
    Transport(String),
}

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AppError {
    /// One field's mistake.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// Several fields' mistakes, as `(label, message)` pairs from a form's parse.
    pub fn fields<L: Into<String>, M: Into<String>>(
        errors: impl IntoIterator<Item = (L, M)>,
    ) -> Self {
        AppError::Invalid(
            errors
                .into_iter()
                .map(|(f, m)| FieldError {
                    field: f.into(),
                    message: m.into(),
                })
                .collect(),
        )
    }

    /// The message for one form field, if this error is about it.
    pub fn for_field(&self, name: &str) -> Option<String> {
        match self {
            AppError::Invalid(errors) => errors
                .iter()
                .find(|e| e.field == name)
                .map(|e| e.message.clone()),
            _ => None,
        }
    }

    /// The labels of the fields this error is about, in form order.
    pub fn field_names(&self) -> Vec<&str> {
        match self {
            AppError::Invalid(errors) => errors.iter().map(|e| e.field.as_str()).collect(),
            _ => vec![],
        }
    }

    /// Whether this is about form fields (shown beside them) rather than the whole request.
    pub fn is_invalid(&self) -> bool {
        matches!(self, AppError::Invalid(_))
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized => 401,
            AppError::Forbidden => 403,
            AppError::Invalid(_) => 422,
            AppError::Denied(_) => 401,
            AppError::Refused(_) | AppError::Confirm { .. } => 409,
            AppError::RateLimited { .. } => 429,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_a_form_is_carried() {
        let e = AppError::fields([("Subject", "is required"), ("IMAP port", "must be 1-65535")]);
        assert_eq!(e.for_field("IMAP port").as_deref(), Some("must be 1-65535"));
        assert_eq!(e.field_names(), vec!["Subject", "IMAP port"]);
        assert_eq!(
            e.to_string(),
            "Subject: is required; IMAP port: must be 1-65535"
        );
        assert_eq!(e.status(), 422);
        assert!(AppError::Forbidden.for_field("Subject").is_none());
    }
}
