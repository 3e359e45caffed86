//! How a callback ended, named in the result page's URL.

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
    DomainRefused,
    AlreadyLinked,
    ServerChanged,
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
            Outcome::DomainRefused => "domain_refused",
            Outcome::AlreadyLinked => "already_linked",
            Outcome::ServerChanged => "server_changed",
            Outcome::NoRefreshToken => "no_refresh_token",
            Outcome::Failed => "failed",
        }
    }
}
