use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::webhooks::{list_webhooks, CreateWebhook};
use crate::components::copy::CopyButton;
use crate::components::field::FormErrors;
use crate::components::layout::AdminOnly;
use crate::components::ready::Ready;
use crate::components::time::format_utc;
use crate::components::webhook_fields::{WebhookFields, WebhookInputs};
use crate::domain::{CreatedWebhook, WebhookView};

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let create = ServerAction::<CreateWebhook>::new();
    let hooks = Resource::new(move || create.version().get(), |_| list_webhooks());
    view! {
        <Title text="Webhooks" />
        <AdminOnly>
            <h1>"Webhooks"</h1>
            <p class="muted">
                "Mailbridge posts an event to each webhook when a mailbox changes (linked, needs re-authorisation, "
                "failing, recovered, tested, unlinked, deleted), signed the Standard Webhooks way: headers "
                <code>"webhook-id"</code> ", " <code>"webhook-timestamp"</code> " and " <code>"webhook-signature"</code>
                " (HMAC-SHA256 with the webhook's signing secret). An event is never lost: it is retried with backoff "
                "for 24 hours, in order per mail account. Events never hold a token or a password."
            </p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move { match hooks.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No webhooks yet."</p> }.into_any(),
                    Ok(list) => view! { <HookTable list /> }.into_any(),
                }})}
            </Transition>
            <HookForm create />
        </AdminOnly>
    }
}

#[component]
fn HookTable(list: Vec<WebhookView>) -> impl IntoView {
    view! {
        <table id="webhooks-table">
            <thead><tr>
                <th>"URL"</th><th>"Events"</th><th>"Active"</th><th>"Waiting"</th><th>"Failed"</th><th>"Created"</th>
            </tr></thead>
            <tbody>
                {list.into_iter().map(|w| {
                    let events = w.events.iter().map(|k| k.code()).collect::<Vec<_>>().join(", ");
                    let (url, href) = (w.url.clone(), format!("/webhooks/{}", w.id));
                    view! {
                        <tr data-url=w.url.clone()>
                            <td class="mono"><A href=href>{url}</A></td>
                            <td>{events}</td>
                            <td><span class=if w.active { "badge on" } else { "badge off" }>
                                {if w.active { "active" } else { "inactive" }}</span></td>
                            <td>{w.pending}</td>
                            <td>{w.failed}</td>
                            <td>{format_utc(w.created_at)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn HookForm(create: ServerAction<CreateWebhook>) -> impl IntoView {
    let inputs = WebhookInputs::new(String::new(), Vec::new(), true);
    let errors = FormErrors::new();
    // The last secret created stays on screen until the page is left, whatever comes next.
    let shown = RwSignal::new(None::<CreatedWebhook>);
    Effect::new(move |_| match create.value().get() {
        Some(Ok(c)) => {
            errors.set_server(None);
            shown.set(Some(c));
            inputs.url.set(String::new());
            inputs.events.set(Vec::new());
            inputs.active.set(true);
        }
        Some(Err(e)) => errors.set_server(Some(e)),
        None => {}
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(draft) = inputs.checked(errors) {
            create.dispatch(CreateWebhook { draft });
        }
    };
    let created = move || shown.get();
    let secret = move || created().map(|c| c.secret).unwrap_or_default();
    view! {
        <Show when=move || created().is_some()>
            <div class="card created-key" id="created-webhook" role="status">
                <p><strong>"Copy the signing secret now: it is not shown again."</strong></p>
                <input class="mono" id="new-secret" readonly aria-label="Signing secret" prop:value=secret />
                <CopyButton text=Signal::derive(secret) target_id="new-secret" />
                <p><A href=move || format!("/webhooks/{}", created().map(|c| c.id).unwrap_or_default())>
                    "Open the webhook"</A></p>
            </div>
        </Show>
        <form class="card form" id="webhook-form" on:submit=on_submit novalidate>
            <Ready>
            <h2>"New webhook"</h2>
            <WebhookFields inputs errors prefix="hook" />
            <p class="error" role="alert">{move || errors.general().get()}</p>
            <button type="submit" disabled=move || create.pending().get()>"Create webhook"</button>
            </Ready>
        </form>
    }
}
