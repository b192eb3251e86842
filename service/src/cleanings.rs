//! Cleaning jobs (docs/marketplace.md#cleanings): the owner's list, the feed
//! of everyone else's, reads by any user, owner-or-admin writes.

use chrono::{DateTime, Utc};
use entity::cleaning;
pub use entity::cleaning::CleaningType;
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::cache::Table;
use crate::db::Conn;
use crate::pagination::{self, Newest};
use crate::resource::{self, Patch, Precondition, Resource, RowVersion};
use crate::validation::{self, double_option};
use crate::{Actor, Context, Page, PageRequest, ServiceError, money, policy, time};

/// `POST /cleanings` and `PUT /cleanings/{id}` body. In a PUT, absent
/// optional fields go back to their defaults.
#[derive(Clone, Debug, Deserialize, Validate, ToSchema)]
pub struct CleaningCreate {
    /// 1–100 characters.
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[schema(example = "Two-room flat", min_length = 1, max_length = 100)]
    pub name: String,
    /// Up to 2000 characters.
    #[validate(length(max = 2000, message = "must be at most 2000 characters"))]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// 0 to 1 000 000, at most two decimals; a JSON number.
    #[validate(custom(function = "money::validate_price"))]
    #[serde(deserialize_with = "money::deserialize")]
    #[schema(value_type = f64, minimum = 0, maximum = 1_000_000, multiple_of = 0.01, example = 49.5)]
    pub price: Decimal,
    /// Default `spot_clean`.
    #[serde(default)]
    pub cleaning_type: Option<CleaningType>,
}

/// `PATCH /cleanings/{id}` body: absent fields stay; `null` clears
/// `description` and is 422 for the others.
#[derive(Clone, Debug, Default, Deserialize, Validate, ToSchema)]
pub struct CleaningUpdate {
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 100)]
    pub name: Option<Option<String>>,
    #[validate(length(max = 2000, message = "must be at most 2000 characters"))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Option<Option<String>>,
    #[validate(custom(function = "money::validate_price"))]
    #[serde(default, deserialize_with = "money::deserialize_patch")]
    #[schema(value_type = Option<f64>, nullable = false, minimum = 0, maximum = 1_000_000, multiple_of = 0.01)]
    pub price: Option<Option<Decimal>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<CleaningType>, nullable = false)]
    pub cleaning_type: Option<Option<CleaningType>>,
}

/// A PUT is a PATCH that gives every field: an absent description becomes
/// `null`, an absent type `spot_clean`.
impl From<CleaningCreate> for CleaningUpdate {
    fn from(input: CleaningCreate) -> Self {
        Self {
            name: Some(Some(input.name)),
            description: Some(input.description),
            price: Some(Some(input.price)),
            cleaning_type: Some(Some(input.cleaning_type.unwrap_or_default())),
        }
    }
}

/// A cleaning job as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CleaningResponse {
    pub id: Uuid,
    pub name: String,
    #[schema(required)]
    pub description: Option<String>,
    #[serde(serialize_with = "money::serialize")]
    #[schema(value_type = f64, example = 49.5)]
    pub price: Decimal,
    pub cleaning_type: CleaningType,
    pub owner_id: Uuid,
    #[serde(serialize_with = "time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize")]
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub row_version: RowVersion,
}

impl From<cleaning::Model> for CleaningResponse {
    fn from(m: cleaning::Model) -> Self {
        Self {
            row_version: cleaning::Entity::row_version(&m),
            id: m.id,
            name: m.name,
            description: m.description,
            price: money::stored(m.price),
            cleaning_type: m.cleaning_type,
            owner_id: m.owner_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

resource::tagged!(CleaningResponse);

impl Resource for cleaning::Entity {
    const NAME: &'static str = "Cleaning";
    const ID: Option<cleaning::Column> = Some(cleaning::Column::Id);
    const CREATED_AT: cleaning::Column = cleaning::Column::CreatedAt;
    const UPDATED_AT: cleaning::Column = cleaning::Column::UpdatedAt;
    const VERSION: cleaning::Column = cleaning::Column::Version;
    const CACHED: Option<Table> = Some(Table::Cleanings);

    /// The creator (the owner) or an admin.
    fn may_write(actor: &Actor, c: &cleaning::Model) -> Result<(), ServiceError> {
        policy::ensure_may_modify(actor, c.owner_id, "cleaning")
    }

    fn row_version(c: &cleaning::Model) -> RowVersion {
        RowVersion::new(c.id, c.created_at, c.version)
    }
}

fn key(c: &cleaning::Model) -> Newest {
    PageRequest::key(c.created_at, c.id)
}

/// Posts a cleaning job owned by the actor.
///
/// # Errors
/// 422 for a broken rule.
pub async fn create(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    input: CleaningCreate,
) -> Result<CleaningResponse, ServiceError> {
    validation::validate(&input)?;
    let row = cleaning::ActiveModel {
        name: Set(input.name),
        description: Set(input.description),
        price: Set(input.price),
        cleaning_type: Set(input.cleaning_type.unwrap_or_default()),
        owner_id: Set(actor.user_id),
        ..Default::default()
    };
    Ok(resource::insert::<cleaning::Entity>(ctx, conn, row)
        .await?
        .into())
}

/// The actor's own cleanings, newest first.
///
/// # Errors
/// Database errors only.
pub async fn list_mine(
    conn: &impl Conn,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<CleaningResponse>, ServiceError> {
    list(conn, cleaning::Column::OwnerId.eq(actor.user_id), page).await
}

/// Everyone else's cleanings, newest first: where offerers find work. The
/// caller's own never appear.
///
/// # Errors
/// Database errors only.
pub async fn feed(
    conn: &impl Conn,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<CleaningResponse>, ServiceError> {
    list(conn, cleaning::Column::OwnerId.ne(actor.user_id), page).await
}

async fn list(
    conn: &impl Conn,
    owners: sea_orm::sea_query::SimpleExpr,
    page: PageRequest,
) -> Result<Page<CleaningResponse>, ServiceError> {
    let query = page.apply(
        cleaning::Entity::find().filter(owners),
        cleaning::Column::CreatedAt,
        cleaning::Column::Id,
    );
    let rows = pagination::fetch(conn, query.into_model::<cleaning::Model>()).await?;
    Ok(page.finish(rows, key, Into::into))
}

/// Any authenticated user may read any cleaning.
///
/// # Errors
/// 404 when there is none.
pub async fn get(
    ctx: &Context,
    conn: &impl Conn,
    id: Uuid,
) -> Result<CleaningResponse, ServiceError> {
    resource::load_by_id::<cleaning::Entity>(ctx, conn, None, id)
        .await
        .map(Into::into)
}

/// Replaces a cleaning (PUT): an absent description becomes `null`, an
/// absent type `spot_clean`.
///
/// # Errors
/// 404 when missing; 403 unless owner or admin; 412 when the precondition
/// fails; 422 for a broken rule.
pub async fn replace(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    id: Uuid,
    precondition: &Precondition,
    input: CleaningCreate,
) -> Result<CleaningResponse, ServiceError> {
    update(ctx, conn, actor, id, precondition, input.into()).await
}

/// Changes some fields of a cleaning (PATCH): absent fields stay; `null`
/// clears `description` and is 422 for the others.
///
/// # Errors
/// As [`replace`].
pub async fn update(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    id: Uuid,
    precondition: &Precondition,
    input: CleaningUpdate,
) -> Result<CleaningResponse, ServiceError> {
    let current = resource::load_for_write::<cleaning::Entity>(
        conn,
        actor,
        cleaning::Column::Id.eq(id),
        precondition,
    )
    .await?;
    let was = &current.row;
    let stored_price = money::stored(was.price);
    let mut changes = current.edit();
    let mut patch = Patch::checked(&input);
    patch.required(
        "cleaning_type",
        &mut changes.cleaning_type,
        &was.cleaning_type,
        input.cleaning_type,
    );
    patch.nullable(
        &mut changes.description,
        &was.description,
        input.description,
    );
    patch.required("name", &mut changes.name, &was.name, input.name);
    patch.required("price", &mut changes.price, &stored_price, input.price);
    patch.finish()?;
    Ok(resource::save(ctx, conn, current, changes).await?.into())
}

/// Deletes a cleaning; its offers go with it (the foreign key cascades, in
/// the same statement).
///
/// # Errors
/// 404 when missing; 403 unless owner or admin; 412 when the precondition
/// fails.
pub async fn delete(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    id: Uuid,
    precondition: &Precondition,
) -> Result<(), ServiceError> {
    let current = resource::load_for_write::<cleaning::Entity>(
        conn,
        actor,
        cleaning::Column::Id.eq(id),
        precondition,
    )
    .await?;
    resource::remove(ctx, conn, current).await
}
