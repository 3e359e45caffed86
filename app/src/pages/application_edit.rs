use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::applications::{
    get_application, DeleteApplication, RegenerateApplicationKey, SaveApplication,
};
use crate::components::copy::CopyButton;
use crate::components::layout::AdminOnly;
use crate::pages::applications::ApplicationForm;

#[component]
pub fn ApplicationEditPage() -> impl IntoView {
    view! {
        <Title text="Application" />
        <AdminOnly>
            <ApplicationEdit />
        </AdminOnly>
    }
}

#[component]
fn ApplicationEdit() -> impl IntoView {
    let id = crate::components::route::id_param();
    let id = move || id().unwrap_or(0);
    let save = ServerAction::<SaveApplication>::new();
    let regenerate = ServerAction::<RegenerateApplicationKey>::new();
    let delete = ServerAction::<DeleteApplication>::new();
    let app = Resource::new(
        move || (id(), save.version().get(), regenerate.version().get()),
        |(id, _, _)| get_application(id),
    );
    let ready = crate::components::ready::use_ready();
    let confirming_regen = RwSignal::new(false);
    let confirming_delete = RwSignal::new(false);
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/applications", Default::default());
        }
    });

    view! {
        <p><A href="/applications">"← Applications"</A></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move { match app.await {
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                Ok(a) => {
                    let uri = a.redirect_uri.clone();
                    let app_id = a.id;
                    view! {
                        <h1>{a.name.clone()}</h1>
                        <div class="card">
                            <label for="app-redirect-uri">"Redirect URI"</label>
                            <input class="mono redirect-uri" id="app-redirect-uri" readonly value=a.redirect_uri.clone() />
                            <CopyButton text=Signal::derive(move || uri.clone()) target_id="app-redirect-uri" />
                            <p class="muted">"Used by: " {if a.used_by.is_empty() { "no mail server".to_string() } else { a.used_by.join(", ") }}</p>
                            {a.allowed_ips_problem.clone().map(|m| view! {
                                <p class="error" role="alert" id="allowed-ips-problem">
                                    "The stored Allowed IP addresses cannot be read (" {m} "), so every callback is refused. Save a valid list below."
                                </p>
                            })}
                            <Show when=move || !confirming_regen.get() fallback=move || view! {
                                <div class="confirm" role="alertdialog">
                                    <p class="error">"The old Redirect URI stops working at once: every provider client registered with it must be updated."</p>
                                    <button type="button" class="danger" on:click=move |_| { regenerate.dispatch(RegenerateApplicationKey { id: app_id }); confirming_regen.set(false); }>"Confirm regenerate"</button>
                                    <button type="button" class="secondary" on:click=move |_| confirming_regen.set(false)>"Cancel"</button>
                                </div>
                            }>
                                <button type="button" class="secondary" disabled=move || !ready.get() on:click=move |_| confirming_regen.set(true)>"Regenerate key"</button>
                            </Show>
                        </div>
                        <ApplicationForm save existing=Some(a.clone()) />
                        <div class="card">
                            <Show when=move || !confirming_delete.get() fallback=move || view! {
                                <div class="confirm" role="alertdialog">
                                    <p>"Delete this application? Its Redirect URI stops working."</p>
                                    <button type="button" class="danger" on:click=move |_| { delete.dispatch(DeleteApplication { id: app_id }); confirming_delete.set(false); }>"Confirm delete"</button>
                                    <button type="button" class="secondary" on:click=move |_| confirming_delete.set(false)>"Cancel"</button>
                                </div>
                            }>
                                <button type="button" class="danger" disabled=move || !ready.get() on:click=move |_| confirming_delete.set(true)>"Delete"</button>
                            </Show>
                            <p class="error" role="alert" id="delete-error">{move || delete.value().get().and_then(|r| r.err()).map(|e| e.to_string())}</p>
                        </div>
                    }.into_any()
                }
            }})}
        </Suspense>
    }
}
