//! Mailbridge's pages, components and server functions, shared by the server (feature `ssr`)
//! and the browser bundle (feature `hydrate`).
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod domain;
pub mod error;
mod lazy_pages;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, Lazy, SsrMode,
};

use crate::components::layout::Layout;
use crate::lazy_pages as page;
use crate::pages::not_found::NotFound;

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
                <Route path=path!("/login") view={Lazy::<page::Login>::new()} ssr=SsrMode::Async />
                <ParentRoute path=path!("") view=Layout ssr=SsrMode::Async>
                    <Route path=path!("") view={Lazy::<page::Dashboard>::new()} ssr=SsrMode::Async />
                    <Route path=path!("mail-servers") view={Lazy::<page::MailServers>::new()} ssr=SsrMode::Async />
                    <Route path=path!("mail-servers/new") view={Lazy::<page::MailServerForm>::new()} ssr=SsrMode::Async />
                    <Route path=path!("mail-servers/:id") view={Lazy::<page::MailServerForm>::new()} ssr=SsrMode::Async />
                    <Route path=path!("applications") view={Lazy::<page::Applications>::new()} ssr=SsrMode::Async />
                    <Route path=path!("applications/:id") view={Lazy::<page::ApplicationEdit>::new()} ssr=SsrMode::Async />
                    <Route path=path!("api-keys") view={Lazy::<page::ApiKeys>::new()} ssr=SsrMode::Async />
                    <Route path=path!("webhooks") view={Lazy::<page::Webhooks>::new()} ssr=SsrMode::Async />
                    <Route path=path!("activity") view={Lazy::<page::Activity>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings") view={Lazy::<page::Settings>::new()} ssr=SsrMode::Async />
                    <Route path=path!("webhooks/:id") view={Lazy::<page::Webhook>::new()} ssr=SsrMode::Async />
                    <Route path=path!("mail-accounts") view={Lazy::<page::MailAccounts>::new()} ssr=SsrMode::Async />
                    <Route path=path!("mail-accounts/:id") view={Lazy::<page::MailAccount>::new()} ssr=SsrMode::Async />
                    <Route path=path!("oauth/result") view={Lazy::<page::OAuthResult>::new()} ssr=SsrMode::Async />
                    <Route path=path!("users") view={Lazy::<page::Users>::new()} ssr=SsrMode::Async />
                    <Route path=path!("users/:id") view={Lazy::<page::UserEdit>::new()} ssr=SsrMode::Async />
                    <Route path=path!("profile") view={Lazy::<page::Profile>::new()} ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
