//! The SMTP test (lettre's connection): connect, TLS per the server's setting, EHLO, AUTH,
//! QUIT. The AUTH exchange is driven by hand so the server's refusal is shown in its own words.

use std::time::Duration;

use base64::Engine;

use super::checklist::Checklist;
use super::sasl::{oauthbearer, xoauth2};
use super::tls::ExtraCa;
use super::{Credential, Mechanism, Target};
use crate::domain::Encryption;
use crate::ssr::outbound::NetPolicy;
use crate::ssr::{error_chain, provider_text};

use lettre::transport::smtp::client::AsyncSmtpConnection;

/// Runs the SMTP steps: connect, TLS, EHLO, AUTH, QUIT. No mail is sent.
pub async fn login(
    target: &Target,
    cred: &Credential,
    extra: &ExtraCa,
    policy: &NetPolicy,
    list: &mut Checklist,
) -> Result<(), String> {
    let mut conn = open(target, cred, extra, policy, list).await?;
    let _ = tokio::time::timeout(Duration::from_secs(3), conn.quit()).await;
    Ok(())
}

/// Sends `message` through the mailbox's own SMTP server, signed in as the mailbox (the same
/// steps as the test, each bounded by `timeout`). The server's refusal in its own words.
pub async fn send(
    target: &Target,
    cred: &Credential,
    extra: &ExtraCa,
    policy: &NetPolicy,
    timeout: Duration,
    message: &lettre::Message,
) -> Result<(), String> {
    // As for the test: a token never travels in the clear or to an unchecked certificate,
    // whatever the server row says.
    if matches!(cred, Credential::Bearer(_))
        && (target.encryption == Encryption::None || !target.validate_certificate)
    {
        return Err(
            "not sent: an OAuth2 token is never sent without TLS and a validated certificate"
                .into(),
        );
    }
    let mut list = Checklist::new(timeout);
    let mut conn = open(target, cred, extra, policy, &mut list).await?;
    let sent = tokio::time::timeout(timeout, conn.send(message.envelope(), &message.formatted()))
        .await
        .map_err(|_| format!("the server did not accept the message within {timeout:?}"))?
        .map_err(|e| provider_text(&error_chain(&e).join(": "), 500));
    let _ = tokio::time::timeout(Duration::from_secs(3), conn.quit()).await;
    sent.map(|_| ())
}

/// Connects, secures and signs in: the connection, ready for mail.
async fn open(
    target: &Target,
    cred: &Credential,
    extra: &ExtraCa,
    policy: &NetPolicy,
    list: &mut Checklist,
) -> Result<AsyncSmtpConnection, String> {
    use lettre::transport::smtp::client::{Certificate, TlsParameters};
    use lettre::transport::smtp::extension::ClientId;

    let hello = ClientId::Domain("mailbridge.localhost".into());
    let mut params = TlsParameters::builder(target.host.clone())
        .dangerous_accept_invalid_certs(!target.validate_certificate);
    for der in &extra.certs {
        let cert =
            Certificate::from_der(der.to_vec()).map_err(|e| format!("MAILBRIDGE_CA_FILE: {e}"))?;
        params = params.add_root_certificate(cert);
    }
    let params = params
        .build_rustls()
        .map_err(|e| format!("TLS settings: {e}"))?;
    // The address the policy checked is the one connected to.
    let resolve = || async {
        policy
            .resolve(&target.host, target.port)
            .await
            .map(|a| a[0])
    };
    let smtp_err =
        |e: lettre::transport::smtp::Error| provider_text(&error_chain(&e).join(": "), 500);
    let mut conn = match target.encryption {
        Encryption::SslTls => {
            list.step("connect, TLS and EHLO", async {
                let c = AsyncSmtpConnection::connect_tokio1(
                    resolve().await?,
                    None,
                    &hello,
                    Some(params.clone()),
                    None,
                )
                .await
                .map_err(smtp_err)?;
                Ok((c, "connected with TLS; EHLO answered".to_string()))
            })
            .await?
        }
        Encryption::StartTls => {
            let mut c = list
                .step("connect and EHLO", async {
                    let addr = resolve().await?;
                    let c = AsyncSmtpConnection::connect_tokio1(addr, None, &hello, None, None)
                        .await
                        .map_err(smtp_err)?;
                    Ok((c, "connected; EHLO answered".to_string()))
                })
                .await?;
            list.step("STARTTLS", async {
                if !c.can_starttls() {
                    return Err("the server does not offer STARTTLS".to_string());
                }
                c.starttls(params.clone(), &hello).await.map_err(smtp_err)?;
                Ok(((), "TLS established; EHLO answered again".to_string()))
            })
            .await?;
            c
        }
        Encryption::None => {
            list.step("connect and EHLO", async {
                let addr = resolve().await?;
                let c = AsyncSmtpConnection::connect_tokio1(addr, None, &hello, None, None)
                    .await
                    .map_err(smtp_err)?;
                Ok((c, "connected (no encryption); EHLO answered".to_string()))
            })
            .await?
        }
    };
    let info = conn.server_info().to_string();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let login = target.login.clone();
    let result = list
        .step("authenticate", async {
            match cred {
                Credential::Password(pw) => {
                    let payload = b64(&format!("\0{login}\0{pw}"));
                    conn.command(format!("AUTH PLAIN {payload}\r\n"))
                        .await
                        .map_err(smtp_err)?;
                    Ok(((), format!("signed in as {login} with PLAIN")))
                }
                Credential::Bearer(token) => {
                    let upper = info.to_ascii_uppercase();
                    let bearer_only = target.mechanism == Mechanism::OAuthBearer
                        || !upper.contains("XOAUTH2") && upper.contains("OAUTHBEARER");
                    let (mech, payload) = if !bearer_only {
                        ("XOAUTH2", b64(&xoauth2(&login, token)))
                    } else {
                        (
                            "OAUTHBEARER",
                            b64(&oauthbearer(&login, &target.host, target.port, token)),
                        )
                    };
                    // The bare AUTH line first: long tokens exceed some servers' line limit.
                    let first = conn
                        .command(format!("AUTH {mech}\r\n"))
                        .await
                        .map_err(smtp_err)?;
                    if first.code().to_string() != "334" {
                        return Err(format!(
                            "unexpected answer to AUTH {mech}: {}",
                            first.code()
                        ));
                    }
                    let answer = conn
                        .command(format!("{payload}\r\n"))
                        .await
                        .map_err(smtp_err)?;
                    if answer.code().to_string() == "334" {
                        // A challenge: the token was refused; decode it, then end the exchange.
                        let challenge = answer
                            .first_line()
                            .and_then(|l| {
                                base64::engine::general_purpose::STANDARD
                                    .decode(l.trim())
                                    .ok()
                            })
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .unwrap_or_default();
                        let reply = if mech == "OAUTHBEARER" {
                            "AQ==\r\n"
                        } else {
                            "\r\n"
                        };
                        let fin = conn.command(reply).await.map_err(smtp_err);
                        let fin = match fin {
                            Ok(r) => format!(
                                "{} {}",
                                r.code(),
                                r.message().collect::<Vec<_>>().join(" ")
                            ),
                            Err(e) => e,
                        };
                        return Err(format!(
                            "the server refused the token: {fin} — server said: {}",
                            provider_text(&challenge, 500)
                        ));
                    }
                    Ok(((), format!("signed in as {login} with {mech}")))
                }
            }
        })
        .await;
    if let Err(e) = result {
        list.auth_failed = true;
        conn.abort().await;
        return Err(e);
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_is_never_sent_in_the_clear_or_unchecked() {
        let message = lettre::Message::builder()
            .from("a@example.test".parse().unwrap())
            .to("b@example.test".parse().unwrap())
            .subject("s")
            .body(String::from("b"))
            .unwrap();
        let policy = NetPolicy::new(crate::domain::CidrList::parse("").unwrap());
        for (encryption, validate) in [(Encryption::None, true), (Encryption::SslTls, false)] {
            let target = Target {
                // Nothing listens here: a connection attempt would fail differently.
                host: "127.0.0.1".into(),
                port: 1,
                encryption,
                validate_certificate: validate,
                login: "a@example.test".into(),
                mechanism: Mechanism::Auto,
            };
            let err = send(
                &target,
                &Credential::Bearer("token".into()),
                &ExtraCa::default(),
                &policy,
                Duration::from_secs(1),
                &message,
            )
            .await
            .unwrap_err();
            assert!(err.starts_with("not sent"), "{err}");
        }
    }
}
