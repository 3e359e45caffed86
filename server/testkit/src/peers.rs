//! The project's copy of the test peers kit (`end2end/peers`: oidc-provider, Dovecot, Postfix),
//! started with its own state folder and free ports for one test, stopped when dropped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

pub struct Peers {
    pub env: HashMap<String, String>,
    vars: Vec<(String, String)>,
    kit: PathBuf,
}

impl Peers {
    /// Starts the kit on free ports. A port found free can be taken by someone else before a
    /// daemon binds it: such a start is stopped and tried again on new ports (three times).
    pub fn start(knobs: &[(&str, &str)]) -> Peers {
        let mut last = String::new();
        for _ in 0..3 {
            match Peers::try_start(knobs) {
                Ok(p) => return p,
                Err(log) if log.contains("Address already in use") => last = log,
                Err(log) => panic!("peers did not start: {log}"),
            }
        }
        panic!("peers did not start (ports taken three times): {last}")
    }

    fn try_start(knobs: &[(&str, &str)]) -> Result<Peers, String> {
        let kit = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../end2end/peers")
            .canonicalize()
            .expect("kit");
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Short and world-traversable: Dovecot's sockets live below it; nobody must reach it.
        let var = format!("/tmp/mbpeers-{}-{n}", std::process::id());
        let mut vars: Vec<(String, String)> = vec![
            ("PEERS_VAR".into(), var.clone()),
            (
                "PEERS_NODE_DIR".into(),
                kit.join("oauth").display().to_string(),
            ),
        ];
        let names: [&str; 8] = [
            "PEERS_OIDC_PORT",
            "PEERS_IMAP_PORT",
            "PEERS_IMAPS_PORT",
            "PEERS_SUBMISSION_PORT",
            "PEERS_SMTP_STARTTLS_PORT",
            "PEERS_SMTPS_PORT",
            "PEERS_RELAY_PORT",
            "PEERS_AUTH_PORT",
        ];
        for (name, port) in names.iter().zip(crate::oidc::free_ports::<8>()) {
            vars.push((name.to_string(), port.to_string()));
        }
        for (k, v) in knobs {
            vars.push((k.to_string(), v.to_string()));
        }
        // The daemons it starts inherit its stdout/stderr: a pipe would never reach EOF, so
        // the output goes to a file.
        let log_path = format!("{var}.start.log");
        let log = std::fs::File::create(&log_path).expect("start log");
        let status = Command::new("bash")
            .arg(kit.join("start.sh"))
            .envs(vars.iter().cloned())
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .status()
            .expect("run start.sh");
        if !status.success() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            // Dropped: stop.sh stops whatever did start, and the folder goes.
            drop(Peers {
                env: HashMap::new(),
                vars,
                kit,
            });
            return Err(log);
        }
        let text = std::fs::read_to_string(format!("{var}/peers.env")).expect("peers.env");
        let env = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(Peers { env, vars, kit })
    }

    pub fn get(&self, key: &str) -> String {
        self.env
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} missing from peers.env"))
    }

    pub fn port(&self, key: &str) -> u16 {
        self.get(key).parse().expect("port")
    }

    /// Mailbridge's environment for a Google-type provider at the kit's AS, trusting its CA.
    pub fn mailbridge_env(&self) -> Vec<(String, String)> {
        let issuer = self.get("PEERS_ISSUER");
        vec![
            (
                "MAILBRIDGE_GOOGLE_AUTH_URL".into(),
                format!("{issuer}/auth"),
            ),
            (
                "MAILBRIDGE_GOOGLE_TOKEN_URL".into(),
                format!("{issuer}/token"),
            ),
            (
                "MAILBRIDGE_GOOGLE_USERINFO_URL".into(),
                format!("{issuer}/me"),
            ),
            (
                "MAILBRIDGE_GOOGLE_REVOKE_URL".into(),
                format!("{issuer}/token/revocation"),
            ),
            ("MAILBRIDGE_GOOGLE_ISSUER".into(), issuer.clone()),
            (
                "MAILBRIDGE_GOOGLE_JWKS_URL".into(),
                format!("{issuer}/jwks"),
            ),
            ("MAILBRIDGE_CA_FILE".into(), self.get("PEERS_CA")),
            ("MAILBRIDGE_MAIL_TIMEOUT_SECS".into(), "5".into()),
        ]
    }
}

impl Drop for Peers {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(self.kit.join("stop.sh"))
            .arg("--quiet")
            .envs(self.vars.iter().cloned())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        if let Some((_, var)) = self.vars.iter().find(|(k, _)| k == "PEERS_VAR") {
            let _ = std::fs::remove_dir_all(var);
            let _ = std::fs::remove_file(format!("{var}.start.log"));
        }
    }
}

/// A Mailbridge test server that reaches these peers.
pub async fn spawn_for(peers: &Peers) -> crate::TestApp {
    let env = peers.mailbridge_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    crate::spawn_with(&env).await
}

/// A password mail server at the peers' Dovecot (IMAP) and Postfix (submission), STARTTLS.
pub async fn password_server(app: &crate::TestApp, cookie: &str, peers: &Peers) -> i64 {
    use app::domain::{Encryption, MailServerDraft};
    let draft = MailServerDraft {
        imap_encryption: Encryption::StartTls.code().into(),
        smtp_encryption: Encryption::StartTls.code().into(),
        ..crate::scenario::password_draft(
            "Password mail",
            "127.0.0.1",
            peers.port("PEERS_IMAP_PORT"),
            peers.port("PEERS_SMTP_STARTTLS_PORT"),
        )
    };
    app.create_server(cookie, draft).await
}

/// The form of a Google-type OAuth server at the kit's authorization server, with IMAPS and
/// SMTPS on loopback: what a linked mailbox at the peers starts from.
pub fn oauth_server_draft(
    peers: &Peers,
    subject: &str,
    client_id: &str,
    client_secret: &str,
    app_id: i64,
) -> app::domain::MailServerDraft {
    app::domain::MailServerDraft {
        imap_host: "127.0.0.1".into(),
        imap_port: peers.get("PEERS_IMAPS_PORT"),
        smtp_host: "127.0.0.1".into(),
        smtp_port: peers.get("PEERS_SMTPS_PORT"),
        ..crate::scenario::google_draft(subject, client_id, client_secret, app_id)
    }
}

/// A Google-type mail server at the kit's provider, Dovecot and Postfix (IMAPS and SMTPS),
/// with an admin and its application: mailboxes are linked through the real code flow.
pub struct Kit {
    pub peers: Peers,
    pub app: crate::TestApp,
    pub admin: String,
    pub server: i64,
    pub redirect_uri: String,
    /// The server's form as created (its client secret included).
    pub draft: app::domain::MailServerDraft,
}

impl Kit {
    pub async fn start() -> Kit {
        Kit::start_with(&[]).await
    }

    pub async fn start_with(extra: &[(&str, &str)]) -> Kit {
        Kit::start_on(Peers::start(&[]), extra).await
    }

    /// On peers already started (whose files the environment may name).
    pub async fn start_on(peers: Peers, extra: &[(&str, &str)]) -> Kit {
        let mut env = peers.mailbridge_env();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let app = crate::spawn_with(&env).await;
        let admin = app.admin().await;
        let app_id = app.create_application(&admin, "Web").await;
        let redirect_uri = app.redirect_uri(&admin, app_id).await;
        let issuer = peers.get("PEERS_ISSUER");
        let (client_id, client_secret) = crate::oidc::register(&issuer, &redirect_uri).await;
        let draft =
            crate::peers::oauth_server_draft(&peers, "Kit", &client_id, &client_secret, app_id);
        let server = app.create_server(&admin, draft.clone()).await;
        Kit {
            draft,
            peers,
            app,
            admin,
            server,
            redirect_uri,
        }
    }

    /// A mailbox `login` for the holder of `cookie`, authorised at the kit's provider.
    pub async fn linked(&self, cookie: &str, login: &str) -> i64 {
        let id = self
            .app
            .ok(
                app::api::mail_accounts::CreateMailAccount {
                    name: login.into(),
                    ..crate::scenario::new_account(self.server, login, "", "")
                },
                cookie,
            )
            .await;
        self.authorize(cookie, id).await;
        id
    }

    pub async fn authorize(&self, cookie: &str, id: i64) {
        let auth_url = self
            .app
            .ok(app::api::mail_accounts::StartAuthorization { id }, cookie)
            .await;
        let issuer = self.peers.get("PEERS_ISSUER");
        let back = crate::oidc::consent(&issuer, &auth_url, &self.redirect_uri).await;
        let res = self
            .app
            .get(back.strip_prefix(&self.app.url).unwrap(), Some(cookie))
            .await;
        assert_eq!(
            res.headers()["location"],
            format!("/oauth/result?outcome=linked&account={id}")
        );
    }

    /// Revokes `id`'s grant at the provider and lets a refresh find out.
    pub async fn revoke(&self, id: i64) {
        let row = app::ssr::db::mail_accounts::get(&self.app.state.pool, id)
            .await
            .unwrap()
            .unwrap();
        let token = self
            .app
            .state
            .secrets
            .open_str(
                &row.refresh_token_enc.unwrap(),
                &app::ssr::crypto::aad::REFRESH_TOKEN.row(id),
            )
            .unwrap();
        let res = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap()
            .post(format!(
                "{}/token/revocation",
                self.peers.get("PEERS_ISSUER")
            ))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        app::ssr::refresh::refresh(&self.app.state, id, 0, true)
            .await
            .unwrap_err();
        let view = app::ssr::db::mail_accounts::view(&self.app.state.pool, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(view.status, app::domain::AccountStatus::NeedsReauth);
    }

    /// The messages delivered to `address`'s Dovecot mailbox, waiting up to 15 s for `n`.
    pub async fn mailbox(&self, address: &str, n: usize) -> Vec<String> {
        let dir = std::path::PathBuf::from(self.peers.get("PEERS_VAR"))
            .join("mail")
            .join(address)
            .join("Maildir");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let mut found = Vec::new();
            for sub in ["new", "cur"] {
                if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
                    for e in entries.flatten() {
                        found.push(std::fs::read_to_string(e.path()).unwrap_or_default());
                    }
                }
            }
            if found.len() >= n {
                return found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {n} messages in {}",
                found.len(),
                dir.display()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
