//! "Add mail server" / edit: the seed's central form.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::ready::Ready;
use leptos_router::components::A;

use crate::api::applications::list_applications;
use crate::api::mail_servers::{get_mail_server, SaveMailServer};
use crate::components::copy::CopyButton;
use crate::components::field::{FieldError, FormErrors};
use crate::components::layout::AdminOnly;
use crate::components::server_fields::{new_draft, Fields};
use crate::domain::mail_server::{label, parse_day, parse_scopes, parse_tenant, LoginDomains};
use crate::domain::ApplicationView;
use crate::domain::MailServerEdit;
use crate::domain::{Encryption, Host, Port, ProviderKind, Subject};

#[component]
pub fn MailServerFormPage() -> impl IntoView {
    let id = crate::components::route::id_param();
    // One resource for everything the page shows, created at the top of the page, before any
    // Suspend: a resource created inside a resolved Suspend can be created twice while
    // hydrating and miss its serialized value.
    let link = ServerAction::<crate::api::mail_accounts::CreateMailAccount>::new();
    let data = Resource::new(id, |id| async move {
        let apps = list_applications().await?;
        let existing = match id {
            Some(id) => Some(get_mail_server(id).await?),
            None => None,
        };
        Ok::<_, crate::error::AppError>((existing, apps))
    });
    // The linked accounts reload after "Link a user" on their own, so that unsaved edits in
    // the server form above are not thrown away.
    let accounts = Resource::new(
        move || (id(), link.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => {
                    let page = crate::api::mail_accounts::list_mail_accounts(
                        id.to_string(),
                        String::new(),
                        String::new(),
                        0,
                    )
                    .await?;
                    // Only the users: the page does not need (nor carry) every mail server.
                    let users = crate::api::mail_accounts::mail_account_choices()
                        .await?
                        .users;
                    Ok(Some((id, page, users)))
                }
                None => Ok(None),
            }
        },
    );
    view! {
        <Title text="Mail server" />
        <AdminOnly>
            <MailServerFormLoader data accounts link />
        </AdminOnly>
    }
}

type FormData = (Option<MailServerEdit>, Vec<ApplicationView>);
type LinkedAccounts = Option<(
    i64,
    crate::domain::Page<crate::domain::MailAccountView>,
    Vec<crate::domain::UserChoice>,
)>;

#[component]
fn MailServerFormLoader(
    data: Resource<Result<FormData, crate::error::AppError>>,
    accounts: Resource<Result<LinkedAccounts, crate::error::AppError>>,
    link: ServerAction<crate::api::mail_accounts::CreateMailAccount>,
) -> impl IntoView {
    view! {
        <p><A href="/mail-servers">"← Mail servers"</A></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move { match data.await {
                Ok((edit, apps)) => {
                    let existing = edit.is_some();
                    view! {
                        <MailServerForm edit apps />
                        {existing.then(|| view! { <LinkedAccountsSection accounts link /> })}
                    }.into_any()
                }
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
            }})}
        </Suspense>
    }
}

#[component]
fn LinkedAccountsSection(
    accounts: Resource<Result<LinkedAccounts, crate::error::AppError>>,
    link: ServerAction<crate::api::mail_accounts::CreateMailAccount>,
) -> impl IntoView {
    view! {
        <Transition>
            {move || Suspend::new(async move { match accounts.await {
                Ok(Some((server_id, page, users))) => view! {
                    <crate::pages::server_accounts::ServerAccounts server_id page users create=link />
                }.into_any(),
                Ok(None) => view! { <span></span> }.into_any(),
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
            }})}
        </Transition>
    }
}

#[component]
fn MailServerForm(edit: Option<MailServerEdit>, apps: Vec<ApplicationView>) -> impl IntoView {
    let editing = edit.is_some();
    let secret_set = edit.as_ref().map(|e| e.secret_set).unwrap_or(false);
    let id = edit.as_ref().map(|e| e.id.to_string()).unwrap_or_default();
    let draft = edit.map(|e| e.draft).unwrap_or_else(new_draft);
    // Values loaded from the database count as typed: presets never overwrite them.
    let touched = RwSignal::new(editing);
    let f = Fields::new(draft);
    let errors = FormErrors::new();
    let save = ServerAction::<SaveMailServer>::new();
    let navigate = leptos_router::hooks::use_navigate();

    // Set when the server asked to confirm sending linked accounts back to authorisation.
    let confirm: RwSignal<Option<(String, i64)>> = RwSignal::new(None);
    Effect::new(move |_| match save.value().get() {
        Some(Ok(_)) => navigate("/mail-servers", Default::default()),
        Some(Err(crate::error::AppError::Confirm { message, count })) => {
            errors.set_server(None);
            confirm.set(Some((message, count)));
        }
        Some(Err(e)) => errors.set_server(Some(e)),
        None => {}
    });

    // Which of the six mail fields the admin typed into (presets skip those).
    let typed: RwSignal<Vec<&'static str>> = RwSignal::new(vec![]);
    let is_typed =
        move |l: &'static str| touched.get_untracked() || typed.get_untracked().contains(&l);
    let apply_preset = move |kind: &str| {
        let Some(p) = ProviderKind::parse(kind).ok().and_then(|k| k.preset()) else {
            return;
        };
        if !is_typed(label::IMAP_HOST) {
            f.imap_host.set(p.imap_host.into());
        }
        if !is_typed(label::IMAP_PORT) {
            f.imap_port.set(p.imap_port.to_string());
        }
        if !is_typed(label::IMAP_ENCRYPTION) {
            f.imap_encryption.set(p.imap_encryption.code().into());
        }
        if !is_typed(label::SMTP_HOST) {
            f.smtp_host.set(p.smtp_host.into());
        }
        if !is_typed(label::SMTP_PORT) {
            f.smtp_port.set(p.smtp_port.to_string());
        }
        if !is_typed(label::SMTP_ENCRYPTION) {
            f.smtp_encryption.set(p.smtp_encryption.code().into());
        }
        for l in [
            label::IMAP_HOST,
            label::IMAP_PORT,
            label::SMTP_HOST,
            label::SMTP_PORT,
        ] {
            errors.set(l, None);
        }
    };

    let is_oauth = move || f.auth_method.get() == "oauth2";
    let provider = move || f.provider.get();
    let active_apps: Vec<ApplicationView> = apps
        .iter()
        .filter(|a| a.active || a.id.to_string() == f.application_id.get_untracked())
        .cloned()
        .collect();
    let apps_for_uri = active_apps.clone();
    let selected_uri = Signal::derive(move || {
        let sel = f.application_id.get();
        apps_for_uri
            .iter()
            .find(|a| a.id.to_string() == sel)
            .map(|a| a.redirect_uri.clone())
            .unwrap_or_default()
    });

    let on_submit = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let d = f.draft();
            match d.parse(secret_set) {
                Err(errs) => errors.replace_local(errs),
                Ok(_) => {
                    errors.replace_local(vec![]);
                    save.dispatch(SaveMailServer {
                        id: id.clone(),
                        draft: d,
                    });
                }
            }
        }
    };

    // A text input bound to `sig`, parsed on every keystroke with `check`.
    let text_input = move |dom_id: &'static str,
                           l: &'static str,
                           sig: RwSignal<String>,
                           check: fn(&str) -> Option<String>,
                           mail_field: bool| {
        view! {
            <label for=dom_id>{l}</label>
            <input id=dom_id prop:value=move || sig.get()
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    errors.set(l, check(&v));
                    if mail_field { typed.update(|t| if !t.contains(&l) { t.push(l) }); }
                    sig.set(v);
                } />
            <FieldError id=format!("{dom_id}-error") message=errors.message(l) />
        }
    };
    let enc_select = move |dom_id: &'static str, l: &'static str, sig: RwSignal<String>| {
        view! {
            <label for=dom_id>{l}</label>
            <select id=dom_id prop:value=move || sig.get()
                on:change=move |ev| { typed.update(|t| if !t.contains(&l) { t.push(l) }); sig.set(event_target_value(&ev)); }>
                {Encryption::ALL.iter().map(|e| view! { <option value=e.code() selected=move || sig.get() == e.code()>{e.label()}</option> }).collect_view()}
            </select>
            <FieldError id=format!("{dom_id}-error") message=errors.message(l) />
        }
    };
    let checkbox = move |dom_id: &'static str, l: &'static str, sig: RwSignal<bool>| {
        view! {
            <label class="check" for=dom_id>
                <input id=dom_id type="checkbox" prop:checked=move || sig.get() on:change=move |ev| sig.set(event_target_checked(&ev)) />
                {l}
            </label>
        }
    };

    fn subject_check(v: &str) -> Option<String> {
        Subject::parse(v).err()
    }
    fn host_check(v: &str) -> Option<String> {
        Host::parse(v).err()
    }
    fn port_check(v: &str) -> Option<String> {
        Port::parse(v).err()
    }
    fn client_id_check(v: &str) -> Option<String> {
        crate::domain::text::bounded(v, 1, 255).err()
    }
    fn tenant_check(v: &str) -> Option<String> {
        parse_tenant(v).err()
    }
    fn issuer_check(v: &str) -> Option<String> {
        crate::domain::mail_server::parse_issuer(v).err()
    }
    fn scopes_check(v: &str) -> Option<String> {
        parse_scopes(v).err()
    }
    fn domains_check(v: &str) -> Option<String> {
        LoginDomains::parse(v).err()
    }

    view! {
        <h1>{if editing { "Edit mail server" } else { "Add mail server" }}</h1>
        <form class="card form" id="mail-server-form" on:submit=on_submit novalidate>
            <Ready>
            {text_input("server-subject", label::SUBJECT, f.subject, subject_check, false)}
            <label for="server-auth-method">{label::AUTH_METHOD}</label>
            <select id="server-auth-method" prop:value=move || f.auth_method.get() on:change=move |ev| f.auth_method.set(event_target_value(&ev))>
                <option value="oauth2" selected=move || f.auth_method.get() == "oauth2">"OAuth2"</option>
                <option value="password" selected=move || f.auth_method.get() == "password">"Password"</option>
            </select>
            <FieldError id="server-auth-method-error" message=errors.message(label::AUTH_METHOD) />

            <Show when=is_oauth>
                <fieldset class="oauth">
                    <legend>"OAuth2"</legend>
                    <label for="server-provider">{label::PROVIDER}</label>
                    <select id="server-provider" prop:value=move || f.provider.get()
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            errors.set(label::PROVIDER, ProviderKind::parse(&v).err());
                            apply_preset(&v);
                            f.provider.set(v);
                        }>
                        <option value="" selected=move || f.provider.get().is_empty()>"Choose a provider…"</option>
                        {ProviderKind::ALL.iter().map(|k| view! { <option value=k.code() selected=move || f.provider.get() == k.code()>{k.label()}</option> }).collect_view()}
                    </select>
                    <FieldError id="server-provider-error" message=errors.message(label::PROVIDER) />
                    {text_input("server-client-id", label::CLIENT_ID, f.client_id, client_id_check, false)}
                    <label for="server-client-secret">{label::CLIENT_SECRET}</label>
                    <input id="server-client-secret" type="password" autocomplete="off"
                        placeholder=if secret_set { "Leave blank to keep the current secret" } else { "" }
                        prop:value=move || f.client_secret.get()
                        on:input=move |ev| { let v = event_target_value(&ev); errors.set(label::CLIENT_SECRET, None); f.client_secret.set(v); } />
                    {secret_set.then(|| view! { <p class="muted" id="secret-status">"A client secret is set. It is stored encrypted and never shown."</p> })}
                    <FieldError id="server-client-secret-error" message=errors.message(label::CLIENT_SECRET) />
                    // Microsoft's client secrets expire (6 to 24 months); Google's do not.
                    <Show when=move || provider() == "microsoft">
                    <label for="server-secret-expires">{label::SECRET_EXPIRES}</label>
                    <input id="server-secret-expires" type="date" prop:value=move || f.secret_expires_on.get()
                        on:input=move |ev| {
                            let v = event_target_value(&ev);
                            errors.set(label::SECRET_EXPIRES, parse_day(&v).err());
                            f.secret_expires_on.set(v);
                        } />
                    <p class="muted">"Optional. Microsoft client secrets expire after 6 to 24 months; the dashboard warns 30, 7 and 1 days before."</p>
                    <FieldError id="server-secret-expires-error" message=errors.message(label::SECRET_EXPIRES) />
                    </Show>
                    <label for="server-redirect-uri">{label::REDIRECT_URI}</label>
                    {if active_apps.is_empty() {
                        view! { <p class="error">"No active application yet: " <A href="/applications">"create one"</A> " first."</p> }.into_any()
                    } else {
                        view! { <span></span> }.into_any()
                    }}
                    <select id="server-redirect-uri" prop:value=move || f.application_id.get()
                        on:change=move |ev| { let v = event_target_value(&ev); errors.set(label::REDIRECT_URI, None); f.application_id.set(v); }>
                        <option value="" selected=move || f.application_id.get().is_empty()>"Choose an application…"</option>
                        {active_apps.iter().map(|a| {
                            let value = a.id.to_string();
                            let v2 = value.clone();
                            view! { <option value=value selected=move || f.application_id.get() == v2>{format!("{} — {}", a.name, a.redirect_uri)}</option> }
                        }).collect_view()}
                    </select>
                    <div class="redirect">
                        <input class="mono redirect-uri" id="server-redirect-uri-value" readonly aria-label="Chosen callback address" prop:value=move || selected_uri.get() />
                        <CopyButton text=selected_uri target_id="server-redirect-uri-value" />
                    </div>
                    <FieldError id="server-redirect-uri-error" message=errors.message(label::REDIRECT_URI) />
                    <Show when=move || provider() == "microsoft">
                        {text_input("server-tenant", label::TENANT, f.tenant, tenant_check, false)}
                        <p class="muted">"common (any account), organizations, consumers, or your tenant id / domain for a single-tenant app."</p>
                    </Show>
                    <Show when=move || provider() == "generic">
                        {text_input("server-issuer", label::ISSUER_URL, f.issuer_url, issuer_check, false)}
                        {text_input("server-scopes", label::SCOPES, f.scopes, scopes_check, false)}
                    </Show>
                    <Show when=move || provider() == "google">
                        <label for="server-publishing">{label::PUBLISHING}</label>
                        <select id="server-publishing" on:change=move |ev| f.publishing_status.set(event_target_value(&ev))>
                            <option value="" selected=move || f.publishing_status.get().is_empty()>"Not given"</option>
                            <option value="testing" selected=move || f.publishing_status.get() == "testing">"Testing"</option>
                            <option value="production" selected=move || f.publishing_status.get() == "production">"In production"</option>
                        </select>
                        <p class="muted warn">"While the Google Cloud app is in \"Testing\" publishing status, its refresh tokens expire after 7 days: publish it for lasting access."</p>
                        <FieldError id="server-publishing-error" message=errors.message(label::PUBLISHING) />
                    </Show>
                </fieldset>
            </Show>

            <fieldset>
                <legend>"IMAP"</legend>
                {text_input("server-imap-host", label::IMAP_HOST, f.imap_host, host_check, true)}
                {text_input("server-imap-port", label::IMAP_PORT, f.imap_port, port_check, true)}
                {enc_select("server-imap-encryption", label::IMAP_ENCRYPTION, f.imap_encryption)}
            </fieldset>
            <fieldset>
                <legend>"SMTP"</legend>
                {text_input("server-smtp-host", label::SMTP_HOST, f.smtp_host, host_check, true)}
                {text_input("server-smtp-port", label::SMTP_PORT, f.smtp_port, port_check, true)}
                {enc_select("server-smtp-encryption", label::SMTP_ENCRYPTION, f.smtp_encryption)}
            </fieldset>
            {checkbox("server-validate-certificate", label::VALIDATE_CERTIFICATE, f.validate_certificate)}
            <FieldError id="server-validate-certificate-error" message=errors.message(label::VALIDATE_CERTIFICATE) />
            {text_input("server-allowed-domains", label::ALLOWED_DOMAINS, f.allowed_domains, domains_check, false)}
            <p class="muted">"Optional: mailboxes of these domains only (e.g. example.com example.org). Empty allows any."</p>
            {checkbox("server-active", label::ACTIVE, f.active)}
            {checkbox("server-visible", label::VISIBLE, f.visible_to_users)}
            <p class="error" role="alert" id="server-form-error">{move || errors.general().get()}</p>
            {
                let id = id.clone();
                move || confirm.get().map(|(message, count)| {
                    let id = id.clone();
                    view! {
                        <div class="confirm" role="alertdialog" id="server-confirm">
                            <p class="error">{message}</p>
                            <button type="button" class="danger" on:click=move |_| {
                                let mut d = f.draft();
                                d.confirm_linked = count;
                                confirm.set(None);
                                save.dispatch(SaveMailServer { id: id.clone(), draft: d });
                            }>{format!("Save and re-authorise {count} account{}", if count == 1 { "" } else { "s" })}</button>
                            <button type="button" class="secondary" on:click=move |_| confirm.set(None)>"Cancel"</button>
                        </div>
                    }
                })
            }
            <button type="submit" disabled=move || save.pending().get()>"Save"</button>
            <Show when=move || save.pending().get()><span class="muted">" Saving…"</span></Show>
            </Ready>
        </form>
    }
}
