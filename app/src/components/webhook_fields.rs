//! A webhook's URL, events and active switch: the same controls on "New webhook" and on a
//! webhook's own page.

use leptos::prelude::*;

use crate::components::field::{FieldError, FormErrors};
use crate::domain::webhook::{label, EventKind, WebhookDraft};

/// The form's state.
#[derive(Clone, Copy)]
pub struct WebhookInputs {
    pub url: RwSignal<String>,
    pub events: RwSignal<Vec<EventKind>>,
    pub active: RwSignal<bool>,
}

impl WebhookInputs {
    pub fn new(url: String, events: Vec<EventKind>, active: bool) -> Self {
        WebhookInputs {
            url: RwSignal::new(url),
            events: RwSignal::new(events),
            active: RwSignal::new(active),
        }
    }

    /// The draft, when it parses; otherwise each field's message is shown and `None`.
    pub fn checked(&self, errors: FormErrors) -> Option<WebhookDraft> {
        let d = self.draft();
        errors.replace_local(d.parse().err().unwrap_or_default());
        (!errors.has_local()).then_some(d)
    }

    pub fn draft(&self) -> WebhookDraft {
        WebhookDraft {
            url: self.url.get_untracked(),
            events: self
                .events
                .get_untracked()
                .into_iter()
                .map(|k| k.code().to_string())
                .collect(),
            active: self.active.get_untracked(),
        }
    }
}

/// `prefix` keeps the ids of two forms on one page apart.
#[component]
pub fn WebhookFields(
    inputs: WebhookInputs,
    errors: FormErrors,
    prefix: &'static str,
) -> impl IntoView {
    let url_id = format!("{prefix}-url");
    let url_error = format!("{prefix}-url-error");
    let events_error = format!("{prefix}-events-error");
    let active_id = format!("{prefix}-active");
    let active_for = active_id.clone();
    let url_for = url_id.clone();
    view! {
        <label for=url_for>"URL"</label>
        <input id=url_id type="url" placeholder="https://crm.example.com/hooks/mailbridge"
            prop:value=move || inputs.url.get()
            on:input=move |ev| inputs.url.set(event_target_value(&ev)) />
        <FieldError id=url_error message=errors.message(label::URL) />
        <fieldset>
            <legend>"Events"</legend>
            {EventKind::ACCOUNT.into_iter().map(|kind| {
                let input_id = format!("{prefix}-event-{}", kind.code().replace('.', "-"));
                let for_id = input_id.clone();
                view! {
                    <label class="check" for=for_id>
                        <input id=input_id type="checkbox" class="webhook-event" value=kind.code()
                            prop:checked=move || inputs.events.get().contains(&kind)
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                inputs.events.update(|e| { e.retain(|k| *k != kind); if on { e.push(kind); } });
                            } />
                        <code>{kind.code()}</code> " — " {kind.describe()}
                    </label>
                }
            }).collect_view()}
            <FieldError id=events_error message=errors.message(label::EVENTS) />
        </fieldset>
        <label class="check" for=active_for>
            <input id=active_id type="checkbox" prop:checked=move || inputs.active.get()
                on:change=move |ev| inputs.active.set(event_target_checked(&ev)) />
            "Active"
        </label>
    }
}
