use leptos::prelude::*;

/// A "Copy" button for a value shown in the element `target_id`. Uses the Clipboard API; where
/// it is unavailable (an insecure origin, a refused permission) it selects the text instead so
/// that Ctrl+C copies it.
#[component]
pub fn CopyButton(
    #[prop(into)] text: Signal<String>,
    #[prop(into)] target_id: String,
) -> impl IntoView {
    let status = RwSignal::new("");
    let ready = super::ready::use_ready();
    let on_click = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let value = text.get_untracked();
            let target = target_id.clone();
            leptos::task::spawn_local(async move {
                if browser::write_clipboard(&value).await {
                    status.set("Copied");
                } else {
                    browser::select_text(&target);
                    status.set("Selected: press Ctrl+C to copy");
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (&text, &target_id);
        }
    };
    view! {
        <button type="button" class="secondary copy" disabled=move || !ready.get() on:click=on_click>"Copy"</button>
        // An empty text node does not survive the HTML parser, so "nothing" is None, not "".
        <span class="copied" role="status" aria-live="polite">{move || Some(status.get()).filter(|s| !s.is_empty())}</span>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use wasm_bindgen::JsCast;

    pub async fn write_clipboard(text: &str) -> bool {
        let Some(window) = web_sys::window() else {
            return false;
        };
        let navigator = window.navigator();
        let available = js_sys::Reflect::get(&navigator, &"clipboard".into())
            .map(|v| !v.is_undefined() && !v.is_null())
            .unwrap_or(false);
        if !available {
            return false;
        }
        wasm_bindgen_futures::JsFuture::from(navigator.clipboard().write_text(text))
            .await
            .is_ok()
    }

    pub fn select_text(id: &str) {
        let Some(el) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(id))
        else {
            return;
        };
        if let Some(input) = el.dyn_ref::<web_sys::HtmlInputElement>() {
            input.select();
        }
    }
}
