//! Keyset ("cursor") pagination (docs/conventions.md#lists).
//!
//! A cursor holds the sort key of the last row of a page, never an offset,
//! so page 10 000 costs what page 1 costs and rows inserted meanwhile neither
//! repeat nor vanish. Every list uses one format: base64url of the key as a
//! JSON array (`[1764600000123456, "0193…"]` for the newest-first lists). It
//! is opaque to clients and carries no permissions: each page is filtered
//! again. The condition "after the cursor" is a row-value comparison,
//! `(created_at, id) < (?, ?)`, which both databases use as an index bound.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{QueryFilter, QueryOrder, QuerySelect};
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
