//! Every authorisation rule of the service, in one place
//! (docs/conventions.md#roles-and-ownership). Resource modules ask these
//! functions (each resource's `Resource::may_write` names its rule); none of
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

/// Owner-or-admin for catalogue entries (docs/catalogue.md#writes): the creator or an
/// admin may change or delete an entry; an entry with no creator (`None`: one
/// the service ships with, or whose creator's account is gone) is admin-only.
///
/// # Errors
/// [`ServiceError::Forbidden`] when the actor may not change the entry.
pub fn ensure_may_modify_entry(
    actor: &Actor,
    created_by: Option<Uuid>,
    what: &str,
) -> Result<(), ServiceError> {
    match created_by {
        Some(owner_id) => ensure_may_modify(actor, owner_id, what),
        None if actor.is_admin() => Ok(()),
        None => Err(ServiceError::Forbidden(format!(
            "This {what} ships with the service; only an admin may change it"
        ))),
    }
}

/// May this caller (anonymous when `None`) know that an item exists? Published
/// items are public; unpublished ones (drafts) exist only for their owner and
/// admins (docs/blog.md#visibility: to anyone else a draft does not exist).
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

/// An account may be read by its owner and by admins (docs/accounts.md#administration).
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

/// The two parties of an offer (docs/marketplace.md#offers): the cleaning's owner, who
/// accepts and rejects, and the user who made the offer, who cancels and
/// rescinds. Admins may read every offer but move none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferParty {
    Owner,
    Offerer,
}

/// May this actor make the move reserved to `party`? `offerer` is the user
/// the offer path names (`None` when no user has that name).
///
/// # Errors
/// [`ServiceError::Forbidden`] for anyone but that party, admins included.
pub fn ensure_offer_party(
    actor: &Actor,
    party: OfferParty,
    cleaning_owner: Uuid,
    offerer: Option<Uuid>,
) -> Result<(), ServiceError> {
    match party {
        OfferParty::Owner if actor.user_id == cleaning_owner => Ok(()),
        OfferParty::Offerer if offerer == Some(actor.user_id) => Ok(()),
        OfferParty::Owner => Err(ServiceError::Forbidden(
            "Only the owner of this cleaning may accept or reject its offers".into(),
        )),
        OfferParty::Offerer => Err(ServiceError::Forbidden(
            "Only the user who made this offer may cancel or rescind it".into(),
        )),
    }
}

/// Anyone but the owner may offer on a cleaning.
///
/// # Errors
/// [`ServiceError::Forbidden`] for the owner.
pub fn ensure_may_offer(actor: &Actor, cleaning_owner: Uuid) -> Result<(), ServiceError> {
    if actor.user_id == cleaning_owner {
        Err(ServiceError::Forbidden(
            "You cannot make an offer on your own cleaning".into(),
        ))
    } else {
        Ok(())
    }
}

/// The list of a cleaning's offers: its owner, and admins.
///
/// # Errors
/// [`ServiceError::Forbidden`] for anyone else.
pub fn ensure_may_list_offers(actor: &Actor, cleaning_owner: Uuid) -> Result<(), ServiceError> {
    if may_modify(actor, cleaning_owner) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "Only the owner of this cleaning may list its offers".into(),
        ))
    }
}

/// One offer: the cleaning's owner, the offerer it names, and admins.
///
/// # Errors
/// [`ServiceError::Forbidden`] for anyone else.
pub fn ensure_may_read_offer(
    actor: &Actor,
    cleaning_owner: Uuid,
    offerer: Option<Uuid>,
) -> Result<(), ServiceError> {
    if may_modify(actor, cleaning_owner) || offerer == Some(actor.user_id) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "Only the owner of this cleaning or the user who made the offer may see it".into(),
        ))
    }
}
