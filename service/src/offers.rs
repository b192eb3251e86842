//! Offers on a cleaning (docs/marketplace.md#offers), as an explicit state
//! machine.
//!
//! [`Transition::rule`] is the one place that says which status may go
//! where and which party may move it. Each transition is one function and
//! one write transaction that locks the cleaning row first (`SELECT … FOR
//! UPDATE` on PostgreSQL; on SQLite the `IMMEDIATE` transaction serialises
//! writers), then checks in this order: the cleaning exists (404), the
//! caller is the party (403), the offer exists (404), the `If-Match`
//! precondition (412), the move is allowed (409). The database backs the two
//! invariants on its own: the primary key allows one offer per user per
//! cleaning, and a partial unique index at most one accepted offer per
//! cleaning; a violation of either is a 409 (`error::CONSTRAINTS`).

use chrono::{DateTime, Utc};
pub use entity::offer::OfferStatus;
use entity::{cleaning, offer, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, Set,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::{self, Conn};
use crate::pagination::{self, Newest};
use crate::policy::{self, OfferParty};
use crate::resource::{self, Current, Precondition, Resource, RowVersion};
use crate::{Actor, Context, Page, PageRequest, ServiceError, time, usernames};

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
    #[serde(skip)]
    pub row_version: RowVersion,
}

impl OfferResponse {
    fn new(o: offer::Model, username: String) -> Self {
        Self {
            row_version: offer::Entity::row_version(&o),
            cleaning_id: o.cleaning_id,
            user_id: o.user_id,
            username,
            status: o.status,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }

    fn from_pair((o, u): (offer::Model, Option<user::Model>)) -> Self {
        Self::new(o, u.map(|u| u.username).unwrap_or_default())
    }
}

resource::tagged!(OfferResponse);

impl Resource for offer::Entity {
    const NAME: &'static str = "Offer";
    const ID: Option<offer::Column> = None;
    const CREATED_AT: offer::Column = offer::Column::CreatedAt;
    const UPDATED_AT: offer::Column = offer::Column::UpdatedAt;
    const VERSION: offer::Column = offer::Column::Version;

    /// From the cleaning and the offerer, and the creation time: an offer
    /// made again after it was rescinded is a new resource.
    fn row_version(o: &offer::Model) -> RowVersion {
        RowVersion::of_pair(o.cleaning_id, o.user_id, o.created_at, o.version)
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
    conn: &impl Conn,
    cleaning_id: Uuid,
    user_id: Option<Uuid>,
) -> Result<offer::Model, ServiceError> {
    let Some(user_id) = user_id else {
        return Err(offer_not_found());
    };
    offer::Entity::find_by_id((cleaning_id, user_id))
        .one(conn)
        .await?
        .ok_or_else(offer_not_found)
}

fn already_accepted() -> ServiceError {
    ServiceError::conflict("status", "This cleaning already has an accepted offer")
}

async fn has_accepted(conn: &impl Conn, cleaning_id: Uuid) -> Result<bool, ServiceError> {
    Ok(offer::Entity::find()
        .filter(offer::Column::CleaningId.eq(cleaning_id))
        .filter(offer::Column::Status.eq(OfferStatus::Accepted))
        .count(conn)
        .await?
        > 0)
}

/// Makes an offer by the actor on a cleaning (status `pending`).
///
/// # Errors
/// 404 when the cleaning is missing; 403 for its owner; 409 when the actor
/// already made an offer on it (whatever its status: the primary key
/// decides, also in a race) or it already has an accepted offer.
pub async fn create(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    cleaning_id: Uuid,
) -> Result<OfferResponse, ServiceError> {
    let txn = db::begin_write(conn).await?;
    let cleaning = lock_cleaning(&txn, cleaning_id).await?;
    policy::ensure_may_offer(actor, cleaning.owner_id)?;
    let row = offer::ActiveModel {
        cleaning_id: Set(cleaning.id),
        user_id: Set(actor.user_id),
        status: Set(OfferStatus::Pending),
        auto_rejected: Set(false),
        ..Default::default()
    };
    let saved = resource::insert::<offer::Entity>(ctx, &txn, row).await?;
    if has_accepted(&txn, cleaning.id).await? {
        return Err(already_accepted());
    }
    txn.commit().await?;
    Ok(OfferResponse::new(saved, actor.username.clone()))
}

/// The offers on a cleaning, newest first (its owner, or an admin).
///
/// # Errors
/// 404 when the cleaning is missing; 403 for anyone else.
pub async fn list(
    conn: &impl Conn,
    actor: &Actor,
    cleaning_id: Uuid,
    page: PageRequest,
) -> Result<Page<OfferResponse>, ServiceError> {
    let cleaning =
        resource::load::<cleaning::Entity>(conn, None, cleaning::Column::Id.eq(cleaning_id))
            .await?;
    policy::ensure_may_list_offers(actor, cleaning.owner_id)?;
    let query = offer::Entity::find()
        .filter(offer::Column::CleaningId.eq(cleaning.id))
        .find_also_related(user::Entity);
    let query = page.apply(query, offer::Column::CreatedAt, offer::Column::UserId);
    let rows = pagination::fetch(conn, query.into_model::<offer::Model, user::Model>()).await?;
    let key = |(o, _): &(offer::Model, Option<user::Model>)| -> Newest {
        PageRequest::key(o.created_at, o.user_id)
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
    conn: &impl Conn,
    actor: &Actor,
    cleaning_id: Uuid,
    username: &str,
) -> Result<OfferResponse, ServiceError> {
    let cleaning =
        resource::load::<cleaning::Entity>(conn, None, cleaning::Column::Id.eq(cleaning_id))
            .await?;
    let offerer = usernames::id_of(conn, username).await?;
    policy::ensure_may_read_offer(actor, cleaning.owner_id, offerer)?;
    let offer = find_offer(conn, cleaning.id, offerer).await?;
    let name = usernames::name_of(conn, offer.user_id).await?;
    Ok(OfferResponse::new(offer, name))
}

/// One move, as its caller asked it.
#[derive(Clone, Copy, Debug)]
pub struct Move<'a> {
    pub cleaning_id: Uuid,
    /// The offerer's username, any case.
    pub username: &'a str,
    pub precondition: &'a Precondition,
}

/// Opens the transaction of a move and runs its checks in order.
async fn begin(
    conn: &impl Conn,
    actor: &Actor,
    request: Move<'_>,
    transition: Transition,
) -> Result<(DatabaseTransaction, Current<offer::Entity>), ServiceError> {
    let (party, from, _) = transition.rule();
    let txn = db::begin_write(conn).await?;
    let cleaning = lock_cleaning(&txn, request.cleaning_id).await?;
    let offerer = usernames::id_of(&txn, request.username).await?;
    policy::ensure_offer_party(actor, party, cleaning.owner_id, offerer)?;
    let offer = find_offer(&txn, cleaning.id, offerer).await?;
    let current = resource::writable::<offer::Entity>(offer, Ok(()), request.precondition)?;
    let status = current.row.status;
    if status != from {
        return Err(ServiceError::conflict(
            "status",
            format!(
                "This offer is {}; only a {} offer can be {}",
                status.to_value(),
                from.to_value(),
                transition.verb()
            ),
        ));
    }
    Ok((txn, current))
}

/// Moves the offer to the transition's target status and commits.
async fn finish(
    ctx: &Context,
    txn: DatabaseTransaction,
    current: Current<offer::Entity>,
    transition: Transition,
) -> Result<OfferResponse, ServiceError> {
    let (_, _, to) = transition.rule();
    let to = to.ok_or_else(|| ServiceError::Internal("finish on a removing move".into()))?;
    let mut changes = current.edit();
    changes.status = Set(to);
    changes.auto_rejected = Set(false);
    let moved = resource::save(ctx, &txn, current, changes).await?;
    after(ctx, &txn, &moved, transition).await?;
    let name = usernames::name_of(&txn, moved.user_id).await?;
    txn.commit().await?;
    Ok(OfferResponse::new(moved, name))
}

/// What a move does to the cleaning's other offers: an acceptance rejects
/// every other pending one (remembered as rejected by it); a cancel reopens
/// exactly those. Both bump the touched offers' versions.
async fn after(
    ctx: &Context,
    txn: &DatabaseTransaction,
    moved: &offer::Model,
    transition: Transition,
) -> Result<(), ServiceError> {
    let others = offer::Entity::update_many()
        .filter(offer::Column::CleaningId.eq(moved.cleaning_id))
        .filter(offer::Column::UserId.ne(moved.user_id));
    let update = match transition {
        Transition::Accept => others
            .col_expr(offer::Column::Status, Expr::value(OfferStatus::Rejected))
            .col_expr(offer::Column::AutoRejected, Expr::value(true))
            .filter(offer::Column::Status.eq(OfferStatus::Pending)),
        Transition::Cancel => others
            .col_expr(offer::Column::Status, Expr::value(OfferStatus::Pending))
            .col_expr(offer::Column::AutoRejected, Expr::value(false))
            .filter(offer::Column::Status.eq(OfferStatus::Rejected))
            .filter(offer::Column::AutoRejected.eq(true)),
        Transition::Reject | Transition::Rescind => return Ok(()),
    };
    resource::bump(ctx, update).exec(txn).await?;
    Ok(())
}

/// The owner accepts a pending offer; every other pending offer on the
/// cleaning is rejected, remembered as rejected by this acceptance.
///
/// # Errors
/// 404 cleaning; 403 unless the owner; 404 offer; 412 precondition; 409 when
/// the offer is not pending or another offer is already accepted (also when
/// two accepts race).
pub async fn accept(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    request: Move<'_>,
) -> Result<OfferResponse, ServiceError> {
    let (txn, current) = begin(conn, actor, request, Transition::Accept).await?;
    if has_accepted(&txn, current.row.cleaning_id).await? {
        return Err(already_accepted());
    }
    finish(ctx, txn, current, Transition::Accept).await
}

/// The owner rejects a pending offer (by hand: a later cancel does not reopen it).
///
/// # Errors
/// 404 cleaning; 403 unless the owner; 404 offer; 412 precondition; 409
/// when not pending.
pub async fn reject(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    request: Move<'_>,
) -> Result<OfferResponse, ServiceError> {
    let (txn, current) = begin(conn, actor, request, Transition::Reject).await?;
    finish(ctx, txn, current, Transition::Reject).await
}

/// The offerer cancels an accepted offer; the offers that this acceptance
/// rejected go back to pending (those the owner rejected by hand stay).
///
/// # Errors
/// 404 cleaning; 403 unless the offerer; 404 offer; 412 precondition; 409
/// when not accepted.
pub async fn cancel(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    request: Move<'_>,
) -> Result<OfferResponse, ServiceError> {
    let (txn, current) = begin(conn, actor, request, Transition::Cancel).await?;
    finish(ctx, txn, current, Transition::Cancel).await
}

/// The offerer withdraws a pending offer: it is removed, and the user may
/// offer again.
///
/// # Errors
/// 404 cleaning; 403 unless the offerer; 404 offer; 412 precondition; 409
/// when not pending.
pub async fn rescind(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    request: Move<'_>,
) -> Result<(), ServiceError> {
    let (txn, current) = begin(conn, actor, request, Transition::Rescind).await?;
    resource::remove(ctx, &txn, current).await?;
    txn.commit().await?;
    Ok(())
}
