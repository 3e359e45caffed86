use leptos::prelude::*;

use crate::domain::redirect::safe_next;
use leptos_meta::Title;

use crate::components::ready::Ready;
use leptos_router::hooks::use_query_map;

use crate::api::auth::Login;
use crate::components::field::FieldError;
use crate::domain::Email;

/// Sign-in; on success a full load of `next`, a path of this site only ([`safe_next`]).
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || safe_next(query.read().get("next").as_deref());
    let login = ServerAction::<Login>::new();
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let email_error = RwSignal::new(None::<String>);

    Effect::new(move |_| {
        if let Some(Ok(())) = login.value().get() {
            // A full load, so every page starts with the new session.
            let _ = window().location().set_href(&next());
        }
    });

    let server_error = move || match login.value().get() {
        Some(Err(e)) => Some(
            e.for_field(Email::LABEL)
                .map(|m| format!("Email {m}"))
                .unwrap_or_else(|| e.to_string()),
        ),
        _ => None,
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let e = email.get_untracked();
        match Email::parse(&e) {
            Err(m) => email_error.set(Some(m)),
            Ok(_) => {
                email_error.set(None);
                login.dispatch(Login {
                    email: e,
                    password: password.get_untracked(),
                });
            }
        }
    };

    view! {
        <Title text="Sign in" />
        <main class="login" data-hydrated=move || hydrated.get().to_string()>
            <form class="card form login-form" on:submit=on_submit novalidate>
                <Ready>
                <h1>"Sign in to Mailbridge"</h1>
                <label for="login-email">"Email"</label>
                <input id="login-email" type="email" name="email" autocomplete="username" required
                    prop:value=move || email.get()
                    on:input=move |ev| email.set(event_target_value(&ev)) />
                <FieldError id="login-email-error" message=Signal::derive(move || email_error.get()) />
                <label for="login-password">"Password"</label>
                <input id="login-password" type="password" name="password" autocomplete="current-password" required
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev)) />
                <p class="field-error form-error" id="login-error" role="alert">{server_error}</p>
                <button type="submit" disabled=move || login.pending().get()>"Sign in"</button>
                </Ready>
            </form>
        </main>
    }
}
