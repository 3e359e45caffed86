//! A mailbox's app passwords on its page: the list (name, created, last used, Revoke) and
//! "New app password", whose answer is shown once with a Copy button.

use leptos::prelude::*;

use crate::api::app_passwords::{list_app_passwords, CreateAppPassword, RevokeAppPassword};
use crate::components::copy::CopyButton;
use crate::components::field::{FieldError, FormErrors};
use crate::components::ready::Ready;
use crate::components::time::format_utc;
use crate::domain::app_password::{label, AppPasswordName};
use crate::domain::AppPasswordView;

/// "2026-11-30 10:42 UTC from 192.0.2.7 (SMTP)", or "never".
fn last_used(p: &AppPasswordView) -> String {
    let Some(at) = p.last_used_at else {
        return "never".into();
    };
    let mut s = format_utc(at);
    if let Some(a) = &p.last_used_addr {
        s.push_str(&format!(" from {a}"));
    }
    if let Some(proto) = &p.last_used_protocol {
        s.push_str(&format!(" ({proto})"));
    }
    s
}

#[component]
pub fn AppPasswords(account_id: i64, login: String, linked: bool) -> impl IntoView {
    let create = ServerAction::<CreateAppPassword>::new();
    let revoke = ServerAction::<RevokeAppPassword>::new();
    let list = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        move |_| list_app_passwords(account_id),
    );
    view! {
        <section id="app-passwords">
            <h2>"App passwords"</h2>
            <p class="muted">
                "For a program that only knows a user name and a password (a scanner, an old CRM, a script): "
                "it signs in to Mailbridge's SMTP relay or IMAP proxy as " <code>{login}</code>
                " with an app password, and Mailbridge signs in to the mail server with the mailbox's OAuth token. "
                "Give each program its own password, so that one can be revoked alone."
            </p>
            <p class="error" role="alert">{move || match revoke.value().get() {
                Some(Err(e)) => Some(e.to_string()),
                _ => None,
            }}</p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move { match list.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(l) if l.is_empty() => view! { <p class="empty">"No app passwords."</p> }.into_any(),
                    Ok(l) => view! { <PasswordTable list=l account_id revoke /> }.into_any(),
                }})}
            </Transition>
            {if linked {
                view! { <PasswordForm account_id create /> }.into_any()
            } else {
                view! { <p class="muted">"App passwords can be made once the mailbox is linked."</p> }.into_any()
            }}
        </section>
    }
}

#[component]
fn PasswordTable(
    list: Vec<AppPasswordView>,
    account_id: i64,
    revoke: ServerAction<RevokeAppPassword>,
) -> impl IntoView {
    view! {
        <table id="app-passwords-table">
            <thead><tr><th>"Name"</th><th>"Created"</th><th>"Last used"</th><th></th></tr></thead>
            <tbody>
                {list.into_iter().map(|p| {
                    let id = p.id;
                    view! {
                        <tr data-name=p.name.clone()>
                            <td>{p.name.clone()}</td>
                            <td>{format_utc(p.created_at)}</td>
                            <td class="last-used">{last_used(&p)}</td>
                            <td><button type="button" class="danger" disabled=move || revoke.pending().get()
                                on:click=move |_| { revoke.dispatch(RevokeAppPassword { account_id, id }); }>"Revoke"</button></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn PasswordForm(account_id: i64, create: ServerAction<CreateAppPassword>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let errors = FormErrors::new();
    Effect::new(move |_| match create.value().get() {
        Some(Ok(_)) => {
            errors.set_server(None);
            name.set(String::new());
        }
        Some(Err(e)) => errors.set_server(Some(e)),
        None => {}
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let n = name.get_untracked();
        errors.replace_local(match AppPasswordName::parse(&n) {
            Ok(_) => vec![],
            Err(m) => vec![(label::NAME, m)],
        });
        if !errors.has_local() {
            create.dispatch(CreateAppPassword {
                account_id,
                name: n,
            });
        }
    };
    let created = move || match create.value().get() {
        Some(Ok(p)) => Some(p),
        _ => None,
    };
    let shown = move || created().map(|p| p.password).unwrap_or_default();
    view! {
        <Show when=move || created().is_some()>
            <div class="card created-key" id="created-app-password" role="status">
                <p><strong>{move || format!(
                    "Copy the password for '{}' now: it is not shown again.",
                    created().map(|p| p.name).unwrap_or_default()
                )}</strong></p>
                <input class="mono" id="new-app-password" readonly aria-label="Generated app password"
                    prop:value=shown />
                <CopyButton text=Signal::derive(shown) target_id="new-app-password" />
            </div>
        </Show>
        <form class="card form" id="app-password-form" on:submit=on_submit novalidate>
            <Ready>
            <label for="app-password-name">"Name"</label>
            <input id="app-password-name" placeholder="e.g. Office scanner" prop:value=move || name.get()
                on:input=move |ev| { let v = event_target_value(&ev); name.set(v); errors.set(label::NAME, None); } />
            <FieldError id="app-password-name-error" message=errors.message(label::NAME) />
            <p class="error" role="alert">{move || errors.general().get()}</p>
            <button type="submit" disabled=move || create.pending().get()>"New app password"</button>
            </Ready>
        </form>
    }
}
