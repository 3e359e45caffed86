//! Integration applications: each owns the Redirect URI the admin registers at the provider.

use tracing::instrument;

use crate::domain::application::label;
use crate::domain::{AppName, ApplicationView, CidrList};
use crate::error::AppError;
use crate::ssr::{audit, db, sessions::random_token, AppState};

fn not_found() -> AppError {
    AppError::NotFound("The application".into())
}

/// Every application (or only `id`), with its Redirect URI and the servers using it.
pub async fn list(st: &AppState, id: Option<i64>) -> Result<Vec<ApplicationView>, AppError> {
    let rows = db::applications::list(&st.pool, id).await?;
    let users = db::mail_servers::application_users(&st.pool).await?;
    Ok(rows
        .into_iter()
        .map(|r| ApplicationView {
            id: r.id,
            redirect_uri: st.redirect_uri(&r.app_key),
            used_by: users
                .iter()
                .filter(|(a, _)| *a == r.id)
                .map(|(_, s)| s.clone())
                .collect(),
            name: r.name,
            active: r.active,
            allowed_ips_problem: CidrList::parse(&r.allowed_ips).err(),
            allowed_ips: r.allowed_ips,
        })
        .collect())
}

pub async fn get(st: &AppState, id: i64) -> Result<ApplicationView, AppError> {
    list(st, Some(id)).await?.pop().ok_or_else(not_found)
}

/// Creates (`id` None) or updates an application; returns its id.
#[instrument(skip_all, fields(application_id = ?id))]
pub async fn save(
    st: &AppState,
    id: Option<i64>,
    name: &AppName,
    active: bool,
    ips: &CidrList,
) -> Result<i64, AppError> {
    let unique = |e: db::QueryError| {
        if e.is_unique_violation() {
            AppError::field(label::NAME, "an application with this name already exists")
        } else {
            e.into()
        }
    };
    let t = st.clock.now();
    let yes_no = |v: bool| if v { "yes" } else { "no" }.to_string();
    match id {
        None => {
            let id = db::applications::insert(&st.pool, name, &random_token(), active, ips, t)
                .await
                .map_err(unique)?;
            let summary = format!("Application '{}' created", name.as_str());
            audit::admin_did(&st.pool, "application.created", summary, (None, None), t).await;
            Ok(id)
        }
        Some(id) => {
            let before = list(st, Some(id)).await?.pop();
            if !db::applications::update(&st.pool, id, name, active, ips, t)
                .await
                .map_err(unique)?
            {
                return Err(not_found());
            }
            if let Some(b) = before {
                let changed = audit::changes(&[
                    ("Name", b.name.clone(), name.as_str().to_string()),
                    ("Active", yes_no(b.active), yes_no(active)),
                    ("Allowed IP addresses", b.allowed_ips, ips.to_text()),
                ]);
                if !changed.is_empty() {
                    let summary = format!("Application '{}': {changed}", b.name);
                    audit::admin_did(&st.pool, "application.changed", summary, (None, None), t)
                        .await;
                }
            }
            Ok(id)
        }
    }
}

/// A new key: the old Redirect URI stops working at once. Returns the new URI.
#[instrument(skip_all, fields(application_id = id))]
pub async fn regenerate_key(st: &AppState, id: i64) -> Result<String, AppError> {
    let key = random_token();
    if !db::applications::set_key(&st.pool, id, &key, st.clock.now()).await? {
        return Err(not_found());
    }
    tracing::info!("application key regenerated");
    let name = list(st, Some(id))
        .await?
        .pop()
        .map(|a| a.name)
        .unwrap_or_default();
    let summary = format!("Application '{name}': Redirect URI key regenerated");
    audit::admin_did(
        &st.pool,
        "application.changed",
        summary,
        (None, None),
        st.clock.now(),
    )
    .await;
    Ok(st.redirect_uri(&key))
}

/// Deletes an application no mail server uses.
#[instrument(skip_all, fields(application_id = id))]
pub async fn delete(st: &AppState, id: i64) -> Result<(), AppError> {
    let names: Vec<String> = db::mail_servers::application_users(&st.pool)
        .await?
        .into_iter()
        .filter(|(a, _)| *a == id)
        .map(|(_, s)| s)
        .collect();
    if !names.is_empty() {
        return Err(AppError::Refused(format!(
            "This application is used by the mail server{} {}; choose another Redirect URI there first.",
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        )));
    }
    let name = list(st, Some(id))
        .await?
        .pop()
        .map(|a| a.name)
        .unwrap_or_default();
    // The foreign key (ON DELETE RESTRICT) also refuses if a server appeared meanwhile.
    let deleted = db::applications::delete(&st.pool, id).await.map_err(|e| {
        if e.is_foreign_key_violation() {
            AppError::Refused("This application is used by a mail server.".into())
        } else {
            e.into()
        }
    })?;
    if !deleted {
        return Err(not_found());
    }
    let summary = format!("Application '{name}' deleted");
    audit::admin_did(
        &st.pool,
        "application.deleted",
        summary,
        (None, None),
        st.clock.now(),
    )
    .await;
    Ok(())
}
