//! Blog posts (docs/blog.md): unique slugs among live posts, drafts
//! visible only to their author and admins, full and partial updates, soft
//! delete.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::{post, user};
use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, FromQueryResult, QueryFilter, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::cache::{Key, Table};
use crate::db::Conn;
use crate::pagination;
use crate::resource::{self, Current, Patch, Precondition, Resource, RowVersion};
use crate::validation::{self, double_option};
use crate::{Actor, Context, Page, PageRequest, ServiceError, policy, time, usernames};

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
    #[serde(skip)]
    pub row_version: RowVersion,
}

impl PostResponse {
    fn new(p: post::Model, author_username: String) -> Self {
        Self {
            row_version: post::Entity::row_version(&p),
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

    fn from_row(row: PostRow) -> Self {
        Self::new(row.post, row.author_username)
    }

    fn from_list_row(row: PostListRow) -> Self {
        Self {
            row_version: RowVersion::new(row.id, row.created_at, row.version),
            id: row.id,
            title: row.title,
            slug: row.slug,
            body: row.body,
            published: row.published,
            author_id: row.author_id,
            author_username: row.author_username,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

resource::tagged!(PostResponse);

impl Resource for post::Entity {
    const NAME: &'static str = "Post";
    const ID: Option<post::Column> = Some(post::Column::Id);
    const CREATED_AT: post::Column = post::Column::CreatedAt;
    const UPDATED_AT: post::Column = post::Column::UpdatedAt;
    const VERSION: post::Column = post::Column::Version;
    const CACHED: Option<Table> = Some(Table::Posts);

    /// A soft-deleted post is gone for everyone, on every route.
    fn live() -> Condition {
        Condition::all().add(post::Column::DeletedAt.is_null())
    }

    /// A draft exists only for its author and admins.
    fn visible_to(viewer: Option<&Actor>, p: &post::Model) -> bool {
        policy::may_view(viewer, p.author_id, p.published)
    }

    /// The author or an admin.
    fn may_write(actor: &Actor, p: &post::Model) -> Result<(), ServiceError> {
        policy::ensure_may_modify(actor, p.author_id, "post")
    }

    fn row_version(p: &post::Model) -> RowVersion {
        RowVersion::new(p.id, p.created_at, p.version)
    }

    /// By id and by slug.
    fn cache_keys(p: &post::Model) -> Option<Vec<Key>> {
        Some(vec![
            Key::Row(Table::Posts, p.id),
            Key::Name(Table::Posts, p.slug.clone()),
        ])
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

/// A post and its author's name: what every read of posts returns, from one
/// query that joins the author and selects only the name of it.
#[derive(Clone, Debug, FromQueryResult)]
struct PostRow {
    #[sea_orm(nested)]
    post: post::Model,
    author_username: String,
}

/// A row of a page of posts: what the response shows, and the version for
/// its tag. The same query as [`PostRow`]'s, read without the whole
/// `post::Model`: every row of a page is live, and SeaORM reads a NULL
/// `deleted_at` by formatting an error message that it then drops, a
/// string per row that a page of 20 paid for 20 times.
#[derive(Clone, Debug, FromQueryResult)]
struct PostListRow {
    id: Uuid,
    title: String,
    slug: String,
    body: String,
    published: bool,
    author_id: Uuid,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i32,
    author_username: String,
}

/// The live posts, each with its author's name.
///
/// The name is a correlated subquery, not a join: with `posts` alone in
/// `FROM`, SQLite's planner walks the list's ordering index and stops after a
/// page. Given a join, it may put `users` first (one user, say, per its
/// statistics) and then sort every post by that author, which made page 1
/// of 100 000 posts take over a second. PostgreSQL runs it as one index
/// probe per row of the page either way.
fn live() -> sea_orm::Select<post::Entity> {
    let author_username = Query::select()
        .column(user::Column::Username)
        .from(user::Entity)
        .and_where(
            Expr::col((user::Entity, user::Column::Id))
                .equals((post::Entity, post::Column::AuthorId)),
        )
        .to_owned();
    post::Entity::find().filter(post::Entity::live()).column_as(
        Expr::SubQuery(None, Box::new(author_username.into())),
        "author_username",
    )
}

fn key(row: &PostListRow) -> pagination::Newest {
    PageRequest::key(row.created_at, row.id)
}

/// Creates a post by the actor.
///
/// # Errors
/// 422 for a broken rule; 409 when the slug, given or derived, belongs to a
/// live post, also when two creates race (the partial unique index decides).
pub async fn create(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    input: PostCreate,
) -> Result<PostResponse, ServiceError> {
    validation::validate(&input)?;
    let slug = match input.slug {
        Some(s) => s,
        None => slug_from_title(&input.title)?,
    };
    let row = post::ActiveModel {
        title: Set(input.title),
        slug: Set(slug),
        body: Set(input.body),
        published: Set(input.published.unwrap_or(false)),
        author_id: Set(actor.user_id),
        deleted_at: Set(None),
        ..Default::default()
    };
    let saved = resource::insert::<post::Entity>(ctx, conn, row).await?;
    Ok(PostResponse::new(saved, actor.username.clone()))
}

/// Published posts of everyone, newest first; `author` filters by username
/// (case-insensitively; an unknown author is an empty page).
///
/// # Errors
/// Database errors only.
pub async fn list_published(
    ctx: &Context,
    conn: &impl Conn,
    author: Option<&str>,
    page: PageRequest,
) -> Result<Page<PostResponse>, ServiceError> {
    if page.after.is_some() {
        return published(conn, author, page).await;
    }
    // The first page, by everyone or by one author, is cached
    // (docs/conventions.md#server-side-cache).
    let query = match author {
        Some(author) => format!("limit={}&author={}", page.limit, author.to_lowercase()),
        None => format!("limit={}", page.limit),
    };
    ctx.cache
        .read_value(
            Key::List(Table::Posts, query),
            published(conn, author, page),
        )
        .await
}

/// A page of [`list_published`], from the database.
async fn published(
    conn: &impl Conn,
    author: Option<&str>,
    page: PageRequest,
) -> Result<Page<PostResponse>, ServiceError> {
    let author_id = match author {
        Some(author) => match usernames::id_of(conn, author).await? {
            Some(id) => Some(id),
            None => return Ok(page.finish(Vec::new(), key, PostResponse::from_list_row)),
        },
        None => None,
    };
    let rows = pagination::fetch(
        conn,
        published_page(author_id, &page).into_model::<PostListRow>(),
    )
    .await?;
    Ok(page.finish(rows, key, PostResponse::from_list_row))
}

/// The query of one page of published posts, by one author or by all.
fn published_page(author_id: Option<Uuid>, page: &PageRequest) -> sea_orm::Select<post::Entity> {
    // The bare column, not `published = ?`: only a condition that names it
    // lets SQLite use the partial index on published posts.
    let mut query = live().filter(Expr::col((post::Entity, post::Column::Published)));
    if let Some(id) = author_id {
        query = query.filter(post::Column::AuthorId.eq(id));
    }
    page.apply(query, post::Column::CreatedAt, post::Column::Id)
}

/// The actor's own posts, drafts included, newest first.
///
/// # Errors
/// Database errors only.
pub async fn list_mine(
    conn: &impl Conn,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<PostResponse>, ServiceError> {
    let query = live().filter(post::Column::AuthorId.eq(actor.user_id));
    let query = page.apply(query, post::Column::CreatedAt, post::Column::Id);
    let rows = pagination::fetch(conn, query.into_model::<PostListRow>()).await?;
    Ok(page.finish(rows, key, PostResponse::from_list_row))
}

/// One live post the viewer may see, with its author's username (one query).
async fn find(
    conn: &impl Conn,
    viewer: Option<&Actor>,
    condition: sea_orm::sea_query::SimpleExpr,
) -> Result<(post::Model, String), ServiceError> {
    let found = live()
        .filter(condition)
        .into_model::<PostRow>()
        .one(conn)
        .await?;
    let row = resource::visible::<post::Entity, _>(viewer, found, |r| &r.post)?;
    Ok((row.post, row.author_username))
}

/// [`find`] through the cache, under `key`: for reads, never for writes.
/// Visibility is checked on every read, cached or not.
async fn read(
    ctx: &Context,
    conn: &impl Conn,
    viewer: Option<&Actor>,
    key: Key,
    condition: sea_orm::sea_query::SimpleExpr,
) -> Result<PostResponse, ServiceError> {
    let fill = async {
        Ok(live()
            .filter(condition)
            .into_model::<PostRow>()
            .one(conn)
            .await?)
    };
    let found = ctx.cache.read(key, fill).await?;
    let row = resource::visible::<post::Entity, _>(viewer, found, |r| &r.post)?;
    Ok(PostResponse::from_row(Arc::unwrap_or_clone(row)))
}

/// Reads a post by id. A draft exists only for its author and admins.
///
/// # Errors
/// 404 when missing, deleted, or someone else's draft.
pub async fn get(
    ctx: &Context,
    conn: &impl Conn,
    viewer: Option<&Actor>,
    id: Uuid,
) -> Result<PostResponse, ServiceError> {
    let key = Key::Row(Table::Posts, id);
    read(ctx, conn, viewer, key, post::Column::Id.eq(id)).await
}

/// Reads a post by slug, with the same visibility as [`get`].
///
/// # Errors
/// 404 when missing, deleted, or someone else's draft.
pub async fn get_by_slug(
    ctx: &Context,
    conn: &impl Conn,
    viewer: Option<&Actor>,
    slug: &str,
) -> Result<PostResponse, ServiceError> {
    let key = Key::Name(Table::Posts, slug.to_owned());
    read(ctx, conn, viewer, key, post::Column::Slug.eq(slug)).await
}

/// A post the actor may change: 404 unless the actor may see it (a draft of
/// someone else does not exist for them), 403 unless author or admin, 412
/// unless the precondition holds.
async fn load_for_write(
    conn: &impl Conn,
    actor: &Actor,
    id: Uuid,
    precondition: &Precondition,
) -> Result<(Current<post::Entity>, String), ServiceError> {
    let (post, author) = find(conn, Some(actor), post::Column::Id.eq(id)).await?;
    let verdict = post::Entity::may_write(actor, &post);
    Ok((resource::writable(post, verdict, precondition)?, author))
}

/// Replaces a post (PUT): absent optional fields go back to their defaults,
/// an absent slug is made from the new title.
///
/// # Errors
/// 404 when missing, deleted or someone else's draft; 403 for someone
/// else's published post; 412 when the precondition fails; 422 for a broken
/// rule; 409 on a slug clash.
pub async fn replace(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    id: Uuid,
    precondition: &Precondition,
    input: PostCreate,
) -> Result<PostResponse, ServiceError> {
    let target = load_for_write(conn, actor, id, precondition).await?;
    validation::validate(&input)?;
    let slug = match input.slug {
        Some(s) => s,
        None => slug_from_title(&input.title)?,
    };
    let full = PostUpdate {
        title: Some(Some(input.title)),
        slug: Some(Some(slug)),
        body: Some(Some(input.body)),
        published: Some(Some(input.published.unwrap_or(false))),
    };
    apply(ctx, conn, target, full).await
}

/// Changes some fields of a post (PATCH): absent fields stay, `null` is 422,
/// `{}` returns the post unchanged.
///
/// # Errors
/// As [`replace`].
pub async fn update(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    id: Uuid,
    precondition: &Precondition,
    input: PostUpdate,
) -> Result<PostResponse, ServiceError> {
    let target = load_for_write(conn, actor, id, precondition).await?;
    apply(ctx, conn, target, input).await
}

async fn apply(
    ctx: &Context,
    conn: &impl Conn,
    (current, author): (Current<post::Entity>, String),
    input: PostUpdate,
) -> Result<PostResponse, ServiceError> {
    let was = &current.row;
    let mut changes = current.edit();
    let mut patch = Patch::checked(&input);
    patch.required("body", &mut changes.body, &was.body, input.body);
    patch.required(
        "published",
        &mut changes.published,
        &was.published,
        input.published,
    );
    patch.required("slug", &mut changes.slug, &was.slug, input.slug);
    patch.required("title", &mut changes.title, &was.title, input.title);
    patch.finish()?;
    let saved = resource::save(ctx, conn, current, changes).await?;
    Ok(PostResponse::new(saved, author))
}

/// Soft-deletes a post: from then on it is 404 everywhere and its slug is
/// free again.
///
/// # Errors
/// 404 when missing, deleted or someone else's draft; 403 for someone
/// else's published post; 412 when the precondition fails.
pub async fn delete(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    id: Uuid,
    precondition: &Precondition,
) -> Result<(), ServiceError> {
    let (current, _) = load_for_write(conn, actor, id, precondition).await?;
    let mut changes = current.edit();
    changes.deleted_at = Set(Some(ctx.clock.now()));
    resource::save(ctx, conn, current, changes).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};
    use sea_orm_migration::MigratorTrait;

    use super::*;
    use crate::db::{self, PoolSettings};

    /// The plan SQLite picks for `query`, one line per step.
    async fn plan(
        db: &sea_orm::DatabaseConnection,
        query: sea_orm::Select<post::Entity>,
    ) -> String {
        let stmt = query.build(DbBackend::Sqlite);
        let explain = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!("EXPLAIN QUERY PLAN {}", stmt.sql),
            stmt.values.map(|v| v.0).unwrap_or_default(),
        );
        let rows = db.query_all_raw(explain).await.unwrap();
        rows.iter()
            .map(|r| r.try_get::<String>("", "detail").unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Pages of the public list walk the ordering index and stop after a
    /// page, on statistics that once made SQLite sort every post instead
    /// (one author, thousands of posts): no temporary B-tree, no scan of
    /// `posts` without an index, on the first page and on a deep one.
    #[tokio::test]
    async fn published_pages_walk_the_ordering_index_on_sqlite() {
        let db = db::connect("sqlite::memory:", &PoolSettings::default())
            .await
            .unwrap();
        migration::Migrator::up(&db, None).await.unwrap();
        let author = Uuid::now_v7();
        db.execute_unprepared(&format!(
            "INSERT INTO users (id, username, email, password_hash, created_at, updated_at) \
             VALUES (x'{}', 'author', 'author@example.com', 'x', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) \
             INSERT INTO posts (id, title, slug, body, published, author_id, created_at, updated_at) \
             SELECT randomblob(16), 'Post ' || i, 'post-' || i, 'Body', 1, x'{}', \
                    strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || i || ' seconds'), '2026-01-01T00:00:00Z' \
             FROM n; \
             ANALYZE;",
            author.simple(),
            author.simple(),
        ))
        .await
        .unwrap();
        let first = PageRequest::new(Some(20), None).unwrap();
        let deep = PageRequest {
            limit: 20,
            after: Some(PageRequest::key(Utc::now(), Uuid::now_v7())),
        };
        for (name, page) in [("first", &first), ("deep", &deep)] {
            for author_id in [None, Some(author)] {
                let plan = plan(&db, published_page(author_id, page)).await;
                assert!(
                    !plan.contains("TEMP B-TREE")
                        && !plan.contains("SCAN posts\n")
                        && !plan.ends_with("SCAN posts"),
                    "{name} page (author {author_id:?}) sorts or scans every post:\n{plan}"
                );
            }
        }
    }
}
