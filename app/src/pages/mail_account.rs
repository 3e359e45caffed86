use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::mail_accounts::{
    get_mail_account, token_handouts, DeleteMailAccount, UnlinkMailAccount,
};
use crate::components::account::{AuthorizeButton, StatusBadge};
use crate::components::time::{format_opt, now};
use crate::domain::mail_account::expiry_text;
use crate::domain::{AccountStatus, AuthMethod};
use crate::pages::mail_accounts::test_summary;

#[component]
pub fn MailAccountPage() -> impl IntoView {
    let id = crate::components::route::id_param();
    let id = move || id().unwrap_or(0);
    let unlink = ServerAction::<UnlinkMailAccount>::new();
    let delete = ServerAction::<DeleteMailAccount>::new();
    let account = Resource::new(
        move || (id(), unlink.version().get()),
        |(id, _)| get_mail_account(id),
    );
    let ready = crate::components::ready::use_ready();
    let confirming_delete = RwSignal::new(false);
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/mail-accounts", Default::default());
        }
    });
    view! {
        <Title text="Mail account" />
        <p><A href="/mail-accounts">"← Mail accounts"</A></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match account.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(a) => {
                        let action = a.status.authorize_action(a.auth_method);
                        let linked = a.status == AccountStatus::Linked && a.auth_method == AuthMethod::OAuth2;
                        let id = a.id;
                        view! {
                            <h1>{a.name.clone()}</h1>
                            <dl class="card details" id="account-details">
                                <dt>"Login"</dt><dd>{a.login.clone()}</dd>
                                <dt>"Mail server"</dt><dd>{a.server_subject.clone()}</dd>
                                <dt>"Owner"</dt><dd>{a.owner_email.clone()}</dd>
                                <dt>"Status"</dt><dd id="account-status"><StatusBadge status=a.status /></dd>
                                <dt>"Access token"</dt><dd id="account-expiry">{expiry_text(a.access_expires_at, now())}</dd>
                                <dt>"Last refresh"</dt><dd>{format_opt(a.last_refresh_at)}</dd>
                                <dt>"Last successful login"</dt><dd>{format_opt(a.last_login_at)}</dd>
                                <dt>"Last test"</dt><dd id="account-test">{test_summary(&a)}</dd>
                                <dt>"Last error"</dt><dd id="account-error" class="error">{a.last_error.clone().unwrap_or_else(|| "none".into())}</dd>
                                {(a.auth_method == AuthMethod::OAuth2).then(|| view! {
                                    <dt>"Handed out"</dt><dd id="account-handouts"><Handouts id /></dd>
                                })}
                            </dl>
                            <div class="actions">
                                {action.map(|l| view! { <AuthorizeButton account_id=id label=l /> })}
                                {linked.then(|| view! {
                                    <button type="button" class="secondary" disabled=move || !ready.get() || unlink.pending().get()
                                        on:click=move |_| { unlink.dispatch(UnlinkMailAccount { id }); }>"Unlink"</button>
                                })}
                                <Show when=move || !confirming_delete.get() fallback=move || view! {
                                    <span class="confirm" role="alertdialog">
                                        "Delete this mail account and its tokens? "
                                        <button type="button" class="danger" on:click=move |_| { delete.dispatch(DeleteMailAccount { id }); }>"Confirm delete"</button>
                                        <button type="button" class="secondary" on:click=move |_| confirming_delete.set(false)>"Cancel"</button>
                                    </span>
                                }>
                                    <button type="button" class="danger" disabled=move || !ready.get() on:click=move |_| confirming_delete.set(true)>"Delete"</button>
                                </Show>
                            </div>
                            <crate::components::mail_test::RunTest account_id=id oauth=a.auth_method == AuthMethod::OAuth2 />
                            <p class="muted" role="status">{move || match unlink.value().get() {
                                Some(Ok(None)) => Some("Unlinked: the tokens were revoked and deleted.".to_string()),
                                Some(Ok(Some(w))) => Some(w),
                                Some(Err(e)) => Some(e.to_string()),
                                None => None,
                            }}</p>
                            {(a.auth_method == AuthMethod::OAuth2).then(|| view! {
                                <crate::components::app_passwords::AppPasswords account_id=id login=a.login.clone() linked />
                            })}
                            <Timeline id />
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// "handed out 14 times today, last to key 'helpdesk' at 2026-11-30 10:42 UTC".
#[component]
fn Handouts(id: i64) -> impl IntoView {
    let summary = Resource::new(move || id, token_handouts);
    view! {
        <Suspense fallback=|| "…">
            {move || Suspend::new(async move {
                match summary.await {
                    Err(e) => e.to_string(),
                    Ok(s) => match s.last {
                        None => "never handed out to a program".to_string(),
                        Some((key, at)) => format!(
                            "handed out {} today, last to {} at {}",
                            match s.today { 1 => "once".to_string(), n => format!("{n} times") },
                            if key.starts_with("app password") { key.clone() } else { format!("key '{key}'") },
                            crate::components::time::format_utc(at)
                        ),
                    },
                }
            })}
        </Suspense>
    }
}

/// What happened to this mailbox: its latest entries, and its refreshes per day.
#[component]
fn Timeline(id: i64) -> impl IntoView {
    let timeline = Resource::new(move || id, crate::api::activity::get_account_timeline);
    view! {
        <h2>"Timeline"</h2>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match timeline.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(t) => {
                        let refreshes = if t.refreshes.is_empty() {
                            "No refresh in the last 7 days.".to_string()
                        } else {
                            let days: Vec<String> = t.refreshes.iter().map(|(day, n)| {
                                let date = crate::components::time::format_utc(day * 86_400);
                                format!("{}: {n}", date.split(' ').next().unwrap_or_default())
                            }).collect();
                            format!("Refreshes that worked, per day: {}", days.join(", "))
                        };
                        view! {
                            <p class="muted" id="account-refresh-counts">{refreshes}</p>
                            {if t.entries.is_empty() {
                                view! { <p class="empty">"Nothing recorded yet."</p> }.into_any()
                            } else {
                                view! { <div id="account-timeline"><crate::pages::activity::ActivityTable list=t.entries /></div> }.into_any()
                            }}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
