//! Scenario builders: the people and things most tests start from, made through the same
//! server functions the pages use.

use app::api::{applications, mail_accounts, mail_servers};
use app::domain::{MailServerDraft, Role};

use crate::TestApp;

/// The form of a Google mail server using application `app_id`.
pub fn google_draft(subject: &str, client_id: &str, secret: &str, app_id: i64) -> MailServerDraft {
    MailServerDraft {
        subject: subject.into(),
        auth_method: "oauth2".into(),
        provider: "google".into(),
        client_id: client_id.into(),
        client_secret: secret.into(),
        application_id: app_id.to_string(),
        imap_host: "imap.gmail.com".into(),
        imap_port: "993".into(),
        imap_encryption: "ssl".into(),
        smtp_host: "smtp.gmail.com".into(),
        smtp_port: "465".into(),
        smtp_encryption: "ssl".into(),
        validate_certificate: true,
        active: true,
        visible_to_users: true,
        ..Default::default()
    }
}

/// The form of a password mail server at `host`.
pub fn password_draft(
    subject: &str,
    host: &str,
    imap_port: u16,
    smtp_port: u16,
) -> MailServerDraft {
    MailServerDraft {
        subject: subject.into(),
        auth_method: "password".into(),
        imap_host: host.into(),
        imap_port: imap_port.to_string(),
        imap_encryption: "ssl".into(),
        smtp_host: host.into(),
        smtp_port: smtp_port.to_string(),
        smtp_encryption: "ssl".into(),
        validate_certificate: true,
        active: true,
        visible_to_users: true,
        ..Default::default()
    }
}

impl TestApp {
    /// A user with `role` and a session cookie for them.
    pub async fn person(&self, email: &str, role: Role) -> (i64, String) {
        let id = self.add_user(email, role).await;
        (id, self.session_for(id).await)
    }

    /// `admin@example.test`, signed in.
    pub async fn admin(&self) -> String {
        self.person("admin@example.test", Role::Admin).await.1
    }

    /// A new active integration application; returns its id.
    pub async fn create_application(&self, admin: &str, name: &str) -> i64 {
        self.ok(
            applications::SaveApplication {
                id: String::new(),
                name: name.into(),
                active: true,
                allowed_ips: String::new(),
            },
            admin,
        )
        .await
    }

    /// The Redirect URI of application `id`.
    pub async fn redirect_uri(&self, admin: &str, id: i64) -> String {
        self.ok(applications::GetApplication { id }, admin)
            .await
            .redirect_uri
    }

    /// Saves a new mail server; returns its id.
    pub async fn create_server(&self, admin: &str, draft: MailServerDraft) -> i64 {
        self.ok(
            mail_servers::SaveMailServer {
                id: String::new(),
                draft,
            },
            admin,
        )
        .await
    }

    /// A mailbox `login` on `server` for the cookie's owner (no password: an OAuth server).
    pub async fn create_account(&self, cookie: &str, server: i64, login: &str) -> i64 {
        self.ok(new_account(server, login, "", ""), cookie).await
    }
}

/// The "Add mail account" form.
pub fn new_account(
    server: i64,
    login: &str,
    owner: &str,
    password: &str,
) -> mail_accounts::CreateMailAccount {
    mail_accounts::CreateMailAccount {
        name: String::new(),
        mail_server_id: server.to_string(),
        login: login.into(),
        owner_id: owner.into(),
        password: password.into(),
    }
}
