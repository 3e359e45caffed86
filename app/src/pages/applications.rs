use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ApplicationsPage() -> impl IntoView {
    view! {
        <Title text="Applications" />
        <h1>"Applications"</h1>
        <p class="placeholder">"This page is not built yet."</p>
    }
}
