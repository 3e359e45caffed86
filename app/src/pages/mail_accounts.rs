use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::mail_accounts::{list_mail_accounts, mail_account_choices, CreateMailAccount};
use crate::components::account::{AuthorizeButtons, StatusBadge};
use crate::components::field::{FieldError, FormErrors};
use crate::components::layout::Me;
use crate::components::ready::Ready;
use crate::components::time::format_opt;
use crate::domain::mail_account::{expiry_text, label};
use crate::domain::{
    AccountChoices, AccountName, AccountStatus, AuthMethod, Email, MailAccountView,
};
use crate::error::AppError;

/// The servers and owners a new account can use, and the admin's filter options. With a
/// thousand servers these are most of the page's weight, so they are not rendered on the
/// server: the browser fetches them once the page is live, and the controls that need them
/// stay disabled until then.
type Choices = RwSignal<Option<Result<AccountChoices, AppError>>>;

#[component]
pub fn MailAccountsPage() -> impl IntoView {
    let create = ServerAction::<CreateMailAccount>::new();
    let server_filter = RwSignal::new(String::new());
    let owner_filter = RwSignal::new(String::new());
    // The dashboard links here with `?status=…`.
    let query = leptos_router::hooks::use_query_map();
    let status_filter = RwSignal::new(
        query
            .get_untracked()
            .get("status")
            .filter(|s| AccountStatus::ALL.iter().any(|a| a.code() == s.as_str()))
            .unwrap_or_default(),
    );
    let page = RwSignal::new(0i64);
    let me = expect_context::<Me>();
    let choices: Choices = RwSignal::new(None);
    // Effects run only in the browser.
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            choices.set(Some(mail_account_choices().await));
        });
    });
    let accounts = Resource::new(
        move || {
            (
                create.version().get(),
                server_filter.get(),
                owner_filter.get(),
                status_filter.get(),
                page.get(),
            )
        },
        |(_, s, o, st, p)| list_mail_accounts(s, o, st, p),
    );
    view! {
        <Title text="Mail accounts" />
        <h1>"Mail accounts"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(u)) if u.is_admin() => view! { <Filters choices server_filter owner_filter status_filter page /> }.into_any(),
                    _ => view! { <span></span> }.into_any(),
                }
            })}
        </Suspense>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match accounts.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(p) if p.total == 0 => view! { <p class="empty">"No mail accounts yet."</p> }.into_any(),
                    Ok(p) => {
                        let total = p.total;
                        view! {
                            <AccountTable list=p.rows />
                            <crate::components::pager::Pager page total id="mail-accounts-pager" />
                        }.into_any()
                    }
                }
            })}
        </Transition>
        <Suspense>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(u)) => view! { <NewAccountForm me=u.id is_admin=u.is_admin() choices create /> }.into_any(),
                    Ok(None) => view! { <span></span> }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Options built from the loaded choices (nothing while they load or when loading failed),
/// without copying the whole lists.
fn options<T>(choices: Choices, f: impl FnOnce(&AccountChoices) -> T) -> Option<T> {
    choices.with(|c| c.as_ref().and_then(|r| r.as_ref().ok()).map(f))
}

/// True until the choices have arrived: the controls that need them stay disabled, also when
/// loading them failed (the error is shown instead).
fn not_loaded(choices: Choices) -> bool {
    choices.with(|c| !matches!(c, Some(Ok(_))))
}

#[component]
fn Filters(
    choices: Choices,
    server_filter: RwSignal<String>,
    owner_filter: RwSignal<String>,
    status_filter: RwSignal<String>,
    page: RwSignal<i64>,
) -> impl IntoView {
    view! {
        <div class="card form filters">
            <Ready>
                <fieldset class="plain" disabled=move || not_loaded(choices)>
                    <label for="filter-server">"Restrict to server"</label>
                    <select id="filter-server" on:change=move |ev| { page.set(0); server_filter.set(event_target_value(&ev)); }>
                        <option value="">"All mail servers"</option>
                        {move || options(choices, |c| c.servers.iter().map(|s| view! { <option value=s.id.to_string()>{s.subject.clone()}</option> }).collect_view())}
                    </select>
                    <label for="filter-owner">"Belonging to"</label>
                    <select id="filter-owner" on:change=move |ev| { page.set(0); owner_filter.set(event_target_value(&ev)); }>
                        <option value="">"All owners"</option>
                        {move || options(choices, |c| c.users.iter().map(|u| view! { <option value=u.id.to_string()>{u.email.clone()}</option> }).collect_view())}
                    </select>
                    <label for="filter-status">"With status"</label>
                    <select id="filter-status" on:change=move |ev| { page.set(0); status_filter.set(event_target_value(&ev)); }>
                        <option value="">"All statuses"</option>
                        {AccountStatus::ALL.iter().map(|s| view! { <option value=s.code() selected=status_filter.get_untracked() == s.code()>{s.code()}</option> }).collect_view()}
                    </select>
                </fieldset>
            </Ready>
        </div>
    }
}

#[component]
pub fn AccountTable(list: Vec<MailAccountView>) -> impl IntoView {
    let now = crate::components::time::now();
    let authorize = AuthorizeButtons::new();
    view! {
        <table id="mail-accounts-table">
            <thead><tr>
                <th>"Name"</th><th>"Login"</th><th>"Mail server"</th><th>"Owner"</th><th>"Status"</th>
                <th>"Access token"</th><th>"Last refresh"</th><th>"Last test"</th><th>"Last error"</th><th></th>
            </tr></thead>
            <tbody>
                {list.into_iter().map(|a| {
                    let action = a.status.authorize_action(a.auth_method);
                    let test = test_summary(&a);
                    let name = a.name.clone();
                    view! {
                        <tr data-login=a.login.clone() data-status=a.status.code()>
                            // A plain link: the router still takes the click, without a
                            // component per row.
                            <td><a href=format!("/mail-accounts/{}", a.id)>{name}</a></td>
                            <td>{a.login.clone()}</td>
                            <td>{a.server_subject.clone()}</td>
                            <td>{a.owner_email.clone()}</td>
                            <td><StatusBadge status=a.status /></td>
                            <td class="expiry">{expiry_text(a.access_expires_at, now)}</td>
                            <td>{format_opt(a.last_refresh_at)}</td>
                            <td class="test">{test}</td>
                            <td class="last-error">{a.last_error.clone()}</td>
                            <td>{action.map(|l| authorize.button(a.id, l.to_string()))}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

pub fn test_summary(a: &MailAccountView) -> String {
    match a.test_at {
        None => "never".into(),
        Some(t) => {
            let word = |ok: Option<bool>| match ok {
                Some(true) => "ok",
                Some(false) => "failed",
                None => "—",
            };
            format!(
                "IMAP {} · SMTP {} ({})",
                word(a.test_imap_ok),
                word(a.test_smtp_ok),
                format_opt(Some(t))
            )
        }
    }
}

#[component]
fn NewAccountForm(
    me: i64,
    is_admin: bool,
    choices: Choices,
    create: ServerAction<CreateMailAccount>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let server = RwSignal::new(String::new());
    let login = RwSignal::new(String::new());
    let owner = RwSignal::new(me.to_string());
    let password = RwSignal::new(String::new());
    let errors = FormErrors::new();
    // The first server is preselected once the list arrives, as a plain select would.
    Effect::new(move |_| {
        if let Some(first) = options(choices, |c| c.servers.first().map(|s| s.id)).flatten() {
            if server.get_untracked().is_empty() {
                server.set(first.to_string());
            }
        }
    });
    let is_password = Signal::derive(move || {
        let sel = server.get();
        options(choices, |c| {
            c.servers
                .iter()
                .any(|s| s.id.to_string() == sel && s.auth_method == AuthMethod::Password)
        })
        .unwrap_or(false)
    });
    Effect::new(move |_| match create.value().get() {
        Some(Ok(_)) => {
            errors.set_server(None);
            name.set(String::new());
            login.set(String::new());
            password.set(String::new());
        }
        Some(Err(e)) => errors.set_server(Some(e)),
        None => {}
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.set(label::LOGIN, Email::parse(&login.get_untracked()).err());
        if !name.get_untracked().trim().is_empty() {
            errors.set(label::NAME, AccountName::parse(&name.get_untracked()).err());
        }
        if !errors.has_local() {
            create.dispatch(CreateMailAccount {
                name: name.get_untracked(),
                mail_server_id: server.get_untracked(),
                login: login.get_untracked(),
                owner_id: owner.get_untracked(),
                password: password.get_untracked(),
            });
        }
    };
    let load_error = move || {
        choices.with(|c| match c {
            Some(Err(e)) => Some(e.to_string()),
            Some(Ok(c)) if c.servers.is_empty() => {
                Some("No mail server is available to you yet.".to_string())
            }
            _ => None,
        })
    };
    view! {
        <form class="card form" id="new-mail-account" on:submit=on_submit novalidate>
            <Ready>
                <h2>"Add mail account"</h2>
                {move || load_error().map(|m| view! { <p class="error">{m}</p> })}
                <fieldset class="plain" disabled=move || not_loaded(choices)>
                    <label for="account-name">"Name"</label>
                    <input id="account-name" placeholder="e.g. Sales inbox (default: the login)" prop:value=move || name.get()
                        on:input=move |ev| { let v = event_target_value(&ev); errors.set(label::NAME, if v.trim().is_empty() { None } else { AccountName::parse(&v).err() }); name.set(v); } />
                    <FieldError id="account-name-error" message=errors.message(label::NAME) />
                    <label for="account-server">"Mail server"</label>
                    <select id="account-server" on:change=move |ev| server.set(event_target_value(&ev))>
                        {move || options(choices, |c| c.servers.iter().map(|s| {
                            let id = s.id.to_string();
                            let selected = server.get_untracked() == id;
                            view! { <option value=id selected=selected>{s.subject.clone()}</option> }
                        }).collect_view())}
                    </select>
                    <FieldError id="account-server-error" message=errors.message(label::SERVER) />
                    <label for="account-login">"Login"</label>
                    <input id="account-login" type="email" placeholder="the mailbox address" prop:value=move || login.get()
                        on:input=move |ev| { let v = event_target_value(&ev); errors.set(label::LOGIN, Email::parse(&v).err()); login.set(v); } />
                    <FieldError id="account-login-error" message=errors.message(label::LOGIN) />
                    {is_admin.then(|| view! {
                        <label for="account-owner">"Owner"</label>
                        <select id="account-owner" on:change=move |ev| owner.set(event_target_value(&ev))>
                            {move || options(choices, |c| c.users.iter().map(|u| {
                                let selected = u.id == me;
                                view! { <option value=u.id.to_string() selected=selected>{u.email.clone()}</option> }
                            }).collect_view())}
                        </select>
                        <FieldError id="account-owner-error" message=errors.message(label::OWNER) />
                    })}
                    <Show when=move || is_password.get()>
                        <label for="account-password">"Mailbox password"</label>
                        <input id="account-password" type="password" autocomplete="off" prop:value=move || password.get()
                            on:input=move |ev| password.set(event_target_value(&ev)) />
                        <FieldError id="account-password-error" message=errors.message(label::PASSWORD) />
                    </Show>
                    <p class="error" role="alert">{move || errors.general().get()}</p>
                    <button type="submit" disabled=move || create.pending().get()>"Add mail account"</button>
                </fieldset>
                <Show when=move || matches!(create.value().get(), Some(Ok(_)))>
                    <p class="ok" role="status">"Mail account added."</p>
                </Show>
            </Ready>
        </form>
    }
}
