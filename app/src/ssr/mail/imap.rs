//! The IMAP test (async-imap): connect, TLS per the server's setting, authenticate, SELECT
//! INBOX, LOGOUT.

use std::time::Duration;

use super::checklist::Checklist;
use super::sasl::{oauthbearer, refused, xoauth2, Sasl};
use super::tls::{tcp, tls, tls_connector, ExtraCa};
use super::{Credential, Mechanism, Target};
use crate::domain::Encryption;
use crate::ssr::outbound::NetPolicy;
use crate::ssr::provider_text;

/// Runs the IMAP steps; returns the number of messages in INBOX.
pub async fn login(
    target: &Target,
    cred: &Credential,
    extra: &ExtraCa,
    policy: &NetPolicy,
    list: &mut Checklist,
) -> Result<u32, String> {
    let connector = tls_connector(target.validate_certificate, extra)?;
    let (tcp_stream,) = list
        .step("connect", async {
            tcp(policy, &target.host, target.port)
                .await
                .map(|(s, d)| ((s,), d))
        })
        .await?;
    match target.encryption {
        Encryption::SslTls => {
            let stream = list
                .step("TLS", tls(&connector, &target.host, tcp_stream))
                .await?;
            let mut client = async_imap::Client::new(stream);
            greeting(&mut client, list, "greeting received").await?;
            session(client, target, cred, list).await
        }
        Encryption::StartTls => {
            let mut client = async_imap::Client::new(tcp_stream);
            greeting(&mut client, list, "greeting received").await?;
            let stream = list
                .step("STARTTLS", async {
                    client
                        .run_command_and_check_ok("STARTTLS", None)
                        .await
                        .map_err(|e| format!("STARTTLS refused: {e}"))?;
                    let raw = client.into_inner();
                    tls(&connector, &target.host, raw).await
                })
                .await?;
            session(async_imap::Client::new(stream), target, cred, list).await
        }
        Encryption::None => {
            let mut client = async_imap::Client::new(tcp_stream);
            greeting(&mut client, list, "greeting received (no encryption)").await?;
            session(client, target, cred, list).await
        }
    }
}

async fn greeting<T>(
    client: &mut async_imap::Client<T>,
    list: &mut Checklist,
    detail: &str,
) -> Result<(), String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    list.step("greeting", async {
        client
            .read_response()
            .await
            .map_err(|e| format!("no greeting: {e}"))?
            .ok_or("the server closed the connection")?;
        Ok(((), detail.to_string()))
    })
    .await
}

/// AUTHENTICATE OAUTHBEARER (RFC 7628) as one checklist step.
async fn oauthbearer_login<T>(
    client: async_imap::Client<T>,
    target: &Target,
    token: &str,
    list: &mut Checklist,
) -> Result<async_imap::Session<T>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let login = &target.login;
    let mut sasl = Sasl {
        first: Some(oauthbearer(login, &target.host, target.port, token).into_bytes()),
        challenge: None,
        oauthbearer: true,
    };
    list.step("authenticate (OAUTHBEARER)", async {
        client
            .authenticate("OAUTHBEARER", &mut sasl)
            .await
            .map(|s| (s, format!("signed in as {login} with OAUTHBEARER")))
            .map_err(|(e, _)| refused(&e.to_string(), &sasl.challenge))
    })
    .await
}

async fn session<T>(
    client: async_imap::Client<T>,
    target: &Target,
    cred: &Credential,
    list: &mut Checklist,
) -> Result<u32, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let login = target.login.clone();
    let session = match cred {
        Credential::Password(pw) => {
            let r = list
                .step("authenticate (LOGIN)", async {
                    client
                        .login(&login, pw)
                        .await
                        .map(|s| (s, format!("signed in as {login}")))
                        .map_err(|(e, _)| {
                            format!(
                                "the server refused the login: {}",
                                provider_text(&e.to_string(), 500)
                            )
                        })
                })
                .await;
            if r.is_err() {
                list.auth_failed = true;
            }
            r?
        }
        Credential::Bearer(token) if target.mechanism == Mechanism::OAuthBearer => {
            let r = oauthbearer_login(client, target, token, list).await;
            if r.is_err() {
                list.auth_failed = true;
            }
            r?
        }
        Credential::Bearer(token) => {
            let mut sasl = Sasl {
                first: Some(xoauth2(&login, token).into_bytes()),
                challenge: None,
                oauthbearer: false,
            };
            let r = list
                .step("authenticate (XOAUTH2)", async {
                    match client.authenticate("XOAUTH2", &mut sasl).await {
                        Ok(s) => Ok((Ok(s), format!("signed in as {login} with XOAUTH2"))),
                        Err((e, client)) => {
                            let text = provider_text(&e.to_string(), 500);
                            // Only OAUTHBEARER advertised: try it on the same connection.
                            if sasl.challenge.is_none()
                                && text.to_ascii_lowercase().contains("mechanism")
                            {
                                Ok((
                                    Err(client),
                                    format!("XOAUTH2 not supported ({text}); trying OAUTHBEARER"),
                                ))
                            } else {
                                Err(refused(&text, &sasl.challenge))
                            }
                        }
                    }
                })
                .await;
            let r = match r {
                Ok(Ok(s)) => Ok(s),
                Ok(Err(client)) => oauthbearer_login(client, target, token, list).await,
                Err(e) => Err(e),
            };
            if r.is_err() {
                list.auth_failed = true;
            }
            r?
        }
    };
    let mut session = session;
    let count = list
        .step("select INBOX", async {
            let mailbox = session.select("INBOX").await.map_err(|e| {
                format!(
                    "SELECT INBOX failed: {}",
                    provider_text(&e.to_string(), 500)
                )
            })?;
            Ok((
                mailbox.exists,
                format!("INBOX holds {} messages", mailbox.exists),
            ))
        })
        .await?;
    let _ = tokio::time::timeout(Duration::from_secs(3), session.logout()).await;
    Ok(count)
}
