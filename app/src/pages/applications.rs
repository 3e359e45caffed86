use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::ready::Ready;
use leptos_router::components::A;

use crate::api::applications::{list_applications, SaveApplication};
use crate::components::copy::CopyButton;
use crate::components::field::{FieldError, FormErrors};
use crate::components::layout::AdminOnly;
use crate::domain::ApplicationView;
use crate::domain::{application::label, AppName, CidrList};

#[component]
pub fn ApplicationsPage() -> impl IntoView {
    // Created here, outside the admin check's Suspend (see mail_server_form.rs).
    let save = ServerAction::<SaveApplication>::new();
    let apps = Resource::new(move || save.version().get(), |_| list_applications());
    view! {
        <Title text="Applications" />
        <AdminOnly>
            <ApplicationsAdmin save apps />
        </AdminOnly>
    }
}

#[component]
fn ApplicationsAdmin(
    save: ServerAction<SaveApplication>,
    apps: Resource<Result<Vec<ApplicationView>, crate::error::AppError>>,
) -> impl IntoView {
    view! {
        <h1>"Applications"</h1>
        <p class="muted">
            "An integration application owns a Redirect URI. Copy it into the OAuth client at Google or Microsoft, "
            "then choose it on a mail server."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move { match apps.await {
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                Ok(list) if list.is_empty() => view! { <p class="empty">"No applications yet."</p> }.into_any(),
                Ok(list) => view! { <ApplicationTable list /> }.into_any(),
            }})}
        </Transition>
        <ApplicationForm save existing=None />
    }
}

#[component]
fn ApplicationTable(list: Vec<ApplicationView>) -> impl IntoView {
    view! {
        <table id="applications-table">
            <thead><tr><th>"Name"</th><th>"Active"</th><th>"Redirect URI"</th><th>"Allowed IP addresses"</th><th>"Used by"</th><th></th></tr></thead>
            <tbody>
                {list.into_iter().map(|a| {
                    let input_id = format!("redirect-uri-{}", a.id);
                    let uri = a.redirect_uri.clone();
                    view! {
                        <tr data-name=a.name.clone()>
                            <td>{a.name.clone()}</td>
                            <td>{if a.active { view! { <span class="badge on">"active"</span> } } else { view! { <span class="badge off">"disabled"</span> } }}</td>
                            <td class="redirect">
                                <input class="mono redirect-uri" id=input_id.clone() readonly value=a.redirect_uri.clone() aria-label=format!("Redirect URI of {}", a.name) />
                                <CopyButton text=Signal::derive(move || uri.clone()) target_id=input_id />
                            </td>
                            <td>{match (&a.allowed_ips_problem, a.allowed_ips.is_empty()) {
                                (Some(_), _) => "unreadable: nobody is admitted".to_string(),
                                (None, true) => "any".to_string(),
                                (None, false) => a.allowed_ips.clone(),
                            }}</td>
                            <td>{a.used_by.join(", ")}</td>
                            <td><A href=format!("/applications/{}", a.id)>"Edit"</A></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The create form (`existing` = None) or the edit form of one application.
#[component]
pub fn ApplicationForm(
    save: ServerAction<SaveApplication>,
    existing: Option<ApplicationView>,
) -> impl IntoView {
    let editing = existing.is_some();
    let id = existing
        .as_ref()
        .map(|a| a.id.to_string())
        .unwrap_or_default();
    let name = RwSignal::new(
        existing
            .as_ref()
            .map(|a| a.name.clone())
            .unwrap_or_default(),
    );
    let active = RwSignal::new(existing.as_ref().map(|a| a.active).unwrap_or(true));
    let ips = RwSignal::new(
        existing
            .as_ref()
            .map(|a| a.allowed_ips.clone())
            .unwrap_or_default(),
    );
    let errors = FormErrors::new();

    Effect::new(move |_| match save.value().get() {
        Some(Ok(_)) => {
            errors.set_server(None);
            if !editing {
                name.set(String::new());
                ips.set(String::new());
                active.set(true);
            }
        }
        Some(Err(e)) => errors.set_server(Some(e)),
        None => {}
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.set(label::NAME, AppName::parse(&name.get_untracked()).err());
        errors.set(
            label::ALLOWED_IPS,
            CidrList::parse(&ips.get_untracked()).err(),
        );
        if !errors.has_local() {
            save.dispatch(SaveApplication {
                id: id.clone(),
                name: name.get_untracked(),
                active: active.get_untracked(),
                allowed_ips: ips.get_untracked(),
            });
        }
    };
    view! {
        <form class="card form" id="application-form" on:submit=on_submit novalidate>
            <Ready>
            <h2>{if editing { "Edit application" } else { "New application" }}</h2>
            <label for="app-name">"Name"</label>
            <input id="app-name" prop:value=move || name.get()
                on:input=move |ev| { let v = event_target_value(&ev); errors.set(label::NAME, AppName::parse(&v).err()); name.set(v); } />
            <FieldError id="app-name-error" message=errors.message(label::NAME) />
            <label class="check" for="app-active">
                <input id="app-active" type="checkbox" prop:checked=move || active.get() on:change=move |ev| active.set(event_target_checked(&ev)) />
                "Active"
            </label>
            <label for="app-ips">"Allowed IP addresses"</label>
            <input id="app-ips" placeholder="e.g. 203.0.113.0/24, 2001:db8::1 (empty: any)" prop:value=move || ips.get()
                on:input=move |ev| { let v = event_target_value(&ev); errors.set(label::ALLOWED_IPS, CidrList::parse(&v).err()); ips.set(v); } />
            <FieldError id="app-ips-error" message=errors.message(label::ALLOWED_IPS) />
            <p class="error" role="alert">{move || errors.general().get()}</p>
            <button type="submit" disabled=move || save.pending().get()>"Save"</button>
            <Show when=move || matches!(save.value().get(), Some(Ok(_)))>
                <p class="ok" role="status">{if editing { "Saved." } else { "Application created." }}</p>
            </Show>
            </Ready>
        </form>
    }
}
