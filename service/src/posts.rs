//! Blog posts (API.md section 4): unique slugs among live posts, drafts
//! visible only to their author and admins, full and partial updates, soft
//! delete.

use chrono::{DateTime, Utc};
use entity::{post, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::accounts::{user_id_by_username, username_of};
use crate::validation::{self, double_option, reject_nulls};
use crate::{Actor, Cursor, Page, PageRequest, ServiceError, policy, set_if_changed, time};

/// Longest slug, given or derived.
const SLUG_MAX: usize = 200;

/// `POST /posts` and `PUT /posts/{id}` body. In a PUT, absent optional
/// fields go back to their defaults.
#[derive(Clone, Debug, Deserialize, Validate, ToSchema)]
pub struct PostCreate {
    /// 1–200 characters.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "Hello, world", min_length = 1, max_length = 200)]
    pub title: String,
    /// Lowercase ASCII letters, digits and single hyphens, 1–200. When absent
    /// it is made from the title.
    #[validate(custom(function = "validation::slug"))]
    #[schema(
        example = "hello-world",
        min_length = 1,
        max_length = 200,
        pattern = "^[a-z0-9]+(-[a-z0-9]+)*$"
    )]
    pub slug: Option<String>,
    /// Up to 100 000 characters; may be empty.
    #[validate(length(max = 100_000, message = "must be at most 100000 characters"))]
    #[schema(example = "My first post.", max_length = 100_000)]
    pub body: String,
    /// Default `false` (a draft).
    #[serde(default)]
    #[schema(default = false)]
    pub published: Option<bool>,
}

/// `PATCH /posts/{id}` body: every field optional; absent fields stay as
/// they are; `null` is refused (none of them is nullable).
#[derive(Clone, Debug, Default, Deserialize, Validate, ToSchema)]
pub struct PostUpdate {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 200)]
    pub title: Option<Option<String>>,
    #[validate(custom(function = "validation::slug"))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 200, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: Option<Option<String>>,
    #[validate(length(max = 100_000, message = "must be at most 100000 characters"))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable = false, max_length = 100_000)]
    pub body: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub published: Option<Option<bool>>,
}

/// A post as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PostResponse {
    pub id: Uuid,
    pub title: String,
    pub slug: String,
    pub body: String,
    pub published: bool,
    pub author_id: Uuid,
    pub author_username: String,
    #[serde(serialize_with = "time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl PostResponse {
    fn new(p: post::Model, author_username: String) -> Self {
        Self {
            id: p.id,
            title: p.title,
            slug: p.slug,
            body: p.body,
            published: p.published,
            author_id: p.author_id,
            author_username,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }

    fn from_pair((p, u): (post::Model, Option<user::Model>)) -> Self {
        let name = u.map(|u| u.username).unwrap_or_default();
        Self::new(p, name)
    }
}

/// Makes a slug from a title: lowercased, transliterated to ASCII, every run
/// of other characters one hyphen, trimmed, at most 200 characters.
///
/// # Errors
/// 422 on `title` when nothing is left.
pub fn slug_from_title(title: &str) -> Result<String, ServiceError> {
    let mut slug = slug::slugify(title);
    if slug.len() > SLUG_MAX {
        slug.truncate(SLUG_MAX);
        slug.truncate(slug.trim_end_matches('-').len());
    }
    if slug.is_empty() {
        return Err(ServiceError::invalid(
            "title",
            "slug",
            "must contain a letter or digit to make a slug from; or give a slug",
        ));
    }
    Ok(slug)
}

fn live() -> sea_orm::Select<post::Entity> {
    post::Entity::find().filter(post::Column::DeletedAt.is_null())
}

fn key(pair: &(post::Model, Option<user::Model>)) -> Cursor {
    Cursor {
        created_at: pair.0.created_at,
        id: pair.0.id,
    }
}

fn slug_taken() -> ServiceError {
    ServiceError::conflict("slug", "A post with this slug already exists")
}

/// Maps a write's error: the live-slug unique index gives 409.
fn write_error(err: DbErr) -> ServiceError {
    if crate::error::is_unique_violation(&err) {
        slug_taken()
    } else {
        err.into()
    }
}

/// Creates a post by the actor (API.md section 4).
///
/// # Errors
/// 422 for a broken rule; 409 when the slug, given or derived, belongs to a
/// live post, also when two creates race (the partial unique index decides).
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    input: PostCreate,
) -> Result<PostResponse, ServiceError> {
    validation::validate(&input)?;
    let slug = match input.slug {
        Some(s) => s,
        None => slug_from_title(&input.title)?,
    };
    let now = time::now();
    let row = post::ActiveModel {
        id: Set(Uuid::now_v7()),
        title: Set(input.title),
        slug: Set(slug),
        body: Set(input.body),
        published: Set(input.published.unwrap_or(false)),
        author_id: Set(actor.user_id),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    };
    let saved = row.insert(db).await.map_err(write_error)?;
    let name = username_of(db, saved.author_id).await?;
    Ok(PostResponse::new(saved, name))
}

/// Published posts of everyone, newest first; `author` filters by username
/// (case-insensitively; an unknown author is an empty page).
///
/// # Errors
/// Database errors only.
pub async fn list_published(
    db: &DatabaseConnection,
    author: Option<&str>,
    page: PageRequest,
) -> Result<Page<PostResponse>, ServiceError> {
    let mut query = live().filter(post::Column::Published.eq(true));
    if let Some(author) = author {
        match user_id_by_username(db, author).await? {
            Some(id) => query = query.filter(post::Column::AuthorId.eq(id)),
            None => return Ok(page.finish(Vec::new(), key, PostResponse::from_pair)),
        }
    }
    let rows = page
        .apply(
            query.find_also_related(user::Entity),
            post::Column::CreatedAt,
            post::Column::Id,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows, key, PostResponse::from_pair))
}

/// The actor's own posts, drafts included, newest first.
///
/// # Errors
/// Database errors only.
pub async fn list_mine(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<PostResponse>, ServiceError> {
    let query = live().filter(post::Column::AuthorId.eq(actor.user_id));
    let rows = page
        .apply(
            query.find_also_related(user::Entity),
            post::Column::CreatedAt,
            post::Column::Id,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows, key, PostResponse::from_pair))
}

/// One live post the viewer may see.
async fn find_visible(
    db: &DatabaseConnection,
    viewer: Option<&Actor>,
    condition: sea_orm::sea_query::SimpleExpr,
) -> Result<(post::Model, Option<user::Model>), ServiceError> {
    live()
        .filter(condition)
        .find_also_related(user::Entity)
        .one(db)
        .await?
        .filter(|(p, _)| policy::may_view(viewer, p.author_id, p.published))
        .ok_or_else(|| ServiceError::not_found("Post"))
}

/// Reads a post by id. A draft exists only for its author and admins.
///
/// # Errors
/// 404 when missing, deleted, or someone else's draft.
pub async fn get(
    db: &DatabaseConnection,
    viewer: Option<&Actor>,
    id: Uuid,
) -> Result<PostResponse, ServiceError> {
    find_visible(db, viewer, post::Column::Id.eq(id))
        .await
        .map(PostResponse::from_pair)
}

/// Reads a post by slug, with the same visibility as [`get`].
///
/// # Errors
/// 404 when missing, deleted, or someone else's draft.
pub async fn get_by_slug(
    db: &DatabaseConnection,
    viewer: Option<&Actor>,
    slug: &str,
) -> Result<PostResponse, ServiceError> {
    find_visible(db, viewer, post::Column::Slug.eq(slug))
        .await
        .map(PostResponse::from_pair)
}

/// Loads a post for a write: 404 unless the actor may see it, then 403
/// unless the actor may change it (404 before 403: a draft of someone else
/// does not exist for the caller).
async fn load_for_write(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<(post::Model, String), ServiceError> {
    let (post, author) = find_visible(db, Some(actor), post::Column::Id.eq(id)).await?;
    policy::ensure_may_modify(actor, post.author_id, "post")?;
    Ok((post, author.map(|u| u.username).unwrap_or_default()))
}

/// Saves the changed fields of `row` with a new `updated_at`, or returns the
/// post untouched when nothing changed (API.md section 1: `updated_at`
/// changes only on a write that changes something).
async fn save(
    db: &DatabaseConnection,
    original: post::Model,
    mut row: post::ActiveModel,
    author: String,
) -> Result<PostResponse, ServiceError> {
    if !row.is_changed() {
        return Ok(PostResponse::new(original, author));
    }
    row.updated_at = Set(time::now());
    let saved = row.update(db).await.map_err(write_error)?;
    Ok(PostResponse::new(saved, author))
}

/// Replaces a post (PUT): absent optional fields go back to their defaults,
/// an absent slug is made from the new title.
///
/// # Errors
/// 404 when missing, deleted or someone else's draft; 403 for someone
/// else's published post; 422 for a broken rule; 409 on a slug clash.
pub async fn replace(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: PostCreate,
) -> Result<PostResponse, ServiceError> {
    let (current, author) = load_for_write(db, actor, id).await?;
    validation::validate(&input)?;
    let slug = match input.slug {
        Some(s) => s,
        None => slug_from_title(&input.title)?,
    };
    let mut row: post::ActiveModel = current.clone().into();
    set_if_changed(&mut row.title, &current.title, input.title);
    set_if_changed(&mut row.slug, &current.slug, slug);
    set_if_changed(&mut row.body, &current.body, input.body);
    set_if_changed(
        &mut row.published,
        &current.published,
        input.published.unwrap_or(false),
    );
    save(db, current, row, author).await
}

/// Changes some fields of a post (PATCH): absent fields stay, `null` is 422,
/// `{}` returns the post unchanged.
///
/// # Errors
/// As [`replace`], plus 422 for a `null`.
pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: PostUpdate,
) -> Result<PostResponse, ServiceError> {
    let (current, author) = load_for_write(db, actor, id).await?;
    reject_nulls(&[
        ("body", matches!(input.body, Some(None))),
        ("published", matches!(input.published, Some(None))),
        ("slug", matches!(input.slug, Some(None))),
        ("title", matches!(input.title, Some(None))),
    ])?;
    validation::validate(&input)?;
    let mut row: post::ActiveModel = current.clone().into();
    if let Some(Some(title)) = input.title {
        set_if_changed(&mut row.title, &current.title, title);
    }
    if let Some(Some(slug)) = input.slug {
        set_if_changed(&mut row.slug, &current.slug, slug);
    }
    if let Some(Some(body)) = input.body {
        set_if_changed(&mut row.body, &current.body, body);
    }
    if let Some(Some(published)) = input.published {
        set_if_changed(&mut row.published, &current.published, published);
    }
    save(db, current, row, author).await
}

/// Soft-deletes a post: from then on it is 404 everywhere and its slug is
/// free again.
///
/// # Errors
/// 404 when missing, deleted or someone else's draft; 403 for someone
/// else's published post.
pub async fn delete(db: &DatabaseConnection, actor: &Actor, id: Uuid) -> Result<(), ServiceError> {
    let (current, _) = load_for_write(db, actor, id).await?;
    let now = time::now();
    let mut row: post::ActiveModel = current.into();
    row.deleted_at = Set(Some(now));
    row.updated_at = Set(now);
    row.update(db).await?;
    Ok(())
}
