use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::ready::Ready;
use leptos_router::components::A;

use crate::api::users::{get_user, SetUserPassword, UpdateUser};
use crate::components::field::FieldError;
use crate::components::layout::AdminOnly;
use crate::components::time::format_opt;
use crate::domain::UserView;
use crate::domain::{DisplayName, Password, Role};

#[component]
pub fn UserEditPage() -> impl IntoView {
    view! {
        <Title text="Edit user" />
        <AdminOnly>
            <UserEdit />
        </AdminOnly>
    }
}

#[component]
fn UserEdit() -> impl IntoView {
    let id = crate::components::route::id_param();
    let id = move || id().unwrap_or(0);
    let user = Resource::new(id, get_user);
    view! {
        <p><A href="/users">"← Users"</A></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move { match user.await {
                Ok(u) => view! { <UserForms user=u /> }.into_any(),
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
            }})}
        </Suspense>
    }
}

#[component]
fn UserForms(user: UserView) -> impl IntoView {
    let update = ServerAction::<UpdateUser>::new();
    let set_pw = ServerAction::<SetUserPassword>::new();
    let id = user.id;
    let name = RwSignal::new(user.display_name.clone());
    let role = RwSignal::new(user.role.as_str().to_string());
    let active = RwSignal::new(user.active);
    let name_local = RwSignal::new(None::<String>);
    let password = RwSignal::new(String::new());
    let pw_local = RwSignal::new(None::<String>);

    let update_err = move |label: &'static str| {
        Signal::derive(move || {
            update
                .value()
                .get()
                .and_then(|r| r.err())
                .and_then(|e| e.for_field(label))
        })
    };
    let name_msg = Signal::derive(move || {
        name_local
            .get()
            .or_else(|| update_err(DisplayName::LABEL).get())
    });
    let pw_msg = Signal::derive(move || {
        pw_local.get().or_else(|| {
            set_pw
                .value()
                .get()
                .and_then(|r| r.err())
                .and_then(|e| e.for_field("New password"))
        })
    });
    let update_other = move || crate::components::field::general_error(update.value().get());

    view! {
        <h1>{user.email.clone()}</h1>
        <p class="muted">"Last sign-in: " {format_opt(user.last_sign_in_at)}</p>
        <form class="card form" id="edit-user" novalidate on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            match DisplayName::parse(&name.get_untracked()) {
                Err(m) => name_local.set(Some(m)),
                Ok(_) => {
                    name_local.set(None);
                    update.dispatch(UpdateUser { id, name: name.get_untracked(), role: role.get_untracked(), active: active.get_untracked() });
                }
            }
        }>
            <Ready>
            <h2>"Details"</h2>
            <label for="edit-user-name">"Name"</label>
            <input id="edit-user-name" prop:value=move || name.get()
                on:input=move |ev| { let v = event_target_value(&ev); name_local.set(DisplayName::parse(&v).err()); name.set(v); } />
            <FieldError id="edit-user-name-error" message=name_msg />
            <label for="edit-user-role">"Role"</label>
            <select id="edit-user-role" prop:value=move || role.get() on:change=move |ev| role.set(event_target_value(&ev))>
                <option value="user" selected=user.role == Role::User>"user"</option>
                <option value="admin" selected=user.role == Role::Admin>"admin"</option>
            </select>
            <FieldError id="edit-user-role-error" message=update_err(Role::LABEL) />
            <label class="check" for="edit-user-active">
                <input id="edit-user-active" type="checkbox" prop:checked=move || active.get()
                    on:change=move |ev| active.set(event_target_checked(&ev)) />
                "Active"
            </label>
            <FieldError id="edit-user-active-error" message=update_err("Active") />
            <p class="muted">"Deactivating ends the user's sessions at once, and their mailboxes are disabled — not refreshed, tested or used — until the user is active again."</p>
            <p class="error" role="alert">{update_other}</p>
            <button type="submit" disabled=move || update.pending().get()>"Save changes"</button>
            <Show when=move || matches!(update.value().get(), Some(Ok(())))>
                <p class="ok" role="status">"Saved."</p>
            </Show>
            </Ready>
        </form>
        <form class="card form" id="set-password" novalidate on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            match Password::parse(&password.get_untracked()) {
                Err(m) => pw_local.set(Some(m)),
                Ok(_) => {
                    pw_local.set(None);
                    set_pw.dispatch(SetUserPassword { id, password: password.get_untracked() });
                }
            }
        }>
            <Ready>
            <h2>"Set a new password"</h2>
            <label for="edit-user-password">"New password"</label>
            <input id="edit-user-password" type="password" autocomplete="new-password" prop:value=move || password.get()
                on:input=move |ev| { let v = event_target_value(&ev); pw_local.set(Password::parse(&v).err()); password.set(v); } />
            <FieldError id="edit-user-password-error" message=pw_msg />
            <button type="submit" disabled=move || set_pw.pending().get()>"Set password"</button>
            <Show when=move || matches!(set_pw.value().get(), Some(Ok(())))>
                <p class="ok" role="status">"Password set. The user's sessions were ended."</p>
            </Show>
            </Ready>
        </form>
    }
}
