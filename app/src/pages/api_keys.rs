use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::api_keys::{list_api_keys, CreateApiKey, RevokeApiKey};
use crate::api::mail_accounts::mail_account_choices;
use crate::components::copy::CopyButton;
use crate::components::field::{FieldError, FormErrors};
use crate::components::layout::AdminOnly;
use crate::components::ready::Ready;
use crate::components::time::{format_opt, format_utc, now};
use crate::domain::api_key::{label, ApiKeyDraft};
use crate::domain::ApiKeyView;

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    // Created here, outside the admin check's Suspend (see mail_server_form.rs).
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_keys(),
    );
    view! {
        <Title text="API keys" />
        <AdminOnly>
            <h1>"API keys"</h1>
            <p class="muted">
                "Programs (a CRM, a helpdesk, a script) use an API key to list mail accounts and get fresh access tokens "
                "from " <code>"/api/v1"</code> " (see " <a href="/api/v1/openapi.json">"the OpenAPI document"</a> "). "
                "A key is shown once, when it is created; only its first characters are kept for display."
            </p>
            <p class="error" role="alert">{move || match revoke.value().get() {
                Some(Err(e)) => Some(e.to_string()),
                _ => None,
            }}</p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move { match keys.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No API keys yet."</p> }.into_any(),
                    Ok(list) => view! { <KeyTable list revoke /> }.into_any(),
                }})}
            </Transition>
            <KeyForm create />
        </AdminOnly>
    }
}

#[component]
fn KeyTable(list: Vec<ApiKeyView>, revoke: ServerAction<RevokeApiKey>) -> impl IntoView {
    let t = now();
    view! {
        <table id="api-keys-table">
            <thead><tr>
                <th>"Name"</th><th>"Key"</th><th>"Mail servers"</th><th>"Permissions"</th>
                <th>"Allowed IP addresses"</th><th>"Created"</th><th>"Expires"</th><th>"Last used"</th><th>"Active"</th><th></th>
            </tr></thead>
            <tbody>
                {list.into_iter().map(|k| {
                    let id = k.id;
                    let active = k.active(t);
                    let state = if k.revoked { "revoked" } else if active { "active" } else { "expired" };
                    let last_used = match (&k.last_used_at, &k.last_used_addr) {
                        (Some(at), Some(addr)) => format!("{} from {addr}", format_utc(*at)),
                        (at, _) => format_opt(*at),
                    };
                    view! {
                        <tr data-name=k.name.clone()>
                            <td>{k.name.clone()}</td>
                            <td class="mono">{format!("{}…", k.prefix)}</td>
                            <td>{k.scope.clone()}</td>
                            <td>{k.permissions.clone()}</td>
                            <td>{if k.allowed_ips.is_empty() { "any".to_string() } else { k.allowed_ips.clone() }}</td>
                            <td>{format_utc(k.created_at)}</td>
                            <td>{k.expires_at.map(format_utc).unwrap_or_else(|| "never".into())}</td>
                            <td class="last-used">{last_used}</td>
                            <td><span class=if active { "badge on" } else { "badge off" }>{state}</span></td>
                            <td>{(!k.revoked).then(|| view! {
                                <button type="button" class="danger" disabled=move || revoke.pending().get()
                                    on:click=move |_| { revoke.dispatch(RevokeApiKey { id }); }>"Revoke"</button>
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn KeyForm(create: ServerAction<CreateApiKey>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let all_servers = RwSignal::new(true);
    let chosen = RwSignal::new(Vec::<i64>::new());
    let perm_tokens = RwSignal::new(true);
    let perm_accounts = RwSignal::new(false);
    let ips = RwSignal::new(String::new());
    let expires = RwSignal::new(String::new());
    let errors = FormErrors::new();
    let servers = Resource::new(|| (), |_| mail_account_choices());

    let draft = move || ApiKeyDraft {
        name: name.get_untracked(),
        all_servers: all_servers.get_untracked(),
        server_ids: chosen.get_untracked(),
        perm_tokens: perm_tokens.get_untracked(),
        perm_accounts: perm_accounts.get_untracked(),
        allowed_ips: ips.get_untracked(),
        expires_on: expires.get_untracked(),
    };
    Effect::new(move |_| match create.value().get() {
        Some(Ok(_)) => {
            errors.set_server(None);
            name.set(String::new());
            ips.set(String::new());
            expires.set(String::new());
        }
        Some(Err(e)) => errors.set_server(Some(e)),
        None => {}
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let d = draft();
        errors.replace_local(d.parse(now()).err().unwrap_or_default());
        if !errors.has_local() {
            create.dispatch(CreateApiKey { draft: d });
        }
    };
    let created = move || match create.value().get() {
        Some(Ok(k)) => Some(k.key),
        _ => None,
    };
    view! {
        <Show when=move || created().is_some()>
            <div class="card created-key" id="created-key" role="status">
                <p><strong>"Copy the key now: it is not shown again."</strong></p>
                <input class="mono" id="new-key" readonly aria-label="New API key"
                    prop:value=move || created().unwrap_or_default() />
                <CopyButton text=Signal::derive(move || created().unwrap_or_default()) target_id="new-key" />
            </div>
        </Show>
        <form class="card form" id="api-key-form" on:submit=on_submit novalidate>
            <Ready>
            <h2>"New API key"</h2>
            <label for="key-name">"Name"</label>
            <input id="key-name" prop:value=move || name.get()
                on:input=move |ev| { let v = event_target_value(&ev); name.set(v); } />
            <FieldError id="key-name-error" message=errors.message(label::NAME) />
            <fieldset>
                <legend>"Mail servers"</legend>
                <label class="check" for="key-all-servers">
                    <input id="key-all-servers" type="checkbox" prop:checked=move || all_servers.get()
                        on:change=move |ev| all_servers.set(event_target_checked(&ev)) />
                    "All mail servers"
                </label>
                <Show when=move || !all_servers.get()>
                    <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            match servers.await {
                                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                                Ok(c) => c.servers.into_iter().map(|s| {
                                    let sid = s.id;
                                    let input_id = format!("key-server-{sid}");
                                    let label_for = input_id.clone();
                                    view! {
                                        <label class="check" for=label_for>
                                            <input id=input_id type="checkbox" class="key-server"
                                                prop:checked=move || chosen.get().contains(&sid)
                                                on:change=move |ev| {
                                                    let on = event_target_checked(&ev);
                                                    chosen.update(|c| { c.retain(|x| *x != sid); if on { c.push(sid); } });
                                                } />
                                            {s.subject}
                                        </label>
                                    }
                                }).collect_view().into_any(),
                            }
                        })}
                    </Suspense>
                </Show>
                <FieldError id="key-servers-error" message=errors.message(label::SERVERS) />
            </fieldset>
            <fieldset>
                <legend>"Permissions"</legend>
                <label class="check" for="key-perm-tokens">
                    <input id="key-perm-tokens" type="checkbox" prop:checked=move || perm_tokens.get()
                        on:change=move |ev| perm_tokens.set(event_target_checked(&ev)) />
                    "tokens: get access tokens"
                </label>
                <label class="check" for="key-perm-accounts">
                    <input id="key-perm-accounts" type="checkbox" prop:checked=move || perm_accounts.get()
                        on:change=move |ev| perm_accounts.set(event_target_checked(&ev)) />
                    "accounts: list and read accounts, create pending accounts"
                </label>
                <FieldError id="key-permissions-error" message=errors.message(label::PERMISSIONS) />
            </fieldset>
            <label for="key-ips">"Allowed IP addresses"</label>
            <input id="key-ips" placeholder="e.g. 203.0.113.0/24, 2001:db8::1 (empty: any)" prop:value=move || ips.get()
                on:input=move |ev| ips.set(event_target_value(&ev)) />
            <FieldError id="key-ips-error" message=errors.message(label::ALLOWED_IPS) />
            <label for="key-expires">"Expires on"</label>
            <input id="key-expires" type="date" prop:value=move || expires.get()
                on:input=move |ev| expires.set(event_target_value(&ev)) />
            <FieldError id="key-expires-error" message=errors.message(label::EXPIRES) />
            <p class="error" role="alert">{move || errors.general().get()}</p>
            <button type="submit" disabled=move || create.pending().get()>"Create key"</button>
            </Ready>
        </form>
    }
}
