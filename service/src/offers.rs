//! Offers on a cleaning (API.md section 5), as an explicit state machine.
//!
//! [`Transition::rule`] is the one place that says which status may go
//! where and which party may move it. Each transition is one function and
//! one write transaction that locks the cleaning row first (`SELECT … FOR
//! UPDATE` on PostgreSQL; on SQLite the `IMMEDIATE` transaction serialises
//! writers), then checks, in API.md's order: the cleaning exists (404), the
//! caller is the party (403), the offer exists (404), the move is allowed
//! (409). The database backs the two invariants on its own: the primary key
//! allows one offer per user per cleaning, and a partial unique index at most
//! one accepted offer per cleaning; a violation of either is a 409.

use chrono::{DateTime, Utc};
use entity::{cleaning, offer, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::{user_id_by_username, username_of};
use crate::policy::{self, OfferParty};
use crate::{Actor, Cursor, Page, PageRequest, ServiceError, db, time};

/// Where an offer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OfferStatus {
    /// Made, awaiting the owner.
    Pending,
    /// Chosen by the owner; at most one per cleaning.
    Accepted,
    /// Turned down by the owner, or set aside when another offer was accepted.
    Rejected,
    /// Withdrawn by the offerer after acceptance.
    Cancelled,
}

impl OfferStatus {
    /// The stored form, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
        }
    }

    fn from_db(value: &str) -> Self {
        match value {
            "accepted" => Self::Accepted,
            "rejected" => Self::Rejected,
            "cancelled" => Self::Cancelled,
            _ => Self::Pending,
        }
    }
}

/// The moves of an offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Accept,
    Reject,
    Cancel,
    Rescind,
}

impl Transition {
    /// The state machine: who may make this move, from which status, and to
    /// which (`None`: the offer is removed).
    ///
    /// | move | party | from | to |
    /// |---|---|---|---|
    /// | accept | owner | pending | accepted (other pending offers: rejected) |
    /// | reject | owner | pending | rejected |
    /// | cancel | offerer | accepted | cancelled (offers this acceptance rejected: pending) |
    /// | rescind | offerer | pending | removed |
    pub const fn rule(self) -> (OfferParty, OfferStatus, Option<OfferStatus>) {
        match self {
            Self::Accept => (
                OfferParty::Owner,
                OfferStatus::Pending,
                Some(OfferStatus::Accepted),
            ),
            Self::Reject => (
                OfferParty::Owner,
                OfferStatus::Pending,
                Some(OfferStatus::Rejected),
            ),
            Self::Cancel => (
                OfferParty::Offerer,
                OfferStatus::Accepted,
                Some(OfferStatus::Cancelled),
            ),
            Self::Rescind => (OfferParty::Offerer, OfferStatus::Pending, None),
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Self::Accept => "accepted",
            Self::Reject => "rejected",
            Self::Cancel => "cancelled",
            Self::Rescind => "rescinded",
        }
    }
}

/// An offer as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OfferResponse {
    pub cleaning_id: Uuid,
    pub user_id: Uuid,
    /// The offerer's username.
    #[schema(example = "bob")]
    pub username: String,
    pub status: OfferStatus,
    #[serde(serialize_with = "time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl OfferResponse {
    fn new(o: offer::Model, username: String) -> Self {
        Self {
            cleaning_id: o.cleaning_id,
            user_id: o.user_id,
            username,
            status: OfferStatus::from_db(&o.status),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }

    fn from_pair((o, u): (offer::Model, Option<user::Model>)) -> Self {
        Self::new(o, u.map(|u| u.username).unwrap_or_default())
    }
}

fn offer_not_found() -> ServiceError {
    ServiceError::not_found("Offer")
}

/// The cleaning, locked for the rest of the transaction.
async fn lock_cleaning(
    txn: &DatabaseTransaction,
    id: Uuid,
) -> Result<cleaning::Model, ServiceError> {
    cleaning::Entity::find_by_id(id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| ServiceError::not_found("Cleaning"))
}

async fn find_offer(
    db: &impl ConnectionTrait,
    cleaning_id: Uuid,
    user_id: Option<Uuid>,
) -> Result<offer::Model, ServiceError> {
    let Some(user_id) = user_id else {
        return Err(offer_not_found());
    };
    offer::Entity::find_by_id((cleaning_id, user_id))
        .one(db)
        .await?
        .ok_or_else(offer_not_found)
}

async fn has_accepted(db: &impl ConnectionTrait, cleaning_id: Uuid) -> Result<bool, ServiceError> {
    Ok(offer::Entity::find()
        .filter(offer::Column::CleaningId.eq(cleaning_id))
        .filter(offer::Column::Status.eq(OfferStatus::Accepted.as_str()))
        .count(db)
        .await?
        > 0)
}

/// A unique-index violation inside a transition means another request won
/// the race: a conflict, not a failure.
fn race_error(err: DbErr, detail: &str) -> ServiceError {
    if crate::error::is_unique_violation(&err) {
        ServiceError::conflict("status", detail)
    } else {
        err.into()
    }
}

/// Makes an offer by the actor on a cleaning (status `pending`).
///
/// # Errors
/// 404 when the cleaning is missing; 403 for its owner; 409 when the actor
/// already made an offer on it (whatever its status) or it already has an
/// accepted offer.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    cleaning_id: Uuid,
) -> Result<OfferResponse, ServiceError> {
    let txn = db::begin_write(db).await?;
    let cleaning = lock_cleaning(&txn, cleaning_id).await?;
    policy::ensure_may_offer(actor, cleaning.owner_id)?;
    let duplicate =
        || ServiceError::conflict("user_id", "You already made an offer on this cleaning");
    if offer::Entity::find_by_id((cleaning.id, actor.user_id))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(duplicate());
    }
    if has_accepted(&txn, cleaning.id).await? {
        return Err(ServiceError::conflict(
            "status",
            "This cleaning already has an accepted offer",
        ));
    }
    let now = time::now();
    let row = offer::ActiveModel {
        cleaning_id: Set(cleaning.id),
        user_id: Set(actor.user_id),
        status: Set(OfferStatus::Pending.as_str().to_owned()),
        auto_rejected: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let saved = row.insert(&txn).await.map_err(|e| {
        if crate::error::is_unique_violation(&e) {
            duplicate()
        } else {
            e.into()
        }
    })?;
    let username = username_of(&txn, actor.user_id).await?;
    txn.commit().await?;
    Ok(OfferResponse::new(saved, username))
}

/// The offers on a cleaning, newest first (its owner, or an admin).
///
/// # Errors
/// 404 when the cleaning is missing; 403 for anyone else.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    cleaning_id: Uuid,
    page: PageRequest,
) -> Result<Page<OfferResponse>, ServiceError> {
    let cleaning = crate::cleanings::find(db, cleaning_id).await?;
    policy::ensure_may_list_offers(actor, cleaning.owner_id)?;
    let query = offer::Entity::find()
        .filter(offer::Column::CleaningId.eq(cleaning.id))
        .find_also_related(user::Entity);
    let rows = page
        .apply(query, offer::Column::CreatedAt, offer::Column::UserId)
        .all(db)
        .await?;
    let key = |(o, _): &(offer::Model, Option<user::Model>)| Cursor {
        created_at: o.created_at,
        id: o.user_id,
    };
    Ok(page.finish(rows, key, OfferResponse::from_pair))
}

/// One offer, by the offerer's username (the cleaning's owner, that
/// offerer, or an admin).
///
/// # Errors
/// 404 when the cleaning is missing; 403 for anyone else; 404 when there is
/// no such offer.
pub async fn get(
    db: &DatabaseConnection,
    actor: &Actor,
    cleaning_id: Uuid,
    username: &str,
) -> Result<OfferResponse, ServiceError> {
    let cleaning = crate::cleanings::find(db, cleaning_id).await?;
    let offerer = user_id_by_username(db, username).await?;
    policy::ensure_may_read_offer(actor, cleaning.owner_id, offerer)?;
    let offer = find_offer(db, cleaning.id, offerer).await?;
    let name = username_of(db, offer.user_id).await?;
    Ok(OfferResponse::new(offer, name))
}

/// Opens the transaction of a move and runs its checks in API.md's order.
async fn begin(
    db: &DatabaseConnection,
    actor: &Actor,
    cleaning_id: Uuid,
    username: &str,
    transition: Transition,
) -> Result<(DatabaseTransaction, offer::Model), ServiceError> {
    let (party, from, _) = transition.rule();
    let txn = db::begin_write(db).await?;
    let cleaning = lock_cleaning(&txn, cleaning_id).await?;
    let offerer = user_id_by_username(&txn, username).await?;
    policy::ensure_offer_party(actor, party, cleaning.owner_id, offerer)?;
    let offer = find_offer(&txn, cleaning.id, offerer).await?;
    let status = OfferStatus::from_db(&offer.status);
    if status != from {
        return Err(ServiceError::conflict(
            "status",
            format!(
                "This offer is {}; only a {} offer can be {}",
                status.as_str(),
                from.as_str(),
                transition.verb()
            ),
        ));
    }
    Ok((txn, offer))
}

/// Moves the offer to the transition's target status.
async fn set_status(
    txn: &DatabaseTransaction,
    offer: offer::Model,
    transition: Transition,
) -> Result<offer::Model, ServiceError> {
    let (_, _, to) = transition.rule();
    let to = to.ok_or_else(|| ServiceError::Internal("set_status on a removing move".into()))?;
    let mut row: offer::ActiveModel = offer.into();
    row.status = Set(to.as_str().to_owned());
    row.auto_rejected = Set(false);
    row.updated_at = Set(time::now());
    row.update(txn)
        .await
        .map_err(|e| race_error(e, "This cleaning already has an accepted offer"))
}

async fn finish(
    db: &DatabaseConnection,
    txn: DatabaseTransaction,
    offer: offer::Model,
) -> Result<OfferResponse, ServiceError> {
    txn.commit().await?;
    let name = username_of(db, offer.user_id).await?;
    Ok(OfferResponse::new(offer, name))
}

/// The owner accepts a pending offer; every other pending offer on the
/// cleaning is rejected, remembered as rejected by this acceptance.
///
/// # Errors
/// 404 cleaning; 403 unless the owner; 404 offer; 409 when the offer is not
/// pending or another offer is already accepted (also when two accepts race).
pub async fn accept(
    db: &DatabaseConnection,
    actor: &Actor,
    cleaning_id: Uuid,
    username: &str,
) -> Result<OfferResponse, ServiceError> {
    let (txn, offer) = begin(db, actor, cleaning_id, username, Transition::Accept).await?;
    if has_accepted(&txn, offer.cleaning_id).await? {
        return Err(ServiceError::conflict(
            "status",
            "This cleaning already has an accepted offer",
        ));
    }
    let now = time::now();
    offer::Entity::update_many()
        .col_expr(
            offer::Column::Status,
            Expr::value(OfferStatus::Rejected.as_str()),
        )
        .col_expr(offer::Column::AutoRejected, Expr::value(true))
        .col_expr(offer::Column::UpdatedAt, Expr::value(now))
        .filter(offer::Column::CleaningId.eq(offer.cleaning_id))
        .filter(offer::Column::UserId.ne(offer.user_id))
        .filter(offer::Column::Status.eq(OfferStatus::Pending.as_str()))
        .exec(&txn)
        .await?;
    let accepted = set_status(&txn, offer, Transition::Accept).await?;
    finish(db, txn, accepted).await
}

/// The owner rejects a pending offer (by hand: a later cancel does not reopen it).
///
/// # Errors
/// 404 cleaning; 403 unless the owner; 404 offer; 409 when not pending.
pub async fn reject(
    db: &DatabaseConnection,
    actor: &Actor,
    cleaning_id: Uuid,
    username: &str,
) -> Result<OfferResponse, ServiceError> {
    let (txn, offer) = begin(db, actor, cleaning_id, username, Transition::Reject).await?;
    let rejected = set_status(&txn, offer, Transition::Reject).await?;
    finish(db, txn, rejected).await
}

/// The offerer cancels an accepted offer; the offers that this acceptance
/// rejected go back to pending (those the owner rejected by hand stay).
///
/// # Errors
/// 404 cleaning; 403 unless the offerer; 404 offer; 409 when not accepted.
pub async fn cancel(
    db: &DatabaseConnection,
    actor: &Actor,
    cleaning_id: Uuid,
    username: &str,
) -> Result<OfferResponse, ServiceError> {
    let (txn, offer) = begin(db, actor, cleaning_id, username, Transition::Cancel).await?;
    let cancelled = set_status(&txn, offer, Transition::Cancel).await?;
    offer::Entity::update_many()
        .col_expr(
            offer::Column::Status,
            Expr::value(OfferStatus::Pending.as_str()),
        )
        .col_expr(offer::Column::AutoRejected, Expr::value(false))
        .col_expr(offer::Column::UpdatedAt, Expr::value(cancelled.updated_at))
        .filter(offer::Column::CleaningId.eq(cancelled.cleaning_id))
        .filter(offer::Column::Status.eq(OfferStatus::Rejected.as_str()))
        .filter(offer::Column::AutoRejected.eq(true))
        .exec(&txn)
        .await?;
    finish(db, txn, cancelled).await
}

/// The offerer withdraws a pending offer: it is removed, and the user may
/// offer again.
///
/// # Errors
/// 404 cleaning; 403 unless the offerer; 404 offer; 409 when not pending.
pub async fn rescind(
    db: &DatabaseConnection,
    actor: &Actor,
    cleaning_id: Uuid,
    username: &str,
) -> Result<(), ServiceError> {
    let (txn, offer) = begin(db, actor, cleaning_id, username, Transition::Rescind).await?;
    offer::Entity::delete_by_id((offer.cleaning_id, offer.user_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}
