//! Signing in and out, the caller's identity, and changing one's own password.

use leptos::prelude::*;

use crate::domain::SessionUser;
use crate::error::AppError;

pub use crate::domain::user::WRONG_CREDENTIALS;

#[server(prefix = "/api", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    use crate::api::guard;
    guard::answer(guard::current_user()).await
}

#[server(prefix = "/api", endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<(), AppError> {
    use crate::{api::guard, domain::Email, ssr::service::sign_in, ssr::sessions};
    guard::answer(async {
        let email = Email::parse(&email);
        let mut errors = vec![];
        if let Err(m) = &email {
            errors.push((Email::LABEL, m.clone()));
        }
        if password.is_empty() {
            errors.push(("Password", "is required".to_string()));
        }
        let (Ok(email), true) = (email, errors.is_empty()) else {
            return Err(AppError::fields(errors));
        };
        let st = guard::state()?;
        let old = guard::session_token();
        let client = guard::lockout_client();
        let token = sign_in::sign_in(&st, &email, &password, &client, old.as_deref()).await?;
        guard::set_cookie(&sessions::session_cookie(
            &token,
            st.settings.secure_cookies(),
        ));
        Ok(())
    })
    .await
}

#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::{api::guard, ssr::service::sign_in, ssr::sessions};
    guard::answer(async {
        let st = guard::state()?;
        sign_in::sign_out(&st, guard::session_token().as_deref()).await?;
        guard::set_cookie(&sessions::clear_session_cookie(
            st.settings.secure_cookies(),
        ));
        Ok(())
    })
    .await
}

#[server(prefix = "/api", endpoint = "change_own_password")]
pub async fn change_own_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    use crate::{api::guard, domain::Password, ssr::service::sign_in};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        let new = Password::parse(&new_password).map_err(|m| AppError::field("New password", m))?;
        let keep = guard::session_token();
        let client = guard::lockout_client();
        sign_in::change_own_password(&st, &me, &client, &current_password, &new, keep.as_deref())
            .await
    })
    .await
}
