//! The programming-languages catalogue (docs/catalogue.md): public reads
//! with year filters, names unique case-insensitively, writes by the creator
//! or an admin, shipped entries (no creator) admin-only, hard delete.
//!
//! The list is ordered by `publication_year`, then `lower(name)`, then `id`,
//! and paged by a keyset cursor over those three keys.

use chrono::{DateTime, Datelike, Utc};
use entity::language;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::cache::{Key, Table};
use crate::db::Conn;
use crate::pagination;
use crate::resource::{self, Patch, Precondition, Resource, RowVersion};
use crate::validation::{self, double_option};
use crate::{Actor, Context, FieldError, Page, PageRequest, ServiceError, policy, time};

/// Earliest publication year accepted, and the lowest year filter.
pub const MIN_YEAR: i32 = 1800;

/// The latest publication year accepted at `now`: next year, UTC.
pub fn max_year(now: DateTime<Utc>) -> i32 {
    now.year() + 1
}

/// `publication_year` must lie in [`MIN_YEAR`]..=[`max_year`] by the
/// service's clock.
fn year_rule(ctx: &Context, year: Option<i32>) -> Option<FieldError> {
    let max = max_year(ctx.clock.now());
    year.filter(|y| !(MIN_YEAR..=max).contains(y)).map(|_| {
        FieldError::new(
            "publication_year",
            "range",
            format!("must be between {MIN_YEAR} and {max}"),
        )
    })
}

/// `POST /languages` and `PUT /languages/{id}` body.
#[derive(Clone, Debug, Deserialize, Validate, ToSchema)]
pub struct LanguageCreate {
    /// 1–100 characters; unique case-insensitively.
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[schema(example = "Smalltalk", min_length = 1, max_length = 100)]
    pub name: String,
    /// 1800 to next year (by the server's UTC clock).
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
    #[serde(default, deserialize_with = "validation::integer_patch")]
    #[schema(value_type = Option<i32>, nullable = false, minimum = 1800)]
    pub publication_year: Option<Option<i32>>,
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 500)]
    pub contribution: Option<Option<String>>,
}

/// A PUT is a PATCH that gives every field.
impl From<LanguageCreate> for LanguageUpdate {
    fn from(input: LanguageCreate) -> Self {
        Self {
            name: Some(Some(input.name)),
            publication_year: Some(Some(input.publication_year)),
            contribution: Some(Some(input.contribution)),
        }
    }
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
    #[serde(skip)]
    pub row_version: RowVersion,
}

impl From<language::Model> for LanguageResponse {
    fn from(l: language::Model) -> Self {
        Self {
            row_version: language::Entity::row_version(&l),
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

resource::tagged!(LanguageResponse);

impl Resource for language::Entity {
    const NAME: &'static str = "Language";
    const ID: Option<language::Column> = Some(language::Column::Id);
    const CREATED_AT: language::Column = language::Column::CreatedAt;
    const UPDATED_AT: language::Column = language::Column::UpdatedAt;
    const VERSION: language::Column = language::Column::Version;
    const CACHED: Option<Table> = Some(Table::Languages);

    /// The creator (a shipped entry: admins only) or an admin.
    fn may_write(actor: &Actor, l: &language::Model) -> Result<(), ServiceError> {
        policy::ensure_may_modify_entry(actor, l.created_by, "language")
    }

    fn row_version(l: &language::Model) -> RowVersion {
        RowVersion::new(l.id, l.created_at, l.version)
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

/// The list's sort key: year, name (compared as `lower(name)` by the
/// database, on both sides, so the cursor agrees with the order and the
/// unique index whatever `lower` does to non-ASCII letters), id.
pub type LanguageKey = (i32, String, Uuid);

fn key(l: &language::Model) -> LanguageKey {
    (l.publication_year, l.name.clone(), l.id)
}

fn lower_name() -> Expr {
    Func::lower(Expr::col((language::Entity, language::Column::Name))).into()
}

/// Rows strictly after the cursor in the order (year, lower(name), id): a
/// row-value comparison, an index bound on both databases.
fn after((year, name, id): LanguageKey) -> Expr {
    Expr::tuple([
        Expr::col((language::Entity, language::Column::PublicationYear)),
        lower_name(),
        Expr::col((language::Entity, language::Column::Id)),
    ])
    .gt(Expr::tuple([
        Expr::value(year),
        Func::lower(Expr::value(name)).into(),
        Expr::value(id),
    ]))
}

/// Lists languages by `publication_year`, then name case-insensitively, then
/// id, filtered by strict year bounds, one keyset page at a time.
///
/// # Errors
/// 422 for `limit` outside 1–100, a year bound below 1800 or `after_year` not
/// below `before_year` (all broken rules at once); 400 for a cursor that does
/// not decode.
pub async fn list(
    ctx: &Context,
    conn: &impl Conn,
    filter: YearFilter,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<Page<LanguageResponse>, ServiceError> {
    let mut errors = filter.errors();
    let page = match PageRequest::<LanguageKey>::new(limit, cursor) {
        Ok(page) => Some(page),
        Err(ServiceError::Validation(mut e)) => {
            errors.append(&mut e);
            None
        }
        Err(other) => return Err(other),
    };
    let Some(page) = page.filter(|_| errors.is_empty()) else {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        return Err(ServiceError::Validation(errors));
    };

    if page.after.is_some() {
        return list_page(conn, filter, page).await;
    }
    // The first page of each filter is cached (docs/conventions.md#server-side-cache).
    let key = Key::List(
        Table::Languages,
        format!(
            "limit={}&after_year={:?}&before_year={:?}",
            page.limit, filter.after_year, filter.before_year
        ),
    );
    ctx.cache
        .read_value(key, list_page(conn, filter, page))
        .await
}

/// One page of [`list`], from the database.
async fn list_page(
    conn: &impl Conn,
    filter: YearFilter,
    page: PageRequest<LanguageKey>,
) -> Result<Page<LanguageResponse>, ServiceError> {
    let mut query = language::Entity::find();
    if let Some(before) = filter.before_year {
        query = query.filter(language::Column::PublicationYear.lt(before));
    }
    if let Some(after_year) = filter.after_year {
        query = query.filter(language::Column::PublicationYear.gt(after_year));
    }
    if let Some(start) = page.after.clone() {
        query = query.filter(after(start));
    }
    let query = query
        .order_by_asc(language::Column::PublicationYear)
        .order_by(lower_name(), Order::Asc)
        .order_by_asc(language::Column::Id)
        .limit(page.limit + 1);
    let rows = pagination::fetch(conn, query.into_model::<language::Model>()).await?;
    Ok(page.finish(rows, key, LanguageResponse::from))
}

/// Reads a language by id.
///
/// # Errors
/// 404 when there is no such language (never was, or deleted).
pub async fn get(
    ctx: &Context,
    conn: &impl Conn,
    id: Uuid,
) -> Result<LanguageResponse, ServiceError> {
    resource::load_by_id::<language::Entity>(ctx, conn, None, id)
        .await
        .map(Into::into)
}

/// Creates a language by the actor.
///
/// # Errors
/// 422 for a broken rule; 409 when the name is taken case-insensitively,
/// also when two creates race (the unique index on `lower(name)` decides).
pub async fn create(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    input: LanguageCreate,
) -> Result<LanguageResponse, ServiceError> {
    let mut patch = Patch::checked(&input);
    patch.rule(year_rule(ctx, Some(input.publication_year)));
    patch.finish()?;
    let row = language::ActiveModel {
        name: Set(input.name),
        publication_year: Set(input.publication_year),
        contribution: Set(input.contribution),
        created_by: Set(Some(actor.user_id)),
        ..Default::default()
    };
    Ok(resource::insert::<language::Entity>(ctx, conn, row)
        .await?
        .into())
}

/// Replaces a language (PUT) with a full body.
///
/// # Errors
/// 404 when missing; 403 unless the actor created it or is an admin (a
/// shipped entry: admins only); 412 when the precondition fails; 422 for a
/// broken rule; 409 on a name clash.
pub async fn replace(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    id: Uuid,
    precondition: &Precondition,
    input: LanguageCreate,
) -> Result<LanguageResponse, ServiceError> {
    update(ctx, conn, actor, id, precondition, input.into()).await
}

/// Changes some fields of a language (PATCH): absent fields stay, `null` is
/// 422, `{}` returns the language unchanged.
///
/// # Errors
/// As [`replace`].
pub async fn update(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    id: Uuid,
    precondition: &Precondition,
    input: LanguageUpdate,
) -> Result<LanguageResponse, ServiceError> {
    let current = resource::load_for_write::<language::Entity>(
        conn,
        actor,
        language::Column::Id.eq(id),
        precondition,
    )
    .await?;
    let was = &current.row;
    let mut changes = current.edit();
    let mut patch = Patch::checked(&input);
    patch.rule(year_rule(ctx, input.publication_year.flatten()));
    patch.required(
        "contribution",
        &mut changes.contribution,
        &was.contribution,
        input.contribution,
    );
    patch.required("name", &mut changes.name, &was.name, input.name);
    patch.required(
        "publication_year",
        &mut changes.publication_year,
        &was.publication_year,
        input.publication_year,
    );
    patch.finish()?;
    Ok(resource::save(ctx, conn, current, changes).await?.into())
}

/// Deletes a language for good. Its id is never reused (UUID v7), so from
/// then on every route answers 404 for it.
///
/// # Errors
/// 404 when missing (also for a second delete, or one that lost a race);
/// 403 unless the actor created it or is an admin (a shipped entry: admins
/// only); 412 when the precondition fails.
pub async fn delete(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    id: Uuid,
    precondition: &Precondition,
) -> Result<(), ServiceError> {
    let current = resource::load_for_write::<language::Entity>(
        conn,
        actor,
        language::Column::Id.eq(id),
        precondition,
    )
    .await?;
    resource::remove(ctx, conn, current).await
}

#[cfg(test)]
mod tests {
    use super::*;

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
