use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn MailAccountsPage() -> impl IntoView {
    view! {
        <Title text="Mail accounts" />
        <h1>"Mail accounts"</h1>
        <p class="placeholder">"This page is not built yet."</p>
    }
}
