//! Cleaning jobs (API.md section 5): the owner's list, the feed of everyone
//! else's, reads by any user, owner-or-admin writes.

use chrono::{DateTime, Utc};
use entity::{cleaning, offer};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::validation::{self, double_option, reject_nulls};
use crate::{Actor, Cursor, Page, PageRequest, ServiceError, money, policy, set_if_changed, time};

/// What kind of cleaning a job is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CleaningType {
    DustUp,
    #[default]
    SpotClean,
    FullClean,
}

impl CleaningType {
    /// The stored form, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DustUp => "dust_up",
            Self::SpotClean => "spot_clean",
            Self::FullClean => "full_clean",
        }
    }

    fn from_db(value: &str) -> Self {
        match value {
            "dust_up" => Self::DustUp,
            "full_clean" => Self::FullClean,
            _ => Self::SpotClean,
        }
    }
}

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
}

impl From<cleaning::Model> for CleaningResponse {
    fn from(m: cleaning::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            description: m.description,
            // SQLite keeps NUMERIC as a REAL: exact for two decimals up to a
            // million, and rounding puts back the cents.
            price: m.price.round_dp(2),
            cleaning_type: CleaningType::from_db(&m.cleaning_type),
            owner_id: m.owner_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

fn key(c: &cleaning::Model) -> Cursor {
    Cursor {
        created_at: c.created_at,
        id: c.id,
    }
}

/// Posts a cleaning job owned by the actor.
///
/// # Errors
/// 422 for a broken rule.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    input: CleaningCreate,
) -> Result<CleaningResponse, ServiceError> {
    validation::validate(&input)?;
    let now = time::now();
    let row = cleaning::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(input.name),
        description: Set(input.description),
        price: Set(input.price),
        cleaning_type: Set(input.cleaning_type.unwrap_or_default().as_str().to_owned()),
        owner_id: Set(actor.user_id),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(row.insert(db).await?.into())
}

/// The actor's own cleanings, newest first.
///
/// # Errors
/// Database errors only.
pub async fn list_mine(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<CleaningResponse>, ServiceError> {
    let query = cleaning::Entity::find().filter(cleaning::Column::OwnerId.eq(actor.user_id));
    let rows = page
        .apply(query, cleaning::Column::CreatedAt, cleaning::Column::Id)
        .all(db)
        .await?;
    Ok(page.finish(rows, key, Into::into))
}

/// Everyone else's cleanings, newest first: where offerers find work. The
/// caller's own never appear.
///
/// # Errors
/// Database errors only.
pub async fn feed(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<CleaningResponse>, ServiceError> {
    let query = cleaning::Entity::find().filter(cleaning::Column::OwnerId.ne(actor.user_id));
    let rows = page
        .apply(query, cleaning::Column::CreatedAt, cleaning::Column::Id)
        .all(db)
        .await?;
    Ok(page.finish(rows, key, Into::into))
}

/// Loads a cleaning.
///
/// # Errors
/// 404 when there is none.
pub(crate) async fn find(
    db: &impl sea_orm::ConnectionTrait,
    id: Uuid,
) -> Result<cleaning::Model, ServiceError> {
    cleaning::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::not_found("Cleaning"))
}

/// Any authenticated user may read any cleaning.
///
/// # Errors
/// 404 when there is none.
pub async fn get(db: &DatabaseConnection, id: Uuid) -> Result<CleaningResponse, ServiceError> {
    find(db, id).await.map(Into::into)
}

async fn load_for_write(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<cleaning::Model, ServiceError> {
    let current = find(db, id).await?;
    policy::ensure_may_modify(actor, current.owner_id, "cleaning")?;
    Ok(current)
}

async fn save(
    db: &DatabaseConnection,
    current: cleaning::Model,
    mut row: cleaning::ActiveModel,
) -> Result<CleaningResponse, ServiceError> {
    if !row.is_changed() {
        return Ok(current.into());
    }
    row.updated_at = Set(time::now());
    Ok(row.update(db).await?.into())
}

/// Replaces a cleaning (PUT): an absent description becomes `null`, an
/// absent type `spot_clean`.
///
/// # Errors
/// 404 when missing; 403 unless owner or admin; 422 for a broken rule.
pub async fn replace(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: CleaningCreate,
) -> Result<CleaningResponse, ServiceError> {
    let current = load_for_write(db, actor, id).await?;
    validation::validate(&input)?;
    let mut row: cleaning::ActiveModel = current.clone().into();
    set_if_changed(&mut row.name, &current.name, input.name);
    set_if_changed(
        &mut row.description,
        &current.description,
        input.description,
    );
    set_if_changed(&mut row.price, &current.price.round_dp(2), input.price);
    let kind = input.cleaning_type.unwrap_or_default().as_str().to_owned();
    set_if_changed(&mut row.cleaning_type, &current.cleaning_type, kind);
    save(db, current, row).await
}

/// Changes some fields of a cleaning (PATCH).
///
/// # Errors
/// 404 when missing; 403 unless owner or admin; 422 for a broken rule or a
/// `null` in a field that cannot be null.
pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: CleaningUpdate,
) -> Result<CleaningResponse, ServiceError> {
    let current = load_for_write(db, actor, id).await?;
    reject_nulls(&[
        ("cleaning_type", matches!(input.cleaning_type, Some(None))),
        ("name", matches!(input.name, Some(None))),
        ("price", matches!(input.price, Some(None))),
    ])?;
    validation::validate(&input)?;
    let mut row: cleaning::ActiveModel = current.clone().into();
    if let Some(Some(name)) = input.name {
        set_if_changed(&mut row.name, &current.name, name);
    }
    if let Some(description) = input.description {
        set_if_changed(&mut row.description, &current.description, description);
    }
    if let Some(Some(price)) = input.price {
        set_if_changed(&mut row.price, &current.price.round_dp(2), price);
    }
    if let Some(Some(kind)) = input.cleaning_type {
        set_if_changed(
            &mut row.cleaning_type,
            &current.cleaning_type,
            kind.as_str().to_owned(),
        );
    }
    save(db, current, row).await
}

/// Deletes a cleaning and its offers, in one transaction.
///
/// # Errors
/// 404 when missing; 403 unless owner or admin.
pub async fn delete(db: &DatabaseConnection, actor: &Actor, id: Uuid) -> Result<(), ServiceError> {
    let current = load_for_write(db, actor, id).await?;
    let txn = db.begin().await?;
    offer::Entity::delete_many()
        .filter(offer::Column::CleaningId.eq(current.id))
        .exec(&txn)
        .await?;
    cleaning::Entity::delete_by_id(current.id)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}
