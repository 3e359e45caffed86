//! Reading the route.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// The `:id` of the current route, if it is a number; reactive, so a page reused for another
/// id follows it.
pub fn id_param() -> impl Fn() -> Option<i64> + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || params.read().get("id").and_then(|s| s.parse::<i64>().ok())
}
