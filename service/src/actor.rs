//! Who is acting: the authenticated user and their role.

pub use entity::user::Role;
use uuid::Uuid;

/// The authenticated caller, rebuilt from the database on every request so a
/// disabled account or a changed role takes effect at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    pub role: Role,
    /// As typed at registration; for responses that show the caller's name
    /// (a new post's `author_username`), without another query.
    pub username: String,
}

impl Actor {
    /// True for admins.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}
