//! The smallest hydrated Leptos 0.8 app with what Mailbridge's sign-in page needs: a router,
//! a title, one form posting to one server function, its error shown in the page.
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

#[server(prefix = "/api", endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<(), ServerFnError> {
    if email.is_empty() || password.is_empty() {
        return Err(ServerFnError::ServerError(
            "Email and password are required".into(),
        ));
    }
    Ok(())
}

#[component]
fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    view! {
        <Title text="Sign in" />
        <h1>"Sign in"</h1>
        <ActionForm action>
            <label>"Email" <input type="email" name="email" /></label>
            <label>"Password" <input type="password" name="password" /></label>
            <button type="submit">"Sign in"</button>
        </ActionForm>
        <p role="alert">{move || action.value().get().and_then(|r| r.err()).map(|e| e.to_string())}</p>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Router>
            <Routes fallback=|| "Not found">
                <Route path=path!("/login") view=LoginPage />
            </Routes>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
