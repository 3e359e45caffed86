use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

use crate::components::account::AuthorizeButton;

/// What each callback outcome means, in plain words, and whether trying again can help.
pub fn describe(outcome: &str) -> (&'static str, &'static str, bool) {
    match outcome {
        "linked" => ("Mailbox linked", "The mailbox is authorised. Mailbridge keeps its access token fresh from now on.", false),
        "access_denied" => ("Access denied", "Access was denied at the provider, so nothing was linked. If that was a mistake, try again and allow access.", true),
        "provider_error" => ("The provider reported an error", "The provider did not authorise the mailbox. Its message is shown on the mail account.", true),
        "unknown_application" => ("Unknown callback address", "This Redirect URI does not belong to any application here (its key may have been regenerated). Nothing was changed.", false),
        "disabled_application" => ("Application disabled", "The application owning this Redirect URI is disabled. Nothing was changed; ask an administrator.", false),
        "address_refused" => ("Not allowed from this address", "This application accepts callbacks only from its allowed IP addresses. Nothing was changed.", false),
        "invalid_state" => ("Invalid authorisation request", "This callback does not match any authorisation started here. Nothing was changed; start again from the mail account.", false),
        "expired_state" => ("Authorisation expired", "More than 10 minutes passed since you clicked Authorize. Nothing was changed; try again.", true),
        "used_state" => ("Already used", "This authorisation was already completed or abandoned. Nothing was changed.", true),
        "other_user" => ("Started by someone else", "This authorisation was started by another user. Nothing was changed.", false),
        "exchange_failed" => ("The provider rejected the code", "The provider refused to exchange the authorisation code for tokens. Its message is shown on the mail account; check the Client ID, Client secret and Redirect URI.", true),
        "provider_unreachable" => ("The provider could not be reached", "Mailbridge could not reach the provider's token endpoint. Nothing was stored; try again later.", true),
        "domain_refused" => ("Domain not allowed", "This mail server accepts mailboxes of its allowed login domains only. Nothing was stored.", true),
        "server_changed" => ("Mail server changed", "The mail server's settings changed while you were at the provider, so nothing was stored. Authorize again.", true),
        "already_linked" => ("Already linked", "This mailbox is already linked on this mail server by another account in Mailbridge. Nothing was stored; ask an administrator.", true),
        "identity_mismatch" => ("Wrong account", "You consented with a different account than this mailbox's login. Nothing was stored; try again and choose the right account.", true),
        "no_refresh_token" => ("No refresh token", "The provider returned no refresh token, so the link would stop working within the hour. Nothing was stored; see the mail account for the likely cause.", true),
        _ => ("Something went wrong", "The authorisation could not be completed. Nothing was stored; the details are in the server log.", true),
    }
}

#[component]
pub fn OAuthResultPage() -> impl IntoView {
    let query = use_query_map();
    let outcome = move || query.read().get("outcome").unwrap_or_default();
    let account = move || {
        query
            .read()
            .get("account")
            .and_then(|a| a.parse::<i64>().ok())
    };
    view! {
        <Title text="Authorisation" />
        {move || {
            let (title, text, retry) = describe(&outcome());
            let ok = outcome() == "linked";
            view! {
                <section class="card oauth-result" data-outcome=outcome()>
                    <h1>{title}</h1>
                    <p class=if ok { "ok" } else { "error" }>{text}</p>
                    <p class="actions">
                        {account().map(|id| view! { <A href=format!("/mail-accounts/{id}")>"View the mail account"</A> " · " })}
                        {(retry && account().is_some()).then(|| view! { <AuthorizeButton account_id=account().unwrap_or_default() label="Try again" /> })}
                        <A href="/mail-accounts">"Back to mail accounts"</A>
                    </p>
                </section>
            }
        }}
    }
}
