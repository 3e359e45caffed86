use leptos::prelude::*;

/// The message shown under a field; empty (and invisible) when there is none.
#[component]
pub fn FieldError(
    #[prop(into)] message: Signal<Option<String>>,
    #[prop(into)] id: String,
) -> impl IntoView {
    view! {
        <p class="field-error" id=id role="alert">
            {move || message.get().unwrap_or_default()}
        </p>
    }
}
