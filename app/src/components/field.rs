use leptos::prelude::*;

use crate::error::AppError;

/// A server answer's error that is not about one field (permission, conflict, server
/// trouble), for the line under the form.
pub fn general_error<T>(answer: Option<Result<T, AppError>>) -> Option<String> {
    answer
        .and_then(|r| r.err())
        .filter(|e| !e.is_invalid())
        .map(|e| e.to_string())
}

/// The message shown under a field; empty (and invisible) when there is none.
#[component]
pub fn FieldError(
    #[prop(into)] message: Signal<Option<String>>,
    #[prop(into)] id: String,
) -> impl IntoView {
    view! {
        <p class="field-error" id=id role="alert">
            // None, not "": an empty text node does not survive the HTML parser.
            {move || message.get().filter(|m| !m.is_empty())}
        </p>
    }
}

/// Per-field messages of a form: those from the browser-side parse as the admin types, and the
/// server's answer to the last submit.
#[derive(Clone, Copy)]
pub struct FormErrors {
    local: RwSignal<Vec<(&'static str, String)>>,
    server: RwSignal<Option<AppError>>,
}

impl Default for FormErrors {
    fn default() -> Self {
        Self::new()
    }
}

impl FormErrors {
    pub fn new() -> Self {
        FormErrors {
            local: RwSignal::new(vec![]),
            server: RwSignal::new(None),
        }
    }

    pub fn set(&self, label: &'static str, result: Option<String>) {
        self.local.update(|v| {
            v.retain(|(l, _)| *l != label);
            if let Some(m) = result {
                v.push((label, m));
            }
        });
        // Typing into a field answers the server's complaint about it.
        self.server.update(|s| {
            if s.as_ref().and_then(|e| e.for_field(label)).is_some() {
                *s = None;
            }
        });
    }

    pub fn replace_local(&self, all: Vec<(&'static str, String)>) {
        self.local.set(all);
    }

    pub fn set_server(&self, err: Option<AppError>) {
        self.server.set(err);
    }

    pub fn has_local(&self) -> bool {
        !self.local.get_untracked().is_empty()
    }

    pub fn message(&self, label: &'static str) -> Signal<Option<String>> {
        let this = *self;
        Signal::derive(move || {
            this.local
                .get()
                .into_iter()
                .find(|(l, _)| *l == label)
                .map(|(_, m)| m)
                .or_else(|| this.server.get().and_then(|e| e.for_field(label)))
        })
    }

    /// A server error that is not about one field (permission, conflict, server trouble).
    pub fn general(&self) -> Signal<Option<String>> {
        let this = *self;
        Signal::derive(move || {
            this.server
                .get()
                .filter(|e| !e.is_invalid())
                .map(|e| e.to_string())
        })
    }
}
