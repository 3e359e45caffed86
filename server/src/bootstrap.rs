//! The first admin: on a fresh database, from `MAILBRIDGE_ADMIN_EMAIL` and
//! `MAILBRIDGE_ADMIN_PASSWORD`, so a new install can be signed into without a terminal.

use app::domain::{DisplayName, Email, Password, Role};
use app::ssr::db::Pool;

use crate::{config::Config, startup::StartError};

pub async fn first_admin(pool: &Pool, config: &Config) -> Result<(), StartError> {
    let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password) else {
        return Ok(());
    };
    let users = app::ssr::db::users::count(pool)
        .await
        .map_err(|e| StartError::Admin(format!("cannot count users: {e}")))?;
    if users > 0 {
        return Ok(());
    }
    let email = Email::parse(email).map_err(|m| StartError::Admin(format!("the email {m}")))?;
    let password =
        Password::parse(password).map_err(|m| StartError::Admin(format!("the password {m}")))?;
    let name = DisplayName::parse("Administrator").map_err(StartError::Admin)?;
    let now = app::ssr::clock::Clock::default().now();
    app::ssr::service::users::create(pool, now, &email, &name, Role::Admin, &password)
        .await
        .map_err(|e| StartError::Admin(e.to_string()))?;
    // The address is logged so the operator knows who can sign in; the password never is.
    tracing::info!(email = email.as_str(), "first admin created");
    Ok(())
}
