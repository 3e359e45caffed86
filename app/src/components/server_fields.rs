//! The mail server form's state: one signal per field, read back into a draft on submit.

use leptos::prelude::*;

use crate::domain::{Encryption, MailServerDraft};

/// One signal per form field.
#[derive(Clone, Copy)]
pub struct Fields {
    pub subject: RwSignal<String>,
    pub auth_method: RwSignal<String>,
    pub provider: RwSignal<String>,
    pub client_id: RwSignal<String>,
    pub client_secret: RwSignal<String>,
    pub application_id: RwSignal<String>,
    pub tenant: RwSignal<String>,
    pub issuer_url: RwSignal<String>,
    pub scopes: RwSignal<String>,
    pub imap_host: RwSignal<String>,
    pub imap_port: RwSignal<String>,
    pub imap_encryption: RwSignal<String>,
    pub smtp_host: RwSignal<String>,
    pub smtp_port: RwSignal<String>,
    pub smtp_encryption: RwSignal<String>,
    pub validate_certificate: RwSignal<bool>,
    pub active: RwSignal<bool>,
    pub visible_to_users: RwSignal<bool>,
    pub allowed_domains: RwSignal<String>,
    pub secret_expires_on: RwSignal<String>,
    pub publishing_status: RwSignal<String>,
}

impl Fields {
    pub fn new(d: MailServerDraft) -> Self {
        Fields {
            subject: RwSignal::new(d.subject),
            auth_method: RwSignal::new(d.auth_method),
            provider: RwSignal::new(d.provider),
            client_id: RwSignal::new(d.client_id),
            client_secret: RwSignal::new(String::new()),
            application_id: RwSignal::new(d.application_id),
            tenant: RwSignal::new(d.tenant),
            issuer_url: RwSignal::new(d.issuer_url),
            scopes: RwSignal::new(d.scopes),
            imap_host: RwSignal::new(d.imap_host),
            imap_port: RwSignal::new(d.imap_port),
            imap_encryption: RwSignal::new(d.imap_encryption),
            smtp_host: RwSignal::new(d.smtp_host),
            smtp_port: RwSignal::new(d.smtp_port),
            smtp_encryption: RwSignal::new(d.smtp_encryption),
            validate_certificate: RwSignal::new(d.validate_certificate),
            active: RwSignal::new(d.active),
            visible_to_users: RwSignal::new(d.visible_to_users),
            allowed_domains: RwSignal::new(d.allowed_domains),
            secret_expires_on: RwSignal::new(d.client_secret_expires_on),
            publishing_status: RwSignal::new(d.publishing_status),
        }
    }

    pub fn draft(&self) -> MailServerDraft {
        MailServerDraft {
            subject: self.subject.get_untracked(),
            auth_method: self.auth_method.get_untracked(),
            provider: self.provider.get_untracked(),
            client_id: self.client_id.get_untracked(),
            client_secret: self.client_secret.get_untracked(),
            application_id: self.application_id.get_untracked(),
            tenant: self.tenant.get_untracked(),
            issuer_url: self.issuer_url.get_untracked(),
            scopes: self.scopes.get_untracked(),
            imap_host: self.imap_host.get_untracked(),
            imap_port: self.imap_port.get_untracked(),
            imap_encryption: self.imap_encryption.get_untracked(),
            smtp_host: self.smtp_host.get_untracked(),
            smtp_port: self.smtp_port.get_untracked(),
            smtp_encryption: self.smtp_encryption.get_untracked(),
            validate_certificate: self.validate_certificate.get_untracked(),
            active: self.active.get_untracked(),
            visible_to_users: self.visible_to_users.get_untracked(),
            allowed_domains: self.allowed_domains.get_untracked(),
            client_secret_expires_on: self.secret_expires_on.get_untracked(),
            publishing_status: self.publishing_status.get_untracked(),
            confirm_linked: 0,
        }
    }
}

/// A new server's form: OAuth2, TLS, certificate checked, active and visible.
pub fn new_draft() -> MailServerDraft {
    MailServerDraft {
        auth_method: "oauth2".into(),
        imap_encryption: Encryption::SslTls.code().into(),
        smtp_encryption: Encryption::SslTls.code().into(),
        validate_certificate: true,
        active: true,
        visible_to_users: true,
        ..Default::default()
    }
}
