//! Account look-ups by name and by id, for the resources that show a
//! username beside an id (`author_username`, an offer's `username`) or take
//! one in a path or filter. Usernames match case-insensitively
//! (docs/conventions.md#identifiers).

use entity::user;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::ServiceError;
use crate::db::Conn;

/// `lower(username) = lower(?)`.
pub fn matches(username: &str) -> Expr {
    Expr::expr(Func::lower(Expr::col((
        user::Entity,
        user::Column::Username,
    ))))
    .eq(username.to_lowercase())
}

/// The id of the user with this username (any case), if there is one.
///
/// # Errors
/// Database errors only.
pub async fn id_of(conn: &impl Conn, username: &str) -> Result<Option<Uuid>, ServiceError> {
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(matches(username))
        .into_tuple()
        .one(conn)
        .await?)
}

/// The username of a user, as typed at registration (empty if the user is
/// gone).
///
/// # Errors
/// Database errors only.
pub async fn name_of(conn: &impl Conn, id: Uuid) -> Result<String, ServiceError> {
    let name: Option<String> = user::Entity::find_by_id(id)
        .select_only()
        .column(user::Column::Username)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(name.unwrap_or_default())
}
