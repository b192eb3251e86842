//! Timestamps: stored and returned in UTC with microsecond precision, the
//! precision PostgreSQL keeps, so what a write returns equals what a later
//! read returns (API.md section 1, "Time").

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::Serializer;

/// Now, truncated to whole microseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Renders `2026-11-25T14:51:00.123456Z`: RFC 3339, UTC, `Z`, six fraction digits.
pub fn format(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `serialize_with` for a `DateTime<Utc>` field.
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(at))
}
