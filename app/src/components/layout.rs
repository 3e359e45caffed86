use leptos::prelude::*;
use leptos_router::components::A;

/// The frame of every page: navigation on the left, the page on the right.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Effects run only in the browser, so this marks the moment hydration finished; the
    // end-to-end tests wait for it before they click.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <div class="shell" data-hydrated=move || hydrated.get().to_string()>
            <nav class="sidebar" aria-label="Main">
                <A href="/" attr:class="brand">"Mailbridge"</A>
                <ul>
                    <li><A href="/" exact=true>"Dashboard"</A></li>
                    <li><A href="/mail-servers">"Mail servers"</A></li>
                    <li><A href="/applications">"Applications"</A></li>
                    <li><A href="/mail-accounts">"Mail accounts"</A></li>
                    <li><A href="/users">"Users"</A></li>
                </ul>
            </nav>
            <main class="content">{children()}</main>
        </div>
    }
}
