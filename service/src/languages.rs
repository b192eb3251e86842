//! The programming-languages catalogue (API.md section 6): public reads with
//! year filters, names unique case-insensitively, writes by the creator or an
//! admin, shipped entries (no creator) admin-only, hard delete.
//!
//! The list is ordered by `publication_year`, then `lower(name)`, then `id`,
//! and paged by a keyset cursor over those three keys (see [`LanguageCursor`]).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, Utc};
use entity::language;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, Order,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::pagination::{page_of, validate_limit};
use crate::validation::{self, double_option, reject_nulls};
use crate::{Actor, FieldError, Page, ServiceError, policy, set_if_changed, time};

/// Earliest publication year accepted, and the lowest year filter.
pub const MIN_YEAR: i32 = 1800;

/// The latest publication year accepted: next year by the server's UTC clock.
pub fn max_year() -> i32 {
    Utc::now().year() + 1
}

/// `validator` rule for `publication_year`: [`MIN_YEAR`] to [`max_year`].
fn year_in_range(value: i32) -> Result<(), ValidationError> {
    let max = max_year();
    if (MIN_YEAR..=max).contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::new("range")
            .with_message(format!("must be between {MIN_YEAR} and {max}").into()))
    }
}

/// `POST /languages` and `PUT /languages/{id}` body.
#[derive(Clone, Debug, Deserialize, Validate, ToSchema)]
pub struct LanguageCreate {
    /// 1–100 characters; unique case-insensitively.
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[schema(example = "Smalltalk", min_length = 1, max_length = 100)]
    pub name: String,
    /// 1800 to next year (by the server's UTC clock).
    #[validate(custom(function = "year_in_range"))]
    #[serde(deserialize_with = "validation::integer")]
    #[schema(example = 1972, minimum = 1800)]
    pub publication_year: i32,
    /// What the language brought, 1–500 characters.
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"))]
    #[schema(
        example = "everything is an object, message passing",
        min_length = 1,
        max_length = 500
    )]
    pub contribution: String,
}

/// `PATCH /languages/{id}` body: every field optional; absent fields stay as
/// they are; `null` is refused (none of them is nullable).
#[derive(Clone, Debug, Default, Deserialize, Validate, ToSchema)]
pub struct LanguageUpdate {
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 100)]
    pub name: Option<Option<String>>,
    #[validate(custom(function = "year_in_range"))]
    #[serde(default, deserialize_with = "validation::integer_patch")]
    #[schema(value_type = Option<i32>, nullable = false, minimum = 1800)]
    pub publication_year: Option<Option<i32>>,
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 500)]
    pub contribution: Option<Option<String>>,
}

/// A language as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LanguageResponse {
    pub id: Uuid,
    #[schema(example = "COBOL")]
    pub name: String,
    #[schema(example = 1960)]
    pub publication_year: i32,
    #[schema(example = "record data")]
    pub contribution: String,
    /// The user who created the entry; `null` for the entries the service
    /// ships with.
    #[schema(required)]
    pub created_by: Option<Uuid>,
    #[serde(serialize_with = "time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl From<language::Model> for LanguageResponse {
    fn from(l: language::Model) -> Self {
        Self {
            id: l.id,
            name: l.name,
            publication_year: l.publication_year,
            contribution: l.contribution,
            created_by: l.created_by,
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

/// The year filters of the list: strict bounds, either, both or neither.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct YearFilter {
    /// Keep years `< before_year`.
    pub before_year: Option<i32>,
    /// Keep years `> after_year`.
    pub after_year: Option<i32>,
}

impl YearFilter {
    /// The broken rules: a bound below [`MIN_YEAR`], or `after_year` not
    /// below `before_year` (an inverted or empty-by-construction range).
    fn errors(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (field, value) in [
            ("after_year", self.after_year),
            ("before_year", self.before_year),
        ] {
            if value.is_some_and(|y| y < MIN_YEAR) {
                errors.push(FieldError::new(
                    field,
                    "range",
                    format!("must be at least {MIN_YEAR}"),
                ));
            }
        }
        if let (Some(after), Some(before)) = (self.after_year, self.before_year)
            && after >= before
        {
            errors.push(FieldError::new(
                "after_year",
                "range",
                "must be less than before_year",
            ));
        }
        errors
    }
}

/// Where the next page of the list starts: the last row's sort key. The
/// name is compared as `lower(name)` by the database, on both sides, so the
/// cursor agrees with the order and the unique index whatever `lower` does
/// to non-ASCII letters on each database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageCursor {
    #[serde(rename = "y")]
    pub year: i32,
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl LanguageCursor {
    fn of(l: &language::Model) -> Self {
        Self {
            year: l.publication_year,
            name: l.name.clone(),
            id: l.id,
        }
    }

    /// The opaque string form: base64url of a small JSON object.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parses [`LanguageCursor::encode`]'s output.
    ///
    /// # Errors
    /// 400 ([`ServiceError::BadRequest`]) for anything else.
    pub fn decode(raw: &str) -> Result<Self, ServiceError> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok();
        bytes
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                ServiceError::BadRequest(
                    "The cursor is malformed; use a next_cursor value from a previous page".into(),
                )
            })
    }
}

fn lower_name() -> Expr {
    Func::lower(Expr::col((language::Entity, language::Column::Name))).into()
}

/// Rows strictly after the cursor in the order (year, lower(name), id).
fn after(c: LanguageCursor) -> Condition {
    let year = language::Column::PublicationYear;
    let name = || Expr::from(Func::lower(Expr::val(c.name.clone())));
    Condition::any()
        .add(year.gt(c.year))
        .add(
            Condition::all()
                .add(year.eq(c.year))
                .add(lower_name().gt(name())),
        )
        .add(
            Condition::all()
                .add(year.eq(c.year))
                .add(lower_name().eq(name()))
                .add(language::Column::Id.gt(c.id)),
        )
}

fn name_taken() -> ServiceError {
    ServiceError::conflict("name", "A language with this name already exists")
}

/// Maps a write's error: the `lower(name)` unique index gives 409; a row
/// deleted between reading and writing it is 404.
fn write_error(err: DbErr) -> ServiceError {
    if crate::error::is_unique_violation(&err) {
        name_taken()
    } else if matches!(err, DbErr::RecordNotUpdated) {
        ServiceError::not_found("Language")
    } else {
        err.into()
    }
}

/// Lists languages by `publication_year`, then name case-insensitively, then
/// id, filtered by strict year bounds, one keyset page at a time.
///
/// # Errors
/// 422 for `limit` outside 1–100, a year bound below 1800 or `after_year` not
/// below `before_year` (all broken rules at once); 400 for a cursor that does
/// not decode.
pub async fn list(
    db: &DatabaseConnection,
    filter: YearFilter,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<Page<LanguageResponse>, ServiceError> {
    let mut errors = filter.errors();
    let limit = match validate_limit(limit) {
        Ok(limit) => limit,
        Err(ServiceError::Validation(mut e)) => {
            errors.append(&mut e);
            0
        }
        Err(other) => return Err(other),
    };
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        return Err(ServiceError::Validation(errors));
    }
    let start = cursor
        .filter(|c| !c.is_empty())
        .map(LanguageCursor::decode)
        .transpose()?;

    let mut query = language::Entity::find();
    if let Some(before) = filter.before_year {
        query = query.filter(language::Column::PublicationYear.lt(before));
    }
    if let Some(after_year) = filter.after_year {
        query = query.filter(language::Column::PublicationYear.gt(after_year));
    }
    if let Some(c) = start {
        query = query.filter(after(c));
    }
    let rows = query
        .order_by_asc(language::Column::PublicationYear)
        .order_by(lower_name(), Order::Asc)
        .order_by_asc(language::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    Ok(page_of(
        rows,
        limit,
        |l| LanguageCursor::of(l).encode(),
        LanguageResponse::from,
    ))
}

/// Reads a language by id.
///
/// # Errors
/// 404 when there is no such language (never was, or deleted).
pub async fn get(db: &DatabaseConnection, id: Uuid) -> Result<LanguageResponse, ServiceError> {
    find(db, id).await.map(LanguageResponse::from)
}

async fn find(db: &DatabaseConnection, id: Uuid) -> Result<language::Model, ServiceError> {
    language::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::not_found("Language"))
}

/// Loads a language for a write: 404 when missing, then 403 unless the actor
/// created it or is an admin (shipped entries: admins only).
async fn load_for_write(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<language::Model, ServiceError> {
    let current = find(db, id).await?;
    policy::ensure_may_modify_entry(actor, current.created_by, "language")?;
    Ok(current)
}

/// Creates a language by the actor.
///
/// # Errors
/// 422 for a broken rule; 409 when the name is taken case-insensitively,
/// also when two creates race (the unique index on `lower(name)` decides).
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    input: LanguageCreate,
) -> Result<LanguageResponse, ServiceError> {
    validation::validate(&input)?;
    let now = time::now();
    let row = language::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(input.name),
        publication_year: Set(input.publication_year),
        contribution: Set(input.contribution),
        created_by: Set(Some(actor.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let saved = row.insert(db).await.map_err(write_error)?;
    Ok(saved.into())
}

/// Saves the changed fields of `row` with a new `updated_at`, or returns the
/// language untouched when nothing changed (API.md section 1).
async fn save(
    db: &DatabaseConnection,
    original: language::Model,
    mut row: language::ActiveModel,
) -> Result<LanguageResponse, ServiceError> {
    if !row.is_changed() {
        return Ok(original.into());
    }
    row.updated_at = Set(time::now());
    let saved = row.update(db).await.map_err(write_error)?;
    Ok(saved.into())
}

/// Replaces a language (PUT) with a full body.
///
/// # Errors
/// 404 when missing; 403 unless the actor created it or is an admin (a
/// shipped entry: admins only); 422 for a broken rule; 409 on a name clash.
pub async fn replace(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: LanguageCreate,
) -> Result<LanguageResponse, ServiceError> {
    let current = load_for_write(db, actor, id).await?;
    validation::validate(&input)?;
    let mut row: language::ActiveModel = current.clone().into();
    set_if_changed(&mut row.name, &current.name, input.name);
    set_if_changed(
        &mut row.publication_year,
        &current.publication_year,
        input.publication_year,
    );
    set_if_changed(
        &mut row.contribution,
        &current.contribution,
        input.contribution,
    );
    save(db, current, row).await
}

/// Changes some fields of a language (PATCH): absent fields stay, `null` is
/// 422, `{}` returns the language unchanged.
///
/// # Errors
/// As [`replace`], plus 422 for a `null`.
pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: LanguageUpdate,
) -> Result<LanguageResponse, ServiceError> {
    let current = load_for_write(db, actor, id).await?;
    reject_nulls(&[
        ("contribution", matches!(input.contribution, Some(None))),
        ("name", matches!(input.name, Some(None))),
        (
            "publication_year",
            matches!(input.publication_year, Some(None)),
        ),
    ])?;
    validation::validate(&input)?;
    let mut row: language::ActiveModel = current.clone().into();
    if let Some(Some(name)) = input.name {
        set_if_changed(&mut row.name, &current.name, name);
    }
    if let Some(Some(year)) = input.publication_year {
        set_if_changed(&mut row.publication_year, &current.publication_year, year);
    }
    if let Some(Some(contribution)) = input.contribution {
        set_if_changed(&mut row.contribution, &current.contribution, contribution);
    }
    save(db, current, row).await
}

/// Deletes a language for good. Its id is never reused (UUID v7), so from
/// then on every route answers 404 for it.
///
/// # Errors
/// 404 when missing (also for a second delete, or one that lost a race);
/// 403 unless the actor created it or is an admin (a shipped entry: admins
/// only).
pub async fn delete(db: &DatabaseConnection, actor: &Actor, id: Uuid) -> Result<(), ServiceError> {
    load_for_write(db, actor, id).await?;
    let result = language::Entity::delete_by_id(id).exec(db).await?;
    if result.rows_affected == 0 {
        return Err(ServiceError::not_found("Language"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let c = LanguageCursor {
            year: 1970,
            name: "Pascal".into(),
            id: Uuid::now_v7(),
        };
        assert_eq!(LanguageCursor::decode(&c.encode()).unwrap(), c);
    }

    #[test]
    fn garbage_cursor_is_bad_request() {
        for raw in ["not-a-cursor!", &URL_SAFE_NO_PAD.encode("{\"y\":1}"), ""] {
            assert!(
                matches!(
                    LanguageCursor::decode(raw),
                    Err(ServiceError::BadRequest(_))
                ),
                "{raw}"
            );
        }
    }

    #[test]
    fn year_filter_rules() {
        let f = |after_year, before_year| {
            YearFilter {
                before_year,
                after_year,
            }
            .errors()
        };
        assert!(f(None, None).is_empty());
        assert!(f(Some(1960), Some(1970)).is_empty());
        assert_eq!(f(Some(1970), Some(1970))[0].field, "after_year");
        assert_eq!(f(Some(1971), Some(1970))[0].field, "after_year");
        assert_eq!(f(None, Some(1799))[0].field, "before_year");
    }
}
