use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use crate::api::webhooks::{get_webhook, DeleteWebhook, Redeliver, SendTestEvent, UpdateWebhook};
use crate::components::field::{general_error, FormErrors};
use crate::components::layout::AdminOnly;
use crate::components::ready::Ready;
use crate::components::time::{format_opt, format_utc};
use crate::components::webhook_fields::{WebhookFields, WebhookInputs};
use crate::domain::{DeliveryState, DeliveryView, WebhookView};

/// How often the delivery log is read again while the page is open.
const LOG_REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

#[component]
pub fn WebhookPage() -> impl IntoView {
    let id = crate::components::route::id_param();
    let update = ServerAction::<UpdateWebhook>::new();
    let remove = ServerAction::<DeleteWebhook>::new();
    let ping = ServerAction::<SendTestEvent>::new();
    let redeliver = ServerAction::<Redeliver>::new();
    // The form reads the webhook once (and after a save); the log follows a clock, so that an
    // edit in progress is not replaced by each reading of the log.
    let webhook = Resource::new(
        move || (id(), update.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_webhook(id).await.map(|d| Some(d.webhook)),
                None => Ok(None),
            }
        },
    );
    let tick = RwSignal::new(0u32);
    Effect::new(move |_| {
        if let Ok(h) = set_interval_with_handle(move || tick.update(|t| *t += 1), LOG_REFRESH) {
            on_cleanup(move || h.clear());
        }
    });
    let log = Resource::new(
        move || {
            (
                id(),
                tick.get(),
                ping.version().get(),
                redeliver.version().get(),
            )
        },
        |(id, ..)| async move {
            match id {
                Some(id) => get_webhook(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = remove.value().get() {
            navigate("/webhooks", Default::default());
        }
    });
    view! {
        <Title text="Webhook" />
        <AdminOnly>
            <p><A href="/webhooks">"← Webhooks"</A></p>
            <h1>"Webhook"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move { match webhook.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(None) => view! { <p class="error">"No such webhook."</p> }.into_any(),
                    Ok(Some(w)) => view! { <HookEdit w update remove ping /> }.into_any(),
                }})}
            </Transition>
            <h2>"Last deliveries"</h2>
            <p class="error" role="alert">{move || general_error(redeliver.value().get())}</p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move { match log.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(None) => ().into_any(),
                    Ok(Some(d)) if d.deliveries.is_empty() => view! { <p class="empty" id="no-deliveries">"Nothing sent yet."</p> }.into_any(),
                    Ok(Some(d)) => view! {
                        <p class="muted" id="delivery-counts">{format!("{} waiting, {} given up.", d.webhook.pending, d.webhook.failed)}</p>
                        <DeliveryTable list=d.deliveries webhook_id=d.webhook.id redeliver />
                    }.into_any(),
                }})}
            </Transition>
        </AdminOnly>
    }
}

#[component]
fn HookEdit(
    w: WebhookView,
    update: ServerAction<UpdateWebhook>,
    remove: ServerAction<DeleteWebhook>,
    ping: ServerAction<SendTestEvent>,
) -> impl IntoView {
    let id = w.id;
    let inputs = WebhookInputs::new(w.url.clone(), w.events.clone(), w.active);
    let errors = FormErrors::new();
    Effect::new(move |_| match update.value().get() {
        Some(Ok(())) => errors.set_server(None),
        Some(Err(e)) => errors.set_server(Some(e)),
        None => {}
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(draft) = inputs.checked(errors) {
            update.dispatch(UpdateWebhook { id, draft });
        }
    };
    let saved = move || matches!(update.value().get(), Some(Ok(())));
    view! {
        <p class="mono" id="webhook-url">{w.url.clone()}</p>
        <p class="muted">{format!("Created {}.", format_utc(w.created_at))}</p>
        <div class="actions">
            <button type="button" id="send-test" disabled=move || ping.pending().get()
                on:click=move |_| { ping.dispatch(SendTestEvent { id }); }>"Send test event"</button>
            <span role="status">{move || match ping.value().get() {
                Some(Ok(())) => Some("Test event queued.".to_string()),
                Some(Err(e)) => Some(e.to_string()),
                None => None,
            }}</span>
        </div>
        <form class="card form" id="webhook-edit" on:submit=on_submit novalidate>
            <Ready>
            <WebhookFields inputs errors prefix="edit" />
            <p class="error" role="alert">{move || errors.general().get()}</p>
            <p role="status">{move || saved().then_some("Saved.")}</p>
            <button type="submit" disabled=move || update.pending().get()>"Save"</button>
            <button type="button" class="danger" disabled=move || remove.pending().get()
                on:click=move |_| { remove.dispatch(DeleteWebhook { id }); }>"Delete webhook"</button>
            <p class="error" role="alert">{move || general_error(remove.value().get())}</p>
            </Ready>
        </form>
    }
}

#[component]
fn DeliveryTable(
    list: Vec<DeliveryView>,
    webhook_id: i64,
    redeliver: ServerAction<Redeliver>,
) -> impl IntoView {
    view! {
        <table id="deliveries-table">
            <thead><tr>
                <th>"Event"</th><th>"Status"</th><th>"Response code"</th><th>"Duration"</th><th>"Attempts"</th>
                <th>"Last attempt"</th><th>"Next attempt"</th><th>"Error"</th><th></th>
            </tr></thead>
            <tbody>
                {list.into_iter().map(|d| {
                    let delivery_id = d.id;
                    let state = d.state.code();
                    let badge = match d.state {
                        DeliveryState::Delivered => "badge on",
                        DeliveryState::Pending => "badge",
                        DeliveryState::Failed => "badge off",
                    };
                    let account = d.account_id.map(|a| format!(" (account {a})")).unwrap_or_default();
                    view! {
                        <tr data-event=d.event.clone() data-state=state>
                            <td><code>{d.event.clone()}</code>{account}</td>
                            <td><span class=badge>{state}</span></td>
                            <td class="code">{d.last_code.map(|c| c.to_string()).unwrap_or_else(|| "—".into())}</td>
                            <td>{d.last_duration_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "—".into())}</td>
                            <td>{d.attempts}</td>
                            <td>{format_opt(d.last_attempt_at)}</td>
                            <td>{format_opt(d.next_attempt_at)}</td>
                            <td class="muted">{d.last_error.clone().unwrap_or_default()}</td>
                            <td><button type="button" class="secondary" disabled=move || redeliver.pending().get()
                                on:click=move |_| { redeliver.dispatch(Redeliver { webhook_id, delivery_id }); }>"Redeliver"</button></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
