//! Keyset ("cursor") pagination (docs/conventions.md#lists).
//!
//! A cursor holds the sort key of the last row of a page, never an offset,
//! so page 10 000 costs what page 1 costs and rows inserted meanwhile neither
//! repeat nor vanish. Every list uses one format: base64url of the key as a
//! JSON array (`[1764600000123456, "0193…"]` for the newest-first lists). It
//! is opaque to clients and carries no permissions: each page is filtered
//! again. The condition "after the cursor" is a row-value comparison,
//! `(created_at, id) < (?, ?)`, which both databases use as an index bound.
//! Every list runs its query through [`fetch`], which writes the page size
//! into the SQL as a literal (see there why).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Value};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, QueryFilter, QueryOrder, QuerySelect, Selector,
    SelectorTrait, Statement,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::ServiceError;

/// Page size when the client gives none.
pub const DEFAULT_LIMIT: u64 = 20;
/// Largest page a client may ask for.
pub const MAX_LIMIT: u64 = 100;

/// The page size of a list: [`DEFAULT_LIMIT`] when absent, else 1..=[`MAX_LIMIT`].
/// Every list checks its `limit` here.
///
/// # Errors
/// 422 ([`ServiceError::Validation`] on `limit`, type `range`) outside 1..=100.
pub fn validate_limit(limit: Option<i64>) -> Result<u64, ServiceError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => Ok(n as u64),
        Some(_) => Err(ServiceError::invalid(
            "limit",
            "range",
            "must be between 1 and 100",
        )),
    }
}

/// The cursor codec: a sort key to the opaque string form and back.
pub struct Cursor;

impl Cursor {
    /// base64url (no padding) of the key as JSON.
    pub fn encode<K: Serialize>(key: &K) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
    }

    /// Parses [`Cursor::encode`]'s output.
    ///
    /// # Errors
    /// [`ServiceError::BadRequest`] for anything else.
    pub fn decode<K: DeserializeOwned>(raw: &str) -> Result<K, ServiceError> {
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| {
                ServiceError::BadRequest(
                    "The cursor is malformed; use a next_cursor value from a previous page".into(),
                )
            })
    }
}

/// The sort key of the newest-first lists: `created_at` (unix microseconds)
/// and `id`.
pub type Newest = (i64, Uuid);

/// A validated page request: `limit` in 1..=100 and the key to start after.
#[derive(Clone, Debug)]
pub struct PageRequest<K = Newest> {
    pub limit: u64,
    pub after: Option<K>,
}

impl<K: DeserializeOwned + Serialize> PageRequest<K> {
    /// Checks the raw query values. `cursor=` (empty) is the first page.
    ///
    /// # Errors
    /// 422 ([`ServiceError::Validation`] on `limit`) when `limit` is outside
    /// 1..=100; 400 ([`ServiceError::BadRequest`]) for a cursor that does not decode.
    pub fn new(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, ServiceError> {
        let limit = validate_limit(limit)?;
        let after = cursor
            .filter(|c| !c.is_empty())
            .map(Cursor::decode)
            .transpose()?;
        Ok(Self { limit, after })
    }

    /// Builds the page from up to `limit + 1` rows in list order (the query
    /// fetched one more to learn `has_more`); `key` gives a row's sort key,
    /// the next page's cursor.
    pub fn finish<R, T>(
        &self,
        mut rows: Vec<R>,
        key: impl Fn(&R) -> K,
        map: impl FnMut(R) -> T,
    ) -> Page<T> {
        let has_more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if has_more {
            rows.last().map(|r| Cursor::encode(&key(r)))
        } else {
            None
        };
        Page {
            data: rows.into_iter().map(map).collect(),
            next_cursor,
            has_more,
        }
    }
}

impl PageRequest<Newest> {
    /// Orders `query` newest first by `(created_at, id)`, starts it after the
    /// cursor, and fetches one row more than the page.
    pub fn apply<Q, C>(&self, query: Q, created_at: C, id: C) -> Q
    where
        Q: QueryFilter + QueryOrder + QuerySelect,
        C: sea_orm::ColumnTrait,
    {
        let (created_at_col, id_col) = (created_at.as_column_ref(), id.as_column_ref());
        let mut query = query
            .order_by_desc(created_at)
            .order_by_desc(id)
            .limit(self.limit + 1);
        if let Some((micros, last_id)) = self.after {
            let at = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default();
            query = query.filter(
                Expr::tuple([Expr::col(created_at_col), Expr::col(id_col)])
                    .lt(Expr::tuple([Expr::value(at), Expr::value(last_id)])),
            );
        }
        query
    }

    /// The newest-first key of a row.
    pub fn key(created_at: DateTime<Utc>, id: Uuid) -> Newest {
        (created_at.timestamp_micros(), id)
    }
}

/// Runs a list query (ending in `LIMIT`, as [`PageRequest::apply`] leaves
/// it) and decodes its rows, with the limit written into the SQL as a
/// literal instead of a bound parameter.
///
/// Why: the driver prepares each statement once per connection, and
/// PostgreSQL then plans each execution for its values, unless a plan for
/// any values (a generic plan) is estimated about as cheap. With `LIMIT $n`
/// the generic plan has to assume 10 % of the table and never wins, so every
/// page was planned afresh (about 60 µs, more for a cursor's row
/// comparison, whose selectivity is estimated from the values). With a
/// literal limit the generic plan wins after five executions and the
/// planner drops out; docs/performance.md has the figures. The limit is a
/// number we validated (1..=101), so writing it into the SQL is safe; a
/// connection caches at most one statement per list and distinct limit.
///
/// # Errors
/// Database errors, and decoding errors for a row that does not fit the
/// selector's model.
pub async fn fetch<S: SelectorTrait>(
    conn: &impl ConnectionTrait,
    selector: Selector<S>,
) -> Result<Vec<S::Item>, DbErr> {
    let statement = inline_limit(selector.into_statement(conn.get_database_backend()));
    conn.query_all_raw(statement)
        .await?
        .into_iter()
        .map(S::from_raw_query_result)
        .collect()
}

/// `… LIMIT $n` (or `LIMIT ?`) with the limit as its last value becomes
/// `… LIMIT 21`. A statement of any other shape is returned as it came.
fn inline_limit(mut statement: Statement) -> Statement {
    let Some(values) = statement.values.as_mut() else {
        return statement;
    };
    let placeholder = match statement.db_backend {
        DbBackend::Postgres => format!(" LIMIT ${}", values.0.len()),
        _ => " LIMIT ?".to_owned(),
    };
    if let (true, Some(Value::BigUnsigned(Some(limit)))) =
        (statement.sql.ends_with(&placeholder), values.0.last())
    {
        let limit = *limit;
        values.0.pop();
        statement
            .sql
            .truncate(statement.sql.len() - placeholder.len());
        statement.sql.push_str(&format!(" LIMIT {limit}"));
    }
    statement
}

/// One page of a list: `{data, next_cursor, has_more}`. Its OpenAPI form
/// is a named schema per item type (`api::routes::page_schema!`).
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    /// The items of this page, in the list's order.
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Whether another page follows.
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let key: Newest = (1_764_600_000_123_456, Uuid::now_v7());
        assert_eq!(
            Cursor::decode::<Newest>(&Cursor::encode(&key)).unwrap(),
            key
        );
        let three = (1970, "Pascal".to_owned(), Uuid::now_v7());
        assert_eq!(
            Cursor::decode::<(i32, String, Uuid)>(&Cursor::encode(&three)).unwrap(),
            three
        );
    }

    /// The SQL a list sends: the limit inline, every other value bound.
    #[test]
    fn fetch_writes_the_limit_into_the_sql() {
        use sea_orm::sea_query::{Alias, Query};
        use sea_orm::{EntityTrait, QueryTrait};
        let page = PageRequest::<Newest> {
            limit: 20,
            after: Some((1_764_600_000_123_456, Uuid::nil())),
        };
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let query = page.apply(
                entity::post::Entity::find(),
                entity::post::Column::CreatedAt,
                entity::post::Column::Id,
            );
            let statement = inline_limit(query.build(backend));
            assert!(statement.sql.ends_with(" LIMIT 21"), "{}", statement.sql);
            assert_eq!(statement.values.unwrap().0.len(), 2, "{backend:?}");
        }
        // Nothing else is touched: no LIMIT, or a LIMIT that is not last.
        let mut no_limit = Query::select();
        no_limit.column(Alias::new("a")).from(Alias::new("t"));
        let statement = DbBackend::Postgres.build(&no_limit);
        assert_eq!(inline_limit(statement.clone()), statement);
        let mut with_offset = no_limit.clone();
        with_offset.limit(5).offset(10);
        let statement = DbBackend::Postgres.build(&with_offset);
        assert_eq!(inline_limit(statement.clone()), statement);
    }

    #[test]
    fn garbage_cursor_is_bad_request() {
        for raw in [
            "not-a-cursor!",
            &URL_SAFE_NO_PAD.encode("1:nope"),
            &URL_SAFE_NO_PAD.encode("[1]"),
            "",
        ] {
            assert!(
                matches!(
                    Cursor::decode::<Newest>(raw),
                    Err(ServiceError::BadRequest(_))
                ),
                "{raw}"
            );
        }
    }
}
