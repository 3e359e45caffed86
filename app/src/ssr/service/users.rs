//! The people who use Mailbridge: created, edited and (de)activated by admins.

use tracing::instrument;

use crate::domain::user::LAST_ADMIN;
use crate::domain::{DisplayName, Email, Password, Role, UserView};
use crate::error::AppError;
use crate::ssr::{audit, db, passwords, AppState};

pub async fn list(st: &AppState) -> Result<Vec<UserView>, AppError> {
    Ok(db::users::list(&st.pool).await?)
}

pub async fn get(st: &AppState, id: i64) -> Result<UserView, AppError> {
    db::users::get(&st.pool, id)
        .await?
        .ok_or_else(|| AppError::NotFound("The user".into()))
}

/// Creates a user; a taken email is a field error. Used by the Users page, the CLI and the
/// first-start admin.
#[instrument(skip_all, fields(role = role.as_str()))]
pub async fn create(
    pool: &crate::ssr::db::Pool,
    now: i64,
    email: &Email,
    name: &DisplayName,
    role: Role,
    password: &Password,
) -> Result<i64, AppError> {
    let hash = passwords::hash(password).await?;
    let id = db::users::insert(pool, email, name, role, &hash, now)
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                AppError::field(Email::LABEL, "a user with this email already exists")
            } else {
                e.into()
            }
        })?;
    tracing::info!(user_id = id, "user created");
    audit::admin_did(
        pool,
        "user.created",
        format!("User {} created ({})", email.as_str(), role.as_str()),
        (None, Some(id)),
        now,
    )
    .await;
    Ok(id)
}

/// What the owner of a disabled mailbox reads.
pub const OWNER_DEACTIVATED: &str =
    "Its owner's Mailbridge account was deactivated: the mailbox is not refreshed or used until the owner is activated again.";

/// Changes name, role and active flag; never leaves the installation without an active admin.
/// Deactivation ends every session of the user at once.
#[instrument(skip_all, fields(user_id = id))]
pub async fn update(
    st: &AppState,
    id: i64,
    name: &DisplayName,
    role: Role,
    active: bool,
) -> Result<(), AppError> {
    let before = db::users::get(&st.pool, id).await?;
    let mut tx = st.pool.begin().await.map_err(crate::ssr::begin_failed)?;
    // Two admins demoting each other at once must not both see the other as the one left.
    db::serialize(&mut tx, &["users:admins"]).await?;
    let updated =
        db::users::update_unless_last_admin(&mut *tx, id, name, role, active, st.clock.now())
            .await?;
    if !updated {
        return Err(if !db::users::exists(&mut *tx, id).await? {
            AppError::NotFound("The user".into())
        } else if !active {
            AppError::field("Active", LAST_ADMIN)
        } else {
            AppError::field(Role::LABEL, LAST_ADMIN)
        });
    }
    // A deactivated user's mailboxes stop being refreshed, tested or handed out; they resume
    // when the user is activated again.
    let now = st.clock.now();
    if active {
        db::mail_accounts::enable_owner_accounts(&mut *tx, id, now).await?;
    } else {
        db::sessions::delete_for_user(&mut *tx, id, "").await?;
        db::mail_accounts::disable_owner_accounts(&mut *tx, id, OWNER_DEACTIVATED, now).await?;
    }
    tx.commit().await.map_err(crate::ssr::commit_failed)?;
    tracing::info!(role = role.as_str(), active, "user updated");
    if let Some(b) = before {
        let yes_no = |v: bool| if v { "yes" } else { "no" }.to_string();
        let changed = audit::changes(&[
            ("Name", b.display_name, name.as_str().to_string()),
            ("Role", b.role.as_str().into(), role.as_str().into()),
            ("Active", yes_no(b.active), yes_no(active)),
        ]);
        if !changed.is_empty() {
            let summary = format!("User {}: {changed}", b.email);
            audit::admin_did(&st.pool, "user.changed", summary, (None, Some(id)), now).await;
        }
    }
    Ok(())
}

/// An admin sets someone's password; their sessions end.
#[instrument(skip_all, fields(user_id = id))]
pub async fn set_password(st: &AppState, id: i64, password: &Password) -> Result<(), AppError> {
    let hash = passwords::hash(password).await?;
    let mut tx = st.pool.begin().await.map_err(crate::ssr::begin_failed)?;
    if !db::users::set_password_hash(&mut *tx, id, &hash, st.clock.now()).await? {
        return Err(AppError::NotFound("The user".into()));
    }
    db::sessions::delete_for_user(&mut *tx, id, "").await?;
    tx.commit().await.map_err(crate::ssr::commit_failed)?;
    tracing::info!("password set by an admin");
    let who = db::users::get(&st.pool, id)
        .await?
        .map(|u| u.email)
        .unwrap_or_default();
    let summary = format!("Password of {who} set by an admin (their sessions ended)");
    let now = st.clock.now();
    audit::admin_did(
        &st.pool,
        "user.password_set",
        summary,
        (None, Some(id)),
        now,
    )
    .await;
    Ok(())
}
