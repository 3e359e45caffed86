use leptos::prelude::*;

use crate::domain::PAGE_SIZE;

/// "51–100 of 10,000" with Previous / Next.
#[component]
pub fn Pager(page: RwSignal<i64>, total: i64, #[prop(into)] id: String) -> impl IntoView {
    let current = page.get_untracked();
    let first = current * PAGE_SIZE + 1;
    let last = ((current + 1) * PAGE_SIZE).min(total);
    let has_next = last < total;
    let ready = super::ready::use_ready();
    view! {
        <nav class="pager" id=id aria-label="Pages">
            <span class="muted">{if total == 0 { "none".to_string() } else { format!("{first}–{last} of {total}") }}</span>
            <button type="button" class="secondary" disabled=move || !ready.get() || current == 0
                on:click=move |_| page.update(|p| *p = (*p - 1).max(0))>"Previous"</button>
            <button type="button" class="secondary" disabled=move || !ready.get() || !has_next
                on:click=move |_| page.update(|p| *p += 1)>"Next"</button>
        </nav>
    }
}
