//! Keyset ("cursor") pagination, newest first (API.md section 1, "Lists").
//!
//! A cursor encodes the sort key of the last row of a page, `(created_at,
//! id)`, never an offset, so page 10 000 costs what page 1 costs and rows
//! inserted meanwhile neither repeat nor vanish. It is opaque to clients
//! (URL-safe base64) and carries no permissions: each page is filtered again.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use crate::ServiceError;

/// Page size when the client gives none.
pub const DEFAULT_LIMIT: u64 = 20;
/// Largest page a client may ask for.
pub const MAX_LIMIT: u64 = 100;

/// The page size of a list: [`DEFAULT_LIMIT`] when absent, else 1..=[`MAX_LIMIT`]
/// (API.md section 1, "Lists"). Every list checks its `limit` here.
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

/// The position after which the next page starts: the last row's sort key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    /// The opaque string form: base64url of `<unix microseconds>:<uuid>`.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}:{}",
            self.created_at.timestamp_micros(),
            self.id
        ))
    }

    /// Parses [`Cursor::encode`]'s output.
    ///
    /// # Errors
    /// [`ServiceError::BadRequest`] for anything else.
    pub fn decode(raw: &str) -> Result<Self, ServiceError> {
        let bad = || {
            ServiceError::BadRequest(
                "The cursor is malformed; use a next_cursor value from a previous page".into(),
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (micros, id) = text.split_once(':').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        Ok(Self {
            created_at: DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
            id: Uuid::parse_str(id).map_err(|_| bad())?,
        })
    }
}

/// A validated page request: `limit` in 1..=100 and an optional start cursor.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// Checks the raw query values.
    ///
    /// # Errors
    /// 422 ([`ServiceError::Validation`] on `limit`) when `limit` is outside
    /// 1..=100; 400 ([`ServiceError::BadRequest`]) for a cursor that does not decode.
    pub fn new(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, ServiceError> {
        let limit = validate_limit(limit)?;
        // `cursor=` (empty) is no cursor: the first page.
        let after = cursor
            .filter(|c| !c.is_empty())
            .map(Cursor::decode)
            .transpose()?;
        Ok(Self { limit, after })
    }

    /// Orders `query` newest first by `(created_at, id)`, starts it after the
    /// cursor, and fetches one row more than the page to learn `has_more`.
    pub fn apply<Q, C>(&self, query: Q, created_at: C, id: C) -> Q
    where
        Q: QueryFilter + QueryOrder + QuerySelect,
        C: ColumnTrait,
    {
        let mut query = query
            .order_by_desc(created_at)
            .order_by_desc(id)
            .limit(self.limit + 1);
        if let Some(c) = self.after {
            query = query.filter(
                Condition::any().add(created_at.lt(c.created_at)).add(
                    Condition::all()
                        .add(created_at.eq(c.created_at))
                        .add(id.lt(c.id)),
                ),
            );
        }
        query
    }

    /// Cuts the extra row fetched by [`PageRequest::apply`] and builds the page.
    pub fn finish<R, T>(
        &self,
        rows: Vec<R>,
        key: impl Fn(&R) -> Cursor,
        map: impl FnMut(R) -> T,
    ) -> Page<T> {
        page_of(rows, self.limit, |r| key(r).encode(), map)
    }
}

/// Builds a page from up to `limit + 1` rows in list order: the extra row
/// only tells that another page follows; `cursor_of` encodes the last row
/// kept as the next page's start. Every list's pages are cut here, whatever
/// its order.
pub fn page_of<R, T>(
    mut rows: Vec<R>,
    limit: u64,
    cursor_of: impl Fn(&R) -> String,
    map: impl FnMut(R) -> T,
) -> Page<T> {
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if has_more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    Page {
        data: rows.into_iter().map(map).collect(),
        next_cursor,
        has_more,
    }
}

/// One page of a list: `{data, next_cursor, has_more}`. Its OpenAPI form
/// is a named schema per item type (`api::routes::page_schema!`).
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    /// The items of this page, newest first.
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
        let c = Cursor {
            created_at: crate::time::now(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
    }

    #[test]
    fn garbage_cursor_is_bad_request() {
        assert!(matches!(
            Cursor::decode("not-a-cursor!"),
            Err(ServiceError::BadRequest(_))
        ));
        assert!(matches!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode("1:nope")),
            Err(ServiceError::BadRequest(_))
        ));
    }
}
