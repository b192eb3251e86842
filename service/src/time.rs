//! Timestamps as the API writes them (docs/conventions.md#time). They are
//! made by the service's clock ([`crate::Clock`]), in whole microseconds.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// Renders `2026-11-25T14:51:00.123456Z`: RFC 3339, UTC, `Z`, six fraction digits.
pub fn format(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `serialize_with` for a `DateTime<Utc>` field.
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(at))
}

/// `serialize_with` for an `Option<DateTime<Utc>>` field: the timestamp, or `null`.
pub fn serialize_option<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => s.serialize_str(&format(at)),
        None => s.serialize_none(),
    }
}
