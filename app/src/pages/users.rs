use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <Title text="Users" />
        <h1>"Users"</h1>
        <p class="placeholder">"This page is not built yet."</p>
    }
}
