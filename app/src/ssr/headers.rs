//! The Content-Security-Policy of pages: scripts only from this origin or inline with this
//! response's nonce (Leptos puts it on its hydration and streaming scripts), WebAssembly
//! compiled from this origin, nothing framed, no `<base>`, forms only to this origin.

use leptos::prelude::use_context;

/// The policy of a page whose inline scripts carry `nonce`.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

/// The policy for anything that is not a page (files, server-function answers, errors): it
/// runs nothing and is framed by nobody.
pub const NON_PAGE_CSP: &str = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Sets this page's policy on its response (the nonce is made per request by leptos_axum).
pub fn page_policy() {
    let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(v) = http::HeaderValue::from_str(&page_csp(&nonce.to_string())) {
        res.insert_header(http::header::CONTENT_SECURITY_POLICY, v);
    }
}
