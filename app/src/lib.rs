//! Mailbridge's pages, components and server functions, shared by the server (feature `ssr`)
//! and the browser bundle (feature `hydrate`).
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod domain;
pub mod error;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, SsrMode,
};

use crate::components::layout::Layout;
use crate::pages::{
    activity::ActivityPage, api_keys::ApiKeysPage, application_edit::ApplicationEditPage,
    applications::ApplicationsPage, dashboard::DashboardPage, login::LoginPage,
    mail_account::MailAccountPage, mail_accounts::MailAccountsPage,
    mail_server_form::MailServerFormPage, mail_servers::MailServersPage, not_found::NotFound,
    oauth_result::OAuthResultPage, profile::ProfilePage, settings::SettingsPage,
    user_edit::UserEditPage, users::UsersPage, webhook::WebhookPage, webhooks::WebhooksPage,
};

/// The HTML document around the app; rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr::headers::page_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "Mailbridge".to_string() } else { format!("{page} · Mailbridge") }
        } />
        // Async: the whole page (and its status, e.g. 403) is decided before the first byte.
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                <ParentRoute path=path!("") view=Layout ssr=SsrMode::Async>
                    <Route path=path!("") view=DashboardPage ssr=SsrMode::Async />
                    <Route path=path!("mail-servers") view=MailServersPage ssr=SsrMode::Async />
                    <Route path=path!("mail-servers/new") view=MailServerFormPage ssr=SsrMode::Async />
                    <Route path=path!("mail-servers/:id") view=MailServerFormPage ssr=SsrMode::Async />
                    <Route path=path!("applications") view=ApplicationsPage ssr=SsrMode::Async />
                    <Route path=path!("applications/:id") view=ApplicationEditPage ssr=SsrMode::Async />
                    <Route path=path!("api-keys") view=ApiKeysPage ssr=SsrMode::Async />
                    <Route path=path!("webhooks") view=WebhooksPage ssr=SsrMode::Async />
                    <Route path=path!("activity") view=ActivityPage ssr=SsrMode::Async />
                    <Route path=path!("settings") view=SettingsPage ssr=SsrMode::Async />
                    <Route path=path!("webhooks/:id") view=WebhookPage ssr=SsrMode::Async />
                    <Route path=path!("mail-accounts") view=MailAccountsPage ssr=SsrMode::Async />
                    <Route path=path!("mail-accounts/:id") view=MailAccountPage ssr=SsrMode::Async />
                    <Route path=path!("oauth/result") view=OAuthResultPage ssr=SsrMode::Async />
                    <Route path=path!("users") view=UsersPage ssr=SsrMode::Async />
                    <Route path=path!("users/:id") view=UserEditPage ssr=SsrMode::Async />
                    <Route path=path!("profile") view=ProfilePage ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
