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

/// The "Authorize" buttons of a table of accounts: one action, one hydration flag and one
/// redirect for the whole table, rather than a set per row (a page of fifty rows rendered on the
/// server spent most of its time on that per-row bookkeeping).
#[derive(Clone, Copy)]
pub struct AuthorizeButtons {
    start: ServerAction<StartAuthorization>,
    ready: ReadSignal<bool>,
    /// The row whose button was pressed last: its error shows beside it.
    pressed: RwSignal<Option<i64>>,
}

impl AuthorizeButtons {
    pub fn new() -> Self {
        let start = ServerAction::<StartAuthorization>::new();
        Effect::new(move |_| {
            if let Some(Ok(url)) = start.value().get() {
                let _ = window().location().set_href(&url);
            }
        });
        Self {
            start,
            ready: super::ready::use_ready(),
            pressed: RwSignal::new(None),
        }
    }

    /// The button (and its error) for one account.
    pub fn button(self, account_id: i64, label: String) -> impl IntoView {
        let Self {
            start,
            ready,
            pressed,
        } = self;
        view! {
            <button type="button" class="authorize" disabled=move || !ready.get() || start.pending().get()
                on:click=move |_| {
                    pressed.set(Some(account_id));
                    start.dispatch(StartAuthorization { id: account_id });
                }>
                {label}
            </button>
            <span class="error" role="alert">{move || {
                // The last answer is the pressed row's only once it has come (a new dispatch
                // does not clear the previous row's error).
                (pressed.get() == Some(account_id) && !start.pending().get())
                    .then(|| start.value().get().and_then(|r| r.err()).map(|e| e.to_string()))
                    .flatten()
            }}</span>
        }
    }
}

impl Default for AuthorizeButtons {
    fn default() -> Self {
        Self::new()
    }
}
