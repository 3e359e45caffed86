use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::settings::{get_notification_settings, SetNotificationSender};
use crate::components::field::{FieldError, FormErrors};
use crate::components::layout::AdminOnly;
use crate::components::ready::Ready;
use crate::domain::health::SENDER_LABEL;

/// Organisation-wide settings: where e-mail notices come from.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let save = ServerAction::<SetNotificationSender>::new();
    let current = Resource::new(
        move || save.version().get(),
        |_| get_notification_settings(),
    );
    view! {
        <Title text="Settings" />
        <AdminOnly>
            <h1>"Settings"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move { match current.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(s) => view! { <SenderForm sender=s.sender choices=s.choices save /> }.into_any(),
                }})}
            </Transition>
        </AdminOnly>
    }
}

#[component]
fn SenderForm(
    sender: Option<i64>,
    choices: Vec<(i64, String)>,
    save: ServerAction<SetNotificationSender>,
) -> impl IntoView {
    let chosen = RwSignal::new(sender.map(|s| s.to_string()).unwrap_or_default());
    let errors = FormErrors::new();
    Effect::new(move |_| match save.value().get() {
        Some(Ok(())) => errors.set_server(None),
        Some(Err(e)) => errors.set_server(Some(e)),
        None => {}
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(SetNotificationSender {
            account_id: chosen.get_untracked(),
        });
    };
    view! {
        <form class="card form" id="notification-form" on:submit=on_submit novalidate>
            <Ready>
            <h2>"E-mail notices"</h2>
            <p class="muted">
                "Mailbridge tells a mailbox's owner when it needs them (the provider refused its grant, or it has been failing "
                "for a while), and sends admins a daily digest. The notices come from one of the mailboxes Mailbridge holds, "
                "through its own SMTP server with XOAUTH2 (or its password). No sender: no notices."
            </p>
            <label for="notification-sender">{SENDER_LABEL}</label>
            <select id="notification-sender" on:change=move |ev| chosen.set(event_target_value(&ev))>
                <option value="" selected=sender.is_none()>"None (no e-mail notices)"</option>
                {choices.into_iter().map(|(id, label)| view! {
                    <option value=id.to_string() selected=sender == Some(id)>{label}</option>
                }).collect_view()}
            </select>
            <FieldError id="notification-sender-error" message=errors.message(SENDER_LABEL) />
            <p class="error" role="alert">{move || errors.general().get()}</p>
            <button type="submit" disabled=move || save.pending().get()>"Save"</button>
            <Show when=move || matches!(save.value().get(), Some(Ok(())))>
                <p class="ok" role="status">"Saved."</p>
            </Show>
            </Ready>
        </form>
    }
}
