use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::ready::Ready;
use leptos_router::components::A;

use crate::api::users::{list_users, CreateUser};
use crate::components::field::FieldError;
use crate::components::layout::AdminOnly;
use crate::components::time::format_opt;
use crate::domain::{DisplayName, Email, Password, Role};

#[component]
pub fn UsersPage() -> impl IntoView {
    // Created here, outside the admin check's Suspend (see mail_server_form.rs).
    let create = ServerAction::<CreateUser>::new();
    let users = Resource::new(move || create.version().get(), |_| list_users());
    view! {
        <Title text="Users" />
        <AdminOnly>
            <UsersAdmin create users />
        </AdminOnly>
    }
}

#[component]
fn UsersAdmin(
    create: ServerAction<CreateUser>,
    users: Resource<Result<Vec<crate::domain::UserView>, crate::error::AppError>>,
) -> impl IntoView {
    view! {
        <h1>"Users"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move { match users.await {
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                Ok(rows) => view! {
                    <table id="users-table">
                        <thead><tr><th>"Email"</th><th>"Name"</th><th>"Role"</th><th>"Active"</th><th>"Last sign-in"</th><th></th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|u| view! {
                                <tr data-email=u.email.clone()>
                                    <td>{u.email.clone()}</td>
                                    <td>{u.display_name.clone()}</td>
                                    <td>{u.role.as_str()}</td>
                                    <td>{if u.active { "yes" } else { "no" }}</td>
                                    <td>{format_opt(u.last_sign_in_at)}</td>
                                    <td><A href=format!("/users/{}", u.id)>"Edit"</A></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }})}
        </Transition>
        <NewUserForm create />
    }
}

#[component]
fn NewUserForm(create: ServerAction<CreateUser>) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let role = RwSignal::new("user".to_string());
    let password = RwSignal::new(String::new());
    // Messages from typing (browser-side parse) take the field; otherwise the server's.
    let local: RwSignal<Vec<(&'static str, String)>> = RwSignal::new(vec![]);

    let message = move |label: &'static str| {
        Signal::derive(move || {
            local
                .get()
                .into_iter()
                .find(|(l, _)| *l == label)
                .map(|(_, m)| m)
                .or_else(|| {
                    create
                        .value()
                        .get()
                        .and_then(|r| r.err())
                        .and_then(|e| e.for_field(label))
                })
        })
    };
    let set_local = move |label: &'static str, result: Option<String>| {
        local.update(|v| {
            v.retain(|(l, _)| *l != label);
            if let Some(m) = result {
                v.push((label, m));
            }
        })
    };
    let validate_all = move || {
        set_local(Email::LABEL, Email::parse(&email.get_untracked()).err());
        set_local(
            DisplayName::LABEL,
            DisplayName::parse(&name.get_untracked()).err(),
        );
        set_local(
            Password::LABEL,
            Password::parse(&password.get_untracked()).err(),
        );
        local.get_untracked().is_empty()
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if validate_all() {
            create.dispatch(CreateUser {
                email: email.get_untracked(),
                name: name.get_untracked(),
                role: role.get_untracked(),
                password: password.get_untracked(),
            });
        }
    };
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            email.set(String::new());
            name.set(String::new());
            password.set(String::new());
        }
    });
    let other_error = move || crate::components::field::general_error(create.value().get());

    view! {
        <form class="card form" id="new-user" on:submit=on_submit novalidate>
            <Ready>
            <h2>"New user"</h2>
            <label for="new-user-email">"Email"</label>
            <input id="new-user-email" type="email" prop:value=move || email.get()
                on:input=move |ev| { let v = event_target_value(&ev); set_local(Email::LABEL, Email::parse(&v).err()); email.set(v); } />
            <FieldError id="new-user-email-error" message=message(Email::LABEL) />
            <label for="new-user-name">"Name"</label>
            <input id="new-user-name" prop:value=move || name.get()
                on:input=move |ev| { let v = event_target_value(&ev); set_local(DisplayName::LABEL, DisplayName::parse(&v).err()); name.set(v); } />
            <FieldError id="new-user-name-error" message=message(DisplayName::LABEL) />
            <label for="new-user-role">"Role"</label>
            <select id="new-user-role" prop:value=move || role.get() on:change=move |ev| role.set(event_target_value(&ev))>
                <option value="user">"user"</option>
                <option value="admin">"admin"</option>
            </select>
            <FieldError id="new-user-role-error" message=message(Role::LABEL) />
            <label for="new-user-password">"Password"</label>
            <input id="new-user-password" type="password" autocomplete="new-password" prop:value=move || password.get()
                on:input=move |ev| { let v = event_target_value(&ev); set_local(Password::LABEL, Password::parse(&v).err()); password.set(v); } />
            <FieldError id="new-user-password-error" message=message(Password::LABEL) />
            <p class="error" role="alert">{other_error}</p>
            <button type="submit" disabled=move || create.pending().get()>"Create user"</button>
            <Show when=move || matches!(create.value().get(), Some(Ok(_)))>
                <p class="ok" role="status">"User created."</p>
            </Show>
            </Ready>
        </form>
    }
}
