//! The pages as lazy routes in four WASM chunks (`cargo leptos build --split`): the sign-in
//! page, the dashboard, a user's own pages (mail accounts, the OAuth result, the profile) and
//! the admin pages. The browser bundle keeps the router, the layout and what the groups share;
//! the server names the chunks a page needs in preload links of the page it renders, so the
//! first page does not wait for a second round trip.
//!
//! Why groups and not a chunk per page: with one split point per page the splitter made a chunk
//! of every piece of code any two pages share, and the dashboard then fetched and instantiated
//! 93 WASM modules before it could hydrate. Four split points leave a handful of shared chunks;
//! the user's pages are apart from the admin pages so that a `user` never downloads those.

use leptos::lazy;
use leptos::prelude::*;
use leptos_router::LazyRoute;

use crate::pages::{
    activity::ActivityPage, api_keys::ApiKeysPage, application_edit::ApplicationEditPage,
    applications::ApplicationsPage, dashboard::DashboardPage, login::LoginPage,
    mail_account::MailAccountPage, mail_accounts::MailAccountsPage,
    mail_server_form::MailServerFormPage, mail_servers::MailServersPage,
    oauth_result::OAuthResultPage, profile::ProfilePage, settings::SettingsPage,
    user_edit::UserEditPage, users::UsersPage, webhook::WebhookPage, webhooks::WebhooksPage,
};

/// `group!(admin_chunk, __preload_admin_chunk, Admin { MailServers => MailServersPage, ... })`:
/// a route type per page, and one lazy function that renders whichever of them a route asks for.
macro_rules! group {
    ($chunk:ident, $preload:ident, $which:ident { $($route:ident => $page:ident),* $(,)? }) => {
        /// Which page of the group a route shows.
        #[derive(Clone, Copy)]
        pub enum $which {
            $($route,)*
        }

        #[lazy]
        fn $chunk(page: $which) -> AnyView {
            match page {
                $($which::$route => view! { <$page /> }.into_any(),)*
            }
        }

        $(
            pub struct $route;

            impl LazyRoute for $route {
                fn data() -> Self {
                    $route
                }

                async fn view(_this: Self) -> AnyView {
                    $chunk($which::$route).await
                }

                async fn preload() {
                    #[cfg(feature = "hydrate")]
                    $preload().await;
                }
            }
        )*
    };
}

// The two pages a visit starts on, each a group of one so that its first load fetches nothing
// else.
group!(sign_in_chunk, __preload_sign_in_chunk, SignIn { Login => LoginPage });
group!(dashboard_chunk, __preload_dashboard_chunk, Home { Dashboard => DashboardPage });

// What every signed-in user opens: their mailboxes, the page an OAuth grant comes back to, and
// their profile. A `user` never needs the admin chunk.
group!(mailbox_chunk, __preload_mailbox_chunk, Mailbox {
    MailAccounts => MailAccountsPage,
    MailAccount => MailAccountPage,
    OAuthResult => OAuthResultPage,
    Profile => ProfilePage,
});

group!(admin_chunk, __preload_admin_chunk, Admin {
    MailServers => MailServersPage,
    MailServerForm => MailServerFormPage,
    Applications => ApplicationsPage,
    ApplicationEdit => ApplicationEditPage,
    ApiKeys => ApiKeysPage,
    Webhooks => WebhooksPage,
    Webhook => WebhookPage,
    Activity => ActivityPage,
    Settings => SettingsPage,
    Users => UsersPage,
    UserEdit => UserEditPage,
});
