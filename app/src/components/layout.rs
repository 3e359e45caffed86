use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

use crate::api::auth::{current_user, Logout};
use crate::domain::SessionUser;
use crate::error::AppError;

/// The signed-in user, loaded once per full page load and shared with every page.
pub type Me = Resource<Result<Option<SessionUser>, AppError>>;

/// The frame of every signed-in page: navigation on the left, the page on the right.
#[component]
pub fn Layout() -> impl IntoView {
    // Effects run only in the browser, so this marks the moment hydration finished; the
    // end-to-end tests wait for it before they click.
    let hydrated = super::ready::use_ready();

    let me: Me = Resource::new(|| (), |_| current_user());
    provide_context(me);
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            let _ = window().location().set_href("/login");
        }
    });

    view! {
        <div class="shell" data-hydrated=move || hydrated.get().to_string()>
            <nav class="sidebar" aria-label="Main">
                <A href="/" attr:class="brand">"Mailbridge"</A>
                <ul>
                    <li><A href="/" exact=true>"Dashboard"</A></li>
                    <li><A href="/mail-servers">"Mail servers"</A></li>
                    <li><A href="/applications">"Applications"</A></li>
                    <li><A href="/mail-accounts">"Mail accounts"</A></li>
                    <li><A href="/users">"Users"</A></li>
                    <li><A href="/api-keys">"API keys"</A></li>
                    <li><A href="/webhooks">"Webhooks"</A></li>
                    <li><A href="/activity">"Activity"</A></li>
                    <li><A href="/settings">"Settings"</A></li>
                </ul>
                <Suspense>
                    {move || Suspend::new(async move { me.await.ok().flatten().map(|u| view! {
                        <div class="whoami">
                            <A href="/profile" attr:class="me">{u.name.clone()}</A>
                            <span class="muted role">{u.role.as_str()}</span>
                            <button class="secondary" disabled=move || !hydrated.get() on:click=move |_| { logout.dispatch(Logout {}); }>"Sign out"</button>
                        </div>
                    })})}
                </Suspense>
            </nav>
            <main class="content"><NeedsYou /><Outlet /></main>
        </div>
    }
}

/// Renders `children` only for an admin; a `user` gets the 403 page (with status 403 when
/// rendered on the server).
#[component]
pub fn AdminOnly(children: ChildrenFn) -> impl IntoView {
    let me = expect_context::<Me>();
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || { let children = children.clone(); Suspend::new(async move { match me.await {
                Ok(Some(u)) if u.is_admin() => children().into_any(),
                Ok(Some(_)) => view! { <Forbidden /> }.into_any(),
                Ok(None) => view! { <SignedOut /> }.into_any(),
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
            }})}}
        </Suspense>
    }
}

#[component]
pub fn Forbidden() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::FORBIDDEN);
    }
    view! {
        <leptos_meta::Title text="Forbidden" />
        <section class="forbidden">
            <h1>"403 — Forbidden"</h1>
            <p>"You do not have permission to open this page. It is for administrators only."</p>
            <p><A href="/">"Back to the dashboard"</A></p>
        </section>
    }
}

#[component]
pub fn SignedOut() -> impl IntoView {
    view! {
        <section>
            <h1>"Please sign in"</h1>
            <p>"Your session has ended. " <a href="/login">"Sign in"</a> " to continue."</p>
        </section>
    }
}

/// On every page, while one of the signed-in user's own mailboxes needs them: which, and the
/// way to it. Read again at each navigation.
#[component]
fn NeedsYou() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let waiting = Resource::new(
        move || location.pathname.get(),
        |_| crate::api::mail_accounts::accounts_needing_me(),
    );
    view! {
        <Transition>
            {move || Suspend::new(async move {
                let list = waiting.await.unwrap_or_default();
                (!list.is_empty()).then(|| {
                    let (first_id, first_login) = list[0].clone();
                    let more = list.len() - 1;
                    view! {
                        <div class="banner warning" id="needs-you" role="alert">
                            <strong>{first_login}</strong>
                            {if more == 0 {
                                " needs you: the provider no longer accepts its grant. ".to_string()
                            } else {
                                format!(" and {more} more of your mailboxes need you: their grants are no longer accepted. ")
                            }}
                            <A href=format!("/mail-accounts/{first_id}")>"Go to the mailbox"</A>
                        </div>
                    }
                })
            })}
        </Transition>
    }
}
