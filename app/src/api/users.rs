//! The Users page: admins list, create and edit accounts of this Mailbridge.

use leptos::prelude::*;

use crate::domain::UserView;
use crate::error::AppError;

pub use crate::domain::user::LAST_ADMIN;

#[server(prefix = "/api", endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserView>, AppError> {
    use crate::{api::guard, ssr::service::users};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        users::list(&st).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "get_user")]
pub async fn get_user(id: i64) -> Result<UserView, AppError> {
    use crate::{api::guard, ssr::service::users};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        users::get(&st, id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "create_user")]
pub async fn create_user(
    email: String,
    name: String,
    role: String,
    password: String,
) -> Result<i64, AppError> {
    use crate::{api::guard, domain::user::NewUserForm, ssr::service::users};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        let form = NewUserForm::parse(&email, &name, &role, &password).map_err(AppError::fields)?;
        users::create(
            &st.pool,
            st.clock.now(),
            &form.email,
            &form.name,
            form.role,
            &form.password,
        )
        .await
    })
    .await
}

#[server(prefix = "/api", endpoint = "update_user")]
pub async fn update_user(
    id: i64,
    name: String,
    role: String,
    active: bool,
) -> Result<(), AppError> {
    use crate::{
        api::guard,
        domain::{DisplayName, Role},
        ssr::service::users,
    };
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        let name = DisplayName::parse(&name).map_err(|m| (DisplayName::LABEL, m));
        let role = Role::parse(&role).map_err(|m| (Role::LABEL, m));
        match (name, role) {
            (Ok(name), Ok(role)) => users::update(&st, id, &name, role, active).await,
            (name, role) => Err(AppError::fields(
                [name.err(), role.err()].into_iter().flatten(),
            )),
        }
    })
    .await
}

#[server(prefix = "/api", endpoint = "set_user_password")]
pub async fn set_user_password(id: i64, password: String) -> Result<(), AppError> {
    use crate::{api::guard, domain::Password, ssr::service::users};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        let password =
            Password::parse(&password).map_err(|m| AppError::field("New password", m))?;
        users::set_password(&st, id, &password).await
    })
    .await
}
