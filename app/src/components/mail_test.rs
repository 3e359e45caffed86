//! "Run test": a live checklist of the IMAP and SMTP logins of one mail account.

use leptos::prelude::*;

use crate::api::mail_test::TestMailAccount;
use crate::domain::{Protocol, ProtocolResult};

#[component]
pub fn RunTest(account_id: i64, oauth: bool) -> impl IntoView {
    let imap = ServerAction::<TestMailAccount>::new();
    let smtp = ServerAction::<TestMailAccount>::new();
    let ready = super::ready::use_ready();
    // IMAP first; SMTP starts when IMAP has answered, so each result shows as it completes.
    Effect::new(move |prev: Option<usize>| {
        let v = imap.version().get();
        if prev.is_some_and(|p| p != v) && imap.value().get().is_some() {
            smtp.dispatch(TestMailAccount {
                id: account_id,
                protocol: Protocol::Smtp,
            });
        }
        v
    });
    let running = move || imap.pending().get() || smtp.pending().get();
    view! {
        <section class="card run-test" id="run-test">
            <h2>"Connection test"</h2>
            <button type="button" disabled=move || !ready.get() || running()
                on:click=move |_| { smtp.clear(); imap.dispatch(TestMailAccount { id: account_id, protocol: Protocol::Imap }); }>"Run test"</button>
            <div class="checklist" aria-live="polite">
                <ProtocolPanel name="IMAP" account_id oauth pending=Signal::derive(move || imap.pending().get()) result=Signal::derive(move || imap.value().get()) />
                <ProtocolPanel name="SMTP" account_id oauth pending=Signal::derive(move || smtp.pending().get()) result=Signal::derive(move || smtp.value().get()) />
            </div>
        </section>
    }
}

#[component]
fn ProtocolPanel(
    name: &'static str,
    account_id: i64,
    oauth: bool,
    pending: Signal<bool>,
    result: Signal<Option<Result<ProtocolResult, crate::error::AppError>>>,
) -> impl IntoView {
    view! {
        <div class="protocol" data-protocol=name>
            <h3>{name}</h3>
            <Show when=move || pending.get()>
                <p class="spinner" role="status">{format!("Testing {name}…")}</p>
            </Show>
            {move || result.get().map(|r| match r {
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                Ok(r) => view! {
                    <ul class="steps">
                        {r.steps.iter().map(|s| view! {
                            <li class=if s.ok { "step ok" } else { "step error" }>
                                {if s.ok { "✔ " } else { "✘ " }}<strong>{s.name.clone()}</strong>
                                {format!(" ({} ms) ", s.millis)}<span class="detail">{s.detail.clone()}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                    <p class=if r.ok { "ok result" } else { "error result" } data-ok=r.ok.to_string()>{r.message.clone()}</p>
                    {r.hint.clone().map(|h| view! { <p class="hint">"Hint: " {h}</p> })}
                    {(!r.ok && r.auth_failed && oauth).then(|| view! { <super::account::AuthorizeButton account_id=account_id label="Authorize again" /> })}
                }.into_any(),
            })}
        </div>
    }
}
