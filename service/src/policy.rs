//! Every authorisation rule of the service, in one place
//! (docs/conventions.md#roles-and-ownership, docs/accounts.md#api-keys).
//! Resource modules ask these functions (each resource's
//! `Resource::may_write` names its rule); none of them compares ids, roles
//! or scopes on its own.
//!
//! An API key narrows what its user may do: the request's method needs
//! `read` or `write` ([`ensure_method_scope`], asked once for every request
//! that authenticates), admin powers need `admin` ([`Actor::is_admin`]), and
//! a few operations need a login ([`ensure_login`]).

use uuid::Uuid;

use crate::{Actor, Credential, Scope, Scopes, ServiceError};

/// A 403, saying when it is the key that falls short: an admin's API key
/// without the `admin` scope acts as a plain user, and a person reading the
/// refusal should learn why.
fn forbidden(actor: &Actor, detail: String) -> ServiceError {
    if actor.role == crate::Role::Admin && !actor.is_admin() {
        ServiceError::Forbidden(format!(
            "{detail} (this API key lacks the `admin` scope, so it acts as a plain user)"
        ))
    } else {
        ServiceError::Forbidden(detail)
    }
}

/// The scope a request's method needs of an API key: `read` for the safe
/// methods (RFC 9110 §9.2.1: `GET`, `HEAD`, `OPTIONS`, `TRACE`), `write`
/// for every other.
pub fn scope_for_method(safe: bool) -> Scope {
    if safe { Scope::Read } else { Scope::Write }
}

/// Does the actor's credential allow a request of this kind of method? A
/// login allows every method; a key needs [`scope_for_method`]. Asked once
/// per authenticated request, before the body and the resource are looked
/// at, so a key that may only read learns nothing from a write.
///
/// # Errors
/// [`ServiceError::Forbidden`] naming the missing scope.
pub fn ensure_method_scope(actor: &Actor, safe: bool) -> Result<(), ServiceError> {
    let needed = scope_for_method(safe);
    if actor.credential.grants(needed) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!(
            "This API key lacks the `{needed}` scope, which this request needs; make a key with `{needed}`"
        )))
    }
}

/// Operations that need a person's login, never an API key: making,
/// listing and revoking keys, and changing the account's e-mail or
/// password, so a leaked key can neither make more keys nor lock its owner
/// out. `what` names the operation ("Making API keys").
///
/// # Errors
/// [`ServiceError::Forbidden`] for a request made with an API key.
pub fn ensure_login(actor: &Actor, what: &str) -> Result<(), ServiceError> {
    match actor.credential {
        Credential::Login => Ok(()),
        Credential::ApiKey { .. } => Err(ServiceError::Forbidden(format!(
            "{what} needs a bearer token from a login; an API key may not do it"
        ))),
    }
}

/// Only an admin may give a key the `admin` scope.
///
/// # Errors
/// [`ServiceError::Forbidden`] when `scopes` holds `admin` and the actor is
/// not an admin.
pub fn ensure_may_grant(actor: &Actor, scopes: Scopes) -> Result<(), ServiceError> {
    if scopes.contains(Scope::Admin) && !actor.is_admin() {
        Err(ServiceError::Forbidden(
            "Only an admin may grant the `admin` scope".into(),
        ))
    } else {
        Ok(())
    }
}

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
        Err(forbidden(
            actor,
            format!("Only the owner of this {what} or an admin may change it"),
        ))
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
        None => Err(forbidden(
            actor,
            format!("This {what} ships with the service; only an admin may change it"),
        )),
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
        Err(forbidden(actor, "Only an admin may do this".into()))
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
        Err(forbidden(
            actor,
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
        Err(forbidden(
            actor,
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
        Err(forbidden(
            actor,
            "Only the owner of this cleaning or the user who made the offer may see it".into(),
        ))
    }
}
