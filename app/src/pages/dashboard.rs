use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::ready::Ready;

use leptos_router::components::A;

use crate::api::mail_accounts::account_status_counts;
use crate::api::settings::{dashboard_health, get_organisation_name, SetOrganisationName};
use crate::components::field::FieldError;
use crate::components::time::{format_opt, format_utc, now};
use crate::domain::mail_account::expiry_text;
use crate::domain::{AccountStatus, Checklist, Health, OrganisationName};

#[component]
pub fn DashboardPage() -> impl IntoView {
    let save = ServerAction::<SetOrganisationName>::new();
    // Refetches after every save, so the heading shows what the database now holds.
    let saved = Resource::new(move || save.version().get(), |_| get_organisation_name());
    let counts = Resource::new(|| (), |_| account_status_counts());
    let me = expect_context::<crate::components::layout::Me>();
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
                counts.await.ok().map(|rows| view! { <Counts rows /> })
            })}
        </Suspense>
        <Suspense>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(u)) if u.is_admin() => view! { <HealthView /> }.into_any(),
                    _ => ().into_any(),
                }
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

/// Accounts by status, each a link to the list filtered by it.
#[component]
fn Counts(rows: Vec<(AccountStatus, i64)>) -> impl IntoView {
    view! {
        <section class="card" id="account-counts">
            <h2>"Mail accounts by status"</h2>
            <ul class="counts">
                {rows.into_iter().map(|(status, n)| view! {
                    <li data-status=status.code()>
                        <A href=format!("/mail-accounts?status={}", status.code())>{status.code().replace('_', " ")}</A>
                        ": " <strong>{n}</strong>
                    </li>
                }).collect_view()}
            </ul>
        </section>
    }
}

/// Admins: the first-run checklist until every step is done, then what needs attention.
#[component]
fn HealthView() -> impl IntoView {
    let health = Resource::new(|| (), |_| dashboard_health());
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match health.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(h) => {
                        let sender = match (h.notification_sender.clone(), h.notification_problem.clone()) {
                            (Some(login), _) => view! { <p id="notification-sender-status" class="muted">"Notices are sent from " {login} "."</p> }.into_any(),
                            (None, Some(why)) => view! { <p id="notification-sender-status" class="warn error">"E-mail notices are held back: " {why} ". " <A href="/settings">"Settings"</A></p> }.into_any(),
                            (None, None) => view! { <p id="notification-sender-status" class="warn">"No notification sender is set: owners are not told by e-mail when a mailbox needs them. " <A href="/settings">"Choose one in Settings"</A></p> }.into_any(),
                        };
                        let main = if h.checklist.done() {
                            view! { <Attention h /> }.into_any()
                        } else {
                            view! { <FirstRun c=h.checklist /> }.into_any()
                        };
                        view! { {sender} {main} }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn FirstRun(c: Checklist) -> impl IntoView {
    let steps = [
        (
            c.application,
            "Create an application",
            "/applications",
            "its Redirect URI is what the provider's console needs",
        ),
        (
            c.server,
            "Copy its Redirect URI to the provider and add a mail server",
            "/mail-servers/new",
            "the client ID and secret come from that console",
        ),
        (
            c.linked,
            "Link a mailbox",
            "/mail-accounts",
            "add a mail account and authorise it",
        ),
        (
            c.tested,
            "Run the test",
            "/mail-accounts",
            "open the account and run the IMAP and SMTP test",
        ),
    ];
    view! {
        <section class="card" id="first-run">
            <h2>"Getting started"</h2>
            <ol class="checklist">
                {steps.into_iter().map(|(done, what, href, how)| view! {
                    <li class=if done { "step ok" } else { "step" } data-done=done.to_string()>
                        {if done { "✓ " } else { "○ " }}
                        <A href=href>{what}</A>
                        <span class="muted">{format!(" — {how}")}</span>
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}

#[component]
fn Attention(h: Health) -> impl IntoView {
    let now = now();
    let max = h
        .outcomes
        .iter()
        .map(|d| d.refreshed.max(d.failed))
        .max()
        .unwrap_or(0)
        .max(1);
    view! {
        <section class="card" id="health">
            <h2>"Health"</h2>
            <p id="last-refresh">"Last refresh that worked: " {format_opt(h.last_refresh_at)}</p>
            <p id="gateway-counts">{h.gateway.text()}</p>

            {(!h.warnings.is_empty()).then(|| view! {
                <h3>"Coming up"</h3>
                <ul id="warnings">
                    {h.warnings.into_iter().map(|w| {
                        let href = match w.account_id {
                            Some(a) => format!("/mail-accounts/{a}"),
                            None => format!("/mail-servers/{}", w.server_id),
                        };
                        let class = if w.within_days <= 1 { "warning error" } else { "warning warn" };
                        view! { <li class=class data-within=w.within_days><A href=href>{w.text}</A></li> }
                    }).collect_view()}
                </ul>
            })}
            <h3>"Mail servers with failing accounts"</h3>
            {if h.failing_servers.is_empty() {
                view! { <p class="muted" id="failing-servers">"None."</p> }.into_any()
            } else {
                view! {
                    <ul id="failing-servers">
                        {h.failing_servers.into_iter().map(|(id, subject, n)| view! {
                            <li><A href=format!("/mail-servers/{id}")>{subject}</A>": " {n} " failing"</li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <h3>"Next expiries"</h3>
            <ul id="next-expiries">
                {h.next_expiries.into_iter().map(|(id, login, at)| view! {
                    <li><A href=format!("/mail-accounts/{id}")>{login}</A>": " {expiry_text(Some(at), now)}</li>
                }).collect_view()}
            </ul>
            <h3>"Refreshing, last 7 days"</h3>
            <table class="chart" id="refresh-chart">
                <thead><tr><th>"Day"</th><th>"Worked"</th><th>"Started failing"</th></tr></thead>
                <tbody>
                    {h.outcomes.into_iter().map(|d| {
                        let width = |n: i64| format!("width: {}%", n * 60 / max);
                        let day = format_utc(d.day * 86_400);
                        view! {
                            <tr data-day=d.day>
                                <td>{day.split(' ').next().unwrap_or_default().to_string()}</td>
                                <td><span class="bar ok" style=width(d.refreshed)></span>" " {d.refreshed}</td>
                                <td><span class="bar err" style=width(d.failed)></span>" " {d.failed}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
