use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::ready::Ready;

use crate::api::mail_accounts::account_status_counts;
use crate::api::settings::{get_organisation_name, SetOrganisationName};
use crate::components::field::FieldError;
use crate::domain::OrganisationName;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let save = ServerAction::<SetOrganisationName>::new();
    // Refetches after every save, so the heading shows what the database now holds.
    let saved = Resource::new(move || save.version().get(), |_| get_organisation_name());
    let counts = Resource::new(|| (), |_| account_status_counts());
    let draft = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<String>);

    let field_error = Signal::derive(move || {
        local_error.get().or_else(|| {
            save.value()
                .get()
                .and_then(|r| r.err())
                .and_then(|e| e.for_field(OrganisationName::LABEL).or(Some(e.to_string())))
        })
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match OrganisationName::parse(&draft.get_untracked()) {
            Ok(name) => {
                local_error.set(None);
                save.dispatch(SetOrganisationName {
                    name: name.as_str().to_string(),
                });
            }
            Err(m) => local_error.set(Some(m)),
        }
    };

    view! {
        <Title text="Dashboard" />
        <h1>"Dashboard"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move { match saved.await {
                Ok(name) if name.is_empty() => view! { <p class="org-name" id="org-name">"No organisation name set yet."</p> }.into_any(),
                Ok(name) => view! { <p class="org-name" id="org-name">"Organisation: " <strong>{name}</strong></p> }.into_any(),
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
            }})}
        </Suspense>
        <Suspense>
            {move || Suspend::new(async move {
                counts.await.ok().map(|rows| view! {
                    <section class="card" id="account-counts">
                        <h2>"Mail accounts by status"</h2>
                        <ul class="counts">
                            {rows.into_iter().map(|(status, n)| view! {
                                <li data-status=status.code()>{status.code().replace('_', " ")}": " <strong>{n}</strong></li>
                            }).collect_view()}
                        </ul>
                    </section>
                })
            })}
        </Suspense>
        <form class="card form" on:submit=on_submit novalidate>
            <Ready>
            <label for="organisation-name">{OrganisationName::LABEL}</label>
            <input
                id="organisation-name"
                name="name"
                aria-describedby="organisation-name-error"
                prop:value=move || draft.get()
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    local_error.set(OrganisationName::parse(&v).err());
                    draft.set(v);
                }
            />
            <FieldError id="organisation-name-error" message=field_error />
            <button type="submit" disabled=move || save.pending().get()>"Save"</button>
            <Show when=move || matches!(save.value().get(), Some(Ok(_)))>
                <p class="ok" role="status">"Saved."</p>
            </Show>
            </Ready>
        </form>
    }
}
