//! On a mail server's page: its linked mail accounts and "Link a user".

use leptos::prelude::*;

use crate::api::mail_accounts::CreateMailAccount;
use crate::components::field::{FieldError, FormErrors};
use crate::components::ready::Ready;
use crate::domain::mail_account::label;
use crate::domain::Email;
use crate::domain::{MailAccountView, Page, UserChoice};
use crate::pages::mail_accounts::AccountTable;

/// `page` and `users` are loaded by the mail server's page, in a resource of their own that
/// reloads after "Link a user".
#[component]
pub fn ServerAccounts(
    server_id: i64,
    page: Page<MailAccountView>,
    users: Vec<UserChoice>,
    create: ServerAction<CreateMailAccount>,
) -> impl IntoView {
    let user = RwSignal::new(String::new());
    let login = RwSignal::new(String::new());
    let errors = FormErrors::new();
    Effect::new(move |_| match create.value().get() {
        Some(Ok(_)) => {
            errors.set_server(None);
            login.set(String::new());
        }
        Some(Err(e)) => errors.set_server(Some(e)),
        None => {}
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.set(label::LOGIN, Email::parse(&login.get_untracked()).err());
        if user.get_untracked().is_empty() {
            errors.set(label::OWNER, Some("choose a user".into()));
        }
        if !errors.has_local() {
            create.dispatch(CreateMailAccount {
                name: String::new(),
                mail_server_id: server_id.to_string(),
                login: login.get_untracked(),
                owner_id: user.get_untracked(),
                password: String::new(),
            });
        }
    };
    let more = (page.total > page.rows.len() as i64).then(|| {
        format!(
            "Showing {} of {}: filter the Mail accounts page by this server for the rest.",
            page.rows.len(),
            page.total
        )
    });
    view! {
        <section class="card" id="linked-accounts">
            <h2>"Linked mail accounts"</h2>
            {if page.total == 0 {
                view! { <p class="empty">"No mail account uses this server yet."</p> }.into_any()
            } else {
                view! { <AccountTable list=page.rows.clone() /> }.into_any()
            }}
            <p class="muted">{more}</p>
            <form class="form" id="link-user" on:submit=on_submit novalidate>
                <Ready>
                    <h3>"Link a user"</h3>
                    <p class="muted">"The user then authorises the mailbox from their Mail accounts page."</p>
                    <label for="link-user-owner">"User"</label>
                    <select id="link-user-owner" prop:value=move || user.get()
                        on:change=move |ev| { errors.set(label::OWNER, None); user.set(event_target_value(&ev)); }>
                        <option value="">"Choose a user…"</option>
                        {users.into_iter().map(|u| view! { <option value=u.id.to_string()>{u.email}</option> }).collect_view()}
                    </select>
                    <FieldError id="link-user-owner-error" message=errors.message(label::OWNER) />
                    <label for="link-user-login">"Login"</label>
                    <input id="link-user-login" type="email" prop:value=move || login.get()
                        on:input=move |ev| { let v = event_target_value(&ev); errors.set(label::LOGIN, Email::parse(&v).err()); login.set(v); } />
                    <FieldError id="link-user-login-error" message=errors.message(label::LOGIN) />
                    <p class="error" role="alert">{move || errors.general().get()}</p>
                    <button type="submit" disabled=move || create.pending().get()>"Link a user"</button>
                </Ready>
            </form>
        </section>
    }
}
