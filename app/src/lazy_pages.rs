//! Each page as a lazy route: the browser bundle keeps only the router, the layout and what
//! pages share; a page's own code is a separate WASM chunk (`cargo leptos build --split`),
//! fetched when its route is first visited (the server names it in a preload link of the page
//! it renders, so the first page does not wait for a second round trip).

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::pages::{
    activity::ActivityPage, api_keys::ApiKeysPage, application_edit::ApplicationEditPage,
    applications::ApplicationsPage, dashboard::DashboardPage, login::LoginPage,
    mail_account::MailAccountPage, mail_accounts::MailAccountsPage,
    mail_server_form::MailServerFormPage, mail_servers::MailServersPage,
    oauth_result::OAuthResultPage, profile::ProfilePage, settings::SettingsPage,
    user_edit::UserEditPage, users::UsersPage, webhook::WebhookPage, webhooks::WebhooksPage,
};

/// `lazy_page!(Login, LoginPage)`: a route type `Login` whose view is `<LoginPage/>`, split off.
macro_rules! lazy_page {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(this: Self) -> AnyView {
                let _ = this;
                view! { <$page /> }.into_any()
            }
        }
    )*};
}

lazy_page! {
    Login => LoginPage,
    Dashboard => DashboardPage,
    MailServers => MailServersPage,
    MailServerForm => MailServerFormPage,
    Applications => ApplicationsPage,
    ApplicationEdit => ApplicationEditPage,
    ApiKeys => ApiKeysPage,
    Webhooks => WebhooksPage,
    Webhook => WebhookPage,
    Activity => ActivityPage,
    Settings => SettingsPage,
    MailAccounts => MailAccountsPage,
    MailAccount => MailAccountPage,
    OAuthResult => OAuthResultPage,
    Users => UsersPage,
    UserEdit => UserEditPage,
    Profile => ProfilePage,
}
