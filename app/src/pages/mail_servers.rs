use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::mail_servers::{list_mail_servers, DeleteMailServer};
use crate::components::layout::AdminOnly;
use crate::domain::{MailServerSummary, Page};

#[component]
pub fn MailServersPage() -> impl IntoView {
    // Created here, outside the admin check's Suspend (see mail_server_form.rs).
    let delete = ServerAction::<DeleteMailServer>::new();
    let ascending = RwSignal::new(true);
    let page = RwSignal::new(0i64);
    let servers = Resource::new(
        move || (delete.version().get(), page.get(), ascending.get()),
        |(_, page, asc)| list_mail_servers(page, !asc),
    );
    view! {
        <Title text="Mail servers" />
        <AdminOnly>
            <MailServerList delete servers ascending page />
        </AdminOnly>
    }
}

#[component]
fn MailServerList(
    delete: ServerAction<DeleteMailServer>,
    servers: Resource<Result<Page<MailServerSummary>, crate::error::AppError>>,
    ascending: RwSignal<bool>,
    page: RwSignal<i64>,
) -> impl IntoView {
    let ready = crate::components::ready::use_ready();
    // Which row asks "Delete …?": one signal for the table rather than one per row.
    let confirming = RwSignal::new(None::<i64>);
    view! {
        <h1>"Mail servers"</h1>
        <p><A href="/mail-servers/new" attr:class="button">"New mail server"</A></p>
        <p class="error" role="alert" id="delete-error">{move || delete.value().get().and_then(|r| r.err()).map(|e| e.to_string())}</p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move { match servers.await {
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                Ok(p) if p.total == 0 => view! { <p class="empty">"No mail servers yet."</p> }.into_any(),
                Ok(p) => {
                    let total = p.total;
                    let list = p.rows;
                    view! {
                        <table id="mail-servers-table">
                            <thead><tr>
                                <th aria-sort=move || if ascending.get() { "ascending" } else { "descending" }>
                                    <button type="button" class="sort" disabled=move || !ready.get() on:click=move |_| { ascending.update(|a| *a = !*a); page.set(0); }>
                                        "Subject " {move || if ascending.get() { "▲" } else { "▼" }}
                                    </button>
                                </th>
                                <th>"Active"</th><th>"Authorization method"</th><th>"Provider"</th><th>"IMAP host"</th><th>"SMTP host"</th><th>"Mail accounts"</th><th></th>
                            </tr></thead>
                            <tbody>{list.into_iter().map(|s| server_row(s, delete, ready, confirming)).collect_view()}</tbody>
                        </table>
                        <crate::components::pager::Pager page total id="mail-servers-pager" />
                    }.into_any()
                }
            }})}
        </Transition>
    }
}

/// One row. A plain function, a plain link and signals shared by the table: rendering a page of
/// rows on the server was mostly per-row reactive bookkeeping (owners, memos, effects).
fn server_row(
    s: MailServerSummary,
    delete: ServerAction<DeleteMailServer>,
    ready: ReadSignal<bool>,
    confirming: RwSignal<Option<i64>>,
) -> impl IntoView {
    let id = s.id;
    let linked = s.linked_accounts;
    let subject = s.subject.clone();
    let method = s.auth_method.label();
    let provider = s.provider.map(|p| p.label()).unwrap_or("—");
    view! {
        <tr data-subject=s.subject.clone()>
            <td class="subject">{s.subject.clone()}</td>
            <td>{if s.active { view! { <span class="badge on">"yes"</span> } } else { view! { <span class="badge off">"no"</span> } }}</td>
            <td>{method}</td>
            <td>{provider}</td>
            <td>{s.imap_host.clone()}</td>
            <td>{s.smtp_host.clone()}</td>
            <td class="linked">{s.linked_accounts}</td>
            <td class="actions">
                <a href=format!("/mail-servers/{id}")>"Edit"</a>
                {move || if confirming.get() != Some(id) {
                    view! {
                        <button type="button" class="danger" disabled=move || !ready.get() on:click=move |_| confirming.set(Some(id))>"Delete"</button>
                    }.into_any()
                } else {
                    let subject = subject.clone();
                    view! {
                        <div class="confirm" role="alertdialog">
                            <p>{format!("Delete the mail server {subject}?")}</p>
                            {(linked > 0).then(|| view! {
                                <p class="error">{format!(
                                    "{linked} linked mail account{} and {} tokens will be deleted with it.",
                                    if linked == 1 { "" } else { "s" },
                                    if linked == 1 { "its" } else { "their" }
                                )}</p>
                            })}
                            <button type="button" class="danger" on:click=move |_| {
                                delete.dispatch(DeleteMailServer { id, confirm_accounts: linked });
                                confirming.set(None);
                            }>{if linked > 0 { format!("Delete server and {linked} account{}", if linked == 1 { "" } else { "s" }) } else { "Confirm delete".to_string() }}</button>
                            <button type="button" class="secondary" on:click=move |_| confirming.set(None)>"Cancel"</button>
                        </div>
                    }.into_any()
                }}
            </td>
        </tr>
    }
}
