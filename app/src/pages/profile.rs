use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::ready::Ready;

use crate::api::auth::ChangeOwnPassword;
use crate::components::field::FieldError;
use crate::components::layout::Me;
use crate::domain::Password;

#[component]
pub fn ProfilePage() -> impl IntoView {
    let me = expect_context::<Me>();
    let change = ServerAction::<ChangeOwnPassword>::new();
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let new_error = RwSignal::new(None::<String>);

    let server_field = move |label: &'static str| {
        Signal::derive(move || {
            change
                .value()
                .get()
                .and_then(|r| r.err())
                .and_then(|e| e.for_field(label))
        })
    };
    let other_error = move || crate::components::field::general_error(change.value().get());
    let new_message = Signal::derive(move || {
        new_error
            .get()
            .or_else(|| server_field("New password").get())
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match Password::parse(&new.get_untracked()) {
            Err(m) => new_error.set(Some(m)),
            Ok(_) => {
                new_error.set(None);
                change.dispatch(ChangeOwnPassword {
                    current_password: current.get_untracked(),
                    new_password: new.get_untracked(),
                });
            }
        }
    };
    Effect::new(move |_| {
        if let Some(Ok(())) = change.value().get() {
            current.set(String::new());
            new.set(String::new());
        }
    });

    view! {
        <Title text="Profile" />
        <h1>"Profile"</h1>
        <Suspense>
            {move || Suspend::new(async move { me.await.ok().flatten().map(|u| view! {
                <p>"Signed in as " <strong>{u.name.clone()}</strong> " (" {u.email.clone()} "), role " {u.role.as_str()} "."</p>
            })})}
        </Suspense>
        <form class="card form" on:submit=on_submit novalidate>
            <Ready>
            <h2>"Change password"</h2>
            <label for="current-password">"Current password"</label>
            <input id="current-password" type="password" autocomplete="current-password"
                prop:value=move || current.get() on:input=move |ev| current.set(event_target_value(&ev)) />
            <FieldError id="current-password-error" message=server_field("Current password") />
            <label for="new-password">"New password"</label>
            <input id="new-password" type="password" autocomplete="new-password"
                prop:value=move || new.get()
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    new_error.set(Password::parse(&v).err());
                    new.set(v);
                } />
            <FieldError id="new-password-error" message=new_message />
            <p class="error" role="alert">{other_error}</p>
            <button type="submit" disabled=move || change.pending().get()>"Change password"</button>
            <Show when=move || matches!(change.value().get(), Some(Ok(())))>
                <p class="ok" role="status">"Password changed. Other sessions were signed out."</p>
            </Show>
            </Ready>
        </form>
    }
}
