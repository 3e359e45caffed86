use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn MailServersPage() -> impl IntoView {
    view! {
        <Title text="Mail servers" />
        <h1>"Mail servers"</h1>
        <p class="placeholder">"This page is not built yet."</p>
    }
}
