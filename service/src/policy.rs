//! Every authorisation rule of the service, in one place (API.md section 1,
//! "Roles" and "Ownership"). Resource modules ask these functions; none of
//! them compares ids or roles on its own.

use uuid::Uuid;

use crate::{Actor, ServiceError};

/// Owner-or-admin: may this actor change or delete a resource owned by `owner_id`?
pub fn may_modify(actor: &Actor, owner_id: Uuid) -> bool {
    actor.is_admin() || actor.user_id == owner_id
}

/// [`may_modify`], as a result.
///
/// # Errors
/// [`ServiceError::Forbidden`] when the actor is neither the owner nor an admin.
pub fn ensure_may_modify(actor: &Actor, owner_id: Uuid, what: &str) -> Result<(), ServiceError> {
    if may_modify(actor, owner_id) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!(
            "Only the owner of this {what} or an admin may change it"
        )))
    }
}

/// May this caller (anonymous when `None`) know that an item exists? Published
/// items are public; unpublished ones (drafts) exist only for their owner and
/// admins (API.md section 4: "to anyone else it does not exist").
pub fn may_view(actor: Option<&Actor>, owner_id: Uuid, published: bool) -> bool {
    published || actor.is_some_and(|a| may_modify(a, owner_id))
}

/// Admin-only operations.
///
/// # Errors
/// [`ServiceError::Forbidden`] for anyone but an admin.
pub fn ensure_admin(actor: &Actor) -> Result<(), ServiceError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("Only an admin may do this".into()))
    }
}

/// An account may be read by its owner and by admins (API.md section 2).
///
/// # Errors
/// [`ServiceError::Forbidden`] for any other user.
pub fn ensure_self_or_admin(actor: &Actor, user_id: Uuid) -> Result<(), ServiceError> {
    if may_modify(actor, user_id) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "Only this user or an admin may see this account".into(),
        ))
    }
}
