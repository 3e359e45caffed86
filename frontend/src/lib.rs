//! The browser half: nothing but the hydration entry point, so the bundle holds only `app`.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy routes: the first page's chunk is fetched before hydration starts.
    leptos::mount::hydrate_lazy(app::App);
}
