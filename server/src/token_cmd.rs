//! `mailbridge token --account ID`: a fresh access token on stdout, for programs that take a
//! password command (msmtp `passwordeval`, isync `PassCmd`, mutt). Exit codes say why not.

use std::process::ExitCode;

use crate::api_v1::accounts::{hand_out, AccessToken};
use crate::{config::Config, startup};

/// How the token is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The access token alone.
    Raw,
    /// The same JSON as `POST /api/v1/accounts/{id}/access-token`.
    Json,
    /// The base64 XOAUTH2 initial response.
    Xoauth2,
}

/// Exit codes, documented in the README.
pub mod exit {
    pub const OTHER: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
    pub const NO_ACCOUNT: u8 = 3;
    /// `pending`, `needs_reauth`, `disabled` or `error`: its owner must act.
    pub const NOT_LINKED: u8 = 4;
    /// A password account has no token.
    pub const PASSWORD_ACCOUNT: u8 = 5;
    /// The provider could not be reached or answered with a temporary error: try again.
    pub const TEMPORARY: u8 = 6;
}

pub async fn run(config: Config, account: i64, min_validity: i64, format: Format) -> ExitCode {
    let fail = |code: u8, message: &str| {
        eprintln!("error: {message}");
        ExitCode::from(code)
    };
    if !(0..=3300).contains(&min_validity) {
        return fail(exit::BAD_INPUT, "--min-validity must be from 0 to 3300");
    }
    let state = match startup::build_state(&config).await {
        Ok(s) => s,
        Err(e) => return fail(exit::OTHER, &e.to_string()),
    };
    let view = match app::ssr::db::mail_accounts::view(&state.pool, account).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            return fail(
                exit::NO_ACCOUNT,
                &format!("mail account {account} does not exist"),
            )
        }
        Err(e) => return fail(exit::OTHER, &e.to_string()),
    };
    let token: AccessToken = match hand_out(&state, &view, min_validity, None, "command line").await
    {
        Ok(t) => t,
        Err(e) => {
            let code = match (e.status.as_u16(), e.body.status.as_deref()) {
                (409, _) if view.auth_method == app::domain::AuthMethod::Password => {
                    exit::PASSWORD_ACCOUNT
                }
                (409, _) => exit::NOT_LINKED,
                (503, _) => exit::TEMPORARY,
                (404, _) => exit::NO_ACCOUNT,
                _ => exit::OTHER,
            };
            return fail(code, &format!("mail account {account}: {}", e.body.message));
        }
    };
    match format {
        Format::Raw => println!("{}", token.access_token),
        Format::Xoauth2 => println!("{}", token.sasl_xoauth2),
        Format::Json => match serde_json::to_string_pretty(&token) {
            Ok(j) => println!("{j}"),
            Err(e) => return fail(exit::OTHER, &e.to_string()),
        },
    }
    ExitCode::SUCCESS
}
