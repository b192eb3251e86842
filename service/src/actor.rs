//! Who is acting: the authenticated user and their role.

pub use entity::user::Role;
use uuid::Uuid;

/// The authenticated caller, rebuilt from the database on every request so a
/// disabled account or a changed role takes effect at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    pub role: Role,
}

impl Actor {
    /// True for admins.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}
