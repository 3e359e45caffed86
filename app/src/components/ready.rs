use leptos::prelude::*;

/// Wraps a form's controls in a fieldset that stays disabled until this part of the page is
/// hydrated: a click or keystroke before the handlers exist would otherwise be lost (or submit
/// the form natively). Browsers and Playwright both wait for enabled controls.
#[component]
pub fn Ready(children: Children) -> impl IntoView {
    let ready = RwSignal::new(false);
    // Effects run only in the browser, after the synchronous hydration of this subtree.
    Effect::new(move |_| ready.set(true));
    view! {
        <fieldset class="plain" disabled=move || !ready.get()>
            {children()}
        </fieldset>
    }
}

/// A flag that turns true once the calling component is live in the browser.
pub fn use_ready() -> ReadSignal<bool> {
    let (ready, set_ready) = signal(false);
    Effect::new(move |_| set_ready.set(true));
    ready
}
