//! Pieces shared by the mail-account pages.

use leptos::prelude::*;

use crate::api::mail_accounts::StartAuthorization;
use crate::domain::AccountStatus;

/// The status as a badge with words a person understands.
#[component]
pub fn StatusBadge(status: AccountStatus) -> impl IntoView {
    let class = match status {
        AccountStatus::Linked => "badge on",
        AccountStatus::NeedsReauth | AccountStatus::Error => "badge off",
        AccountStatus::Pending | AccountStatus::Disabled => "badge",
    };
    view! { <span class=class data-status=status.code()>{status.label()}</span> }
}

/// "Authorize" / "Authorize again": starts the flow on the server and sends the browser to the
/// provider.
#[component]
pub fn AuthorizeButton(account_id: i64, #[prop(into)] label: String) -> impl IntoView {
    let start = ServerAction::<StartAuthorization>::new();
    let ready = super::ready::use_ready();
    Effect::new(move |_| {
        if let Some(Ok(url)) = start.value().get() {
            let _ = window().location().set_href(&url);
        }
    });
    view! {
        <button type="button" class="authorize" disabled=move || !ready.get() || start.pending().get()
            on:click=move |_| { start.dispatch(StartAuthorization { id: account_id }); }>
            {label}
        </button>
        <span class="error" role="alert">{move || start.value().get().and_then(|r| r.err()).map(|e| e.to_string())}</span>
    }
}
