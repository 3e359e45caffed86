use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::activity::list_activity;
use crate::api::mail_accounts::mail_account_choices;
use crate::components::field::{FieldError, FormErrors};
use crate::components::layout::AdminOnly;
use crate::components::pager::Pager;
use crate::components::ready::Ready;
use crate::components::time::format_utc;
use crate::domain::activity::{label, KINDS};
use crate::domain::{ActivityQuery, ActivityView};

/// What happened, for any day in the past: filters, 50 a page, CSV export.
#[component]
pub fn ActivityPage() -> impl IntoView {
    // The query the list shows; the form edits a copy and applies it.
    let applied = RwSignal::new(ActivityQuery::default());
    let page = RwSignal::new(0i64);
    let entries = Resource::new(
        move || (applied.get(), page.get()),
        |(q, p)| list_activity(q, p),
    );
    view! {
        <Title text="Activity" />
        <AdminOnly>
            <h1>"Activity"</h1>
            <p class="muted">
                "Who did what, when, from where: sign-ins, changes to users, applications, mail servers, API keys "
                "and webhooks (which fields changed, never a secret's value), and every mail account event. "
                "Refreshes that work are counted per account and day, on the account's page."
            </p>
            <ActivityFilterForm applied page />
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move { match entries.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(p) if p.rows.is_empty() => view! { <p class="empty" id="no-activity">"Nothing matches."</p> }.into_any(),
                    Ok(p) => view! {
                        <ActivityTable list=p.rows />
                        <Pager page total=p.total id="activity-pager" />
                    }.into_any(),
                }})}
            </Transition>
        </AdminOnly>
    }
}

#[component]
fn ActivityFilterForm(applied: RwSignal<ActivityQuery>, page: RwSignal<i64>) -> impl IntoView {
    let draft = RwSignal::new(ActivityQuery::default());
    let errors = FormErrors::new();
    let choices = RwSignal::new(None);
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            choices.set(mail_account_choices().await.ok());
        });
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let q = draft.get_untracked();
        errors.replace_local(q.parse().err().unwrap_or_default());
        if !errors.has_local() {
            page.set(0);
            applied.set(q);
        }
    };
    let set = move |f: fn(&mut ActivityQuery, String)| {
        move |ev: leptos::ev::Event| {
            let v = event_target_value(&ev);
            draft.update(|d| f(d, v));
        }
    };
    let export = move || format!("/activity.csv?{}", applied.get().to_query_string());
    view! {
        <form class="card form filters" id="activity-filter" on:submit=on_submit novalidate>
            <Ready>
            <label for="activity-user">"User"</label>
            <select id="activity-user" on:change=set(|d, v| d.user_id = v)>
                <option value="">"Anyone"</option>
                {move || choices.get().map(|c: crate::domain::AccountChoices| c.users.into_iter().map(|u| view! {
                    <option value=u.id.to_string()>{u.email}</option>
                }).collect_view())}
            </select>
            <label for="activity-server">"Mail server"</label>
            <select id="activity-server" on:change=set(|d, v| d.server_id = v)>
                <option value="">"Any mail server"</option>
                {move || choices.get().map(|c: crate::domain::AccountChoices| c.servers.into_iter().map(|s| view! {
                    <option value=s.id.to_string()>{s.subject}</option>
                }).collect_view())}
            </select>
            <label for="activity-account">"Mail account ID"</label>
            <input id="activity-account" inputmode="numeric" prop:value=move || draft.get().account_id
                on:input=set(|d, v| d.account_id = v) />
            <label for="activity-kind">"Kind"</label>
            <select id="activity-kind" on:change=set(|d, v| d.kind = v)>
                <option value="">"Any kind"</option>
                {KINDS.iter().map(|(code, text)| view! { <option value=*code>{*text}</option> }).collect_view()}
            </select>
            <FieldError id="activity-kind-error" message=errors.message(label::KIND) />
            <label for="activity-from">"From"</label>
            <input id="activity-from" type="date" prop:value=move || draft.get().from on:input=set(|d, v| d.from = v) />
            <FieldError id="activity-from-error" message=errors.message(label::FROM) />
            <label for="activity-to">"To"</label>
            <input id="activity-to" type="date" prop:value=move || draft.get().to on:input=set(|d, v| d.to = v) />
            <FieldError id="activity-to-error" message=errors.message(label::TO) />
            <button type="submit">"Apply"</button>
            <a class="button secondary" id="activity-export" href=export rel="external" download="">"Export CSV"</a>
            </Ready>
        </form>
    }
}

/// The entries, newest first; also the account page's timeline.
#[component]
pub fn ActivityTable(list: Vec<ActivityView>) -> impl IntoView {
    view! {
        <table class="activity-table">
            <thead><tr><th>"Time"</th><th>"Who"</th><th>"What"</th><th>"Details"</th><th>"From"</th></tr></thead>
            <tbody>
                {list.into_iter().map(|e| {
                    let what = KINDS.iter().find(|(k, _)| *k == e.kind).map(|(_, t)| *t).unwrap_or("");
                    let who = match e.actor_kind.as_str() {
                        "api_key" => format!("API key {}", e.actor_label),
                        "app_password" => format!("app password {}", e.actor_label),
                        _ => e.actor_label.clone(),
                    };
                    let account = e.account_id.map(|id| view! {
                        " " <A href=format!("/mail-accounts/{id}")>{format!("(account {id})")}</A>
                    });
                    view! {
                        <tr data-kind=e.kind.clone()>
                            <td>{format_utc(e.at)}</td>
                            <td>{who}</td>
                            <td>{what}</td>
                            <td>{e.summary.clone()}{account}</td>
                            <td class="mono">{e.client_addr.clone().unwrap_or_default()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
