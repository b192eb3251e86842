//! Conditional requests and caching headers (RFC 9110 §13, RFC 9111 §5.2;
//! docs/conventions.md#conditional-requests).
//!
//! - [`IfMatch`] reads `If-Match` into the service's [`Precondition`], which
//!   the write checks in its own `UPDATE … WHERE version = ?`;
//! - [`IfNoneMatch`] reads `If-None-Match`; [`representation`] answers a
//!   single read with 304 when it matches, else 200 with the `ETag`;
//! - [`written`] answers a PUT, PATCH or offer move with the new `ETag`.
//!
//! A malformed header of either kind is 400: a client that sent a
//! precondition wants it honoured, not silently dropped.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use serde::Serialize;
use service::{ETag, Precondition, Tagged};
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, Required, Type};

use crate::error::ApiError;

/// An entity-tag list as a conditional header holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum TagList {
    /// `*`
    Any,
    /// `"a", W/"b"`: (weak, opaque tag) pairs.
    Tags(Vec<(bool, String)>),
}

/// Parses every value of header `name` (RFC 9110 §8.8.3, §13.1.1): `*`, or a
/// comma-separated list of `"tag"` / `W/"tag"`. `None` when absent.
fn tag_list(req: &HttpRequest, name: HeaderName) -> Result<Option<TagList>, ApiError> {
    let mut values = req.headers().get_all(&name).peekable();
    if values.peek().is_none() {
        return Ok(None);
    }
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "{name} must be * or a list of entity tags, each in double quotes (\"…\" or W/\"…\")"
            ),
        )
    };
    let mut joined = Vec::new();
    for value in values {
        if !joined.is_empty() {
            joined.push(b',');
        }
        joined.extend_from_slice(value.as_bytes());
    }
    parse_tag_list(&joined).map(Some).ok_or_else(bad)
}

fn parse_tag_list(text: &[u8]) -> Option<TagList> {
    let trimmed = text.trim_ascii();
    if trimmed == b"*" {
        return Some(TagList::Any);
    }
    let mut tags = Vec::new();
    let mut rest = trimmed;
    loop {
        rest = rest.trim_ascii_start();
        while let Some(after) = rest.strip_prefix(b",") {
            rest = after.trim_ascii_start();
        }
        if rest.is_empty() {
            break;
        }
        let (weak, after_prefix) = match rest.strip_prefix(b"W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let body = after_prefix.strip_prefix(b"\"")?;
        let end = body.iter().position(|&b| b == b'"')?;
        let opaque = &body[..end];
        // etagc = %x21 / %x23-7E / obs-text
        if !opaque
            .iter()
            .all(|&b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
        {
            return None;
        }
        tags.push((weak, String::from_utf8(opaque.to_vec()).ok()?));
        rest = body[end + 1..].trim_ascii_start();
        if !(rest.is_empty() || rest.starts_with(b",")) {
            return None;
        }
    }
    if tags.is_empty() {
        None
    } else {
        Some(TagList::Tags(tags))
    }
}

/// The `If-Match` precondition of a write. Strong comparison: a weak tag
/// never matches.
#[derive(Clone, Debug, Default)]
pub struct IfMatch(pub Precondition);

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let precondition = tag_list(req, header::IF_MATCH).map(|list| {
            IfMatch(match list {
                None => Precondition::None,
                Some(TagList::Any) => Precondition::Any,
                Some(TagList::Tags(tags)) => Precondition::OneOf(
                    tags.into_iter()
                        .filter(|(weak, _)| !weak)
                        .map(|(_, tag)| ETag::from_opaque(tag))
                        .collect(),
                ),
            })
        });
        std::future::ready(precondition)
    }
}

/// The `If-None-Match` condition of a read. Weak comparison: `W/"x"`
/// matches `"x"`.
#[derive(Clone, Debug, Default)]
pub struct IfNoneMatch(Option<TagList>);

impl IfNoneMatch {
    /// Does the condition match `etag` (weak comparison)? Then the answer
    /// is 304.
    pub fn matches(&self, etag: &ETag) -> bool {
        match &self.0 {
            None => false,
            Some(TagList::Any) => true,
            Some(TagList::Tags(tags)) => tags.iter().any(|(_, tag)| tag == etag.opaque()),
        }
    }
}

impl FromRequest for IfNoneMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(tag_list(req, header::IF_NONE_MATCH).map(IfNoneMatch))
    }
}

/// Who may keep a copy of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Read without credentials: any cache may keep it, revalidating with
    /// the ETag each time (`no-cache`).
    Public,
    /// Read with credentials: only the client's own cache (`private, no-cache`).
    Private,
}

impl Audience {
    /// `Private` when the caller is authenticated.
    pub fn of<T>(caller: Option<T>) -> Self {
        if caller.is_some() {
            Self::Private
        } else {
            Self::Public
        }
    }

    fn cache_control(self) -> &'static str {
        match self {
            Self::Public => "no-cache",
            Self::Private => "private, no-cache",
        }
    }
}

/// A single read: 304 with the `ETag` and no body when `condition` matches
/// the resource's tag, else 200 with the body; `Cache-Control` by `audience`
/// either way.
pub fn representation<T: Serialize + Tagged>(
    condition: &IfNoneMatch,
    audience: Audience,
    resource: T,
) -> HttpResponse {
    let etag = resource.etag();
    let not_modified = condition.matches(&etag);
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag.quoted()))
        .insert_header((header::CACHE_CONTROL, audience.cache_control()));
    if not_modified {
        response.finish()
    } else {
        response.json(resource)
    }
}

/// The answer to a write that returns the resource (PUT, PATCH, an offer
/// move): 200, the new `ETag`, `private, no-cache`.
pub fn written<T: Serialize + Tagged>(resource: T) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, resource.etag().quoted()))
        .insert_header((header::CACHE_CONTROL, Audience::Private.cache_control()))
        .json(resource)
}

/// The `If-Match` header parameter, for `params(…)` in a route's
/// `#[utoipa::path]`.
pub struct IfMatchHeader;

impl IntoParams for IfMatchHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![header_param(
            "If-Match",
            "Write only if the resource's current `ETag` is one of these (strong comparison), \
             or `*` for any; otherwise 412 and nothing changes.",
            TAG_LIST,
        )]
    }
}

/// The `If-None-Match` header parameter.
pub struct IfNoneMatchHeader;

impl IntoParams for IfNoneMatchHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![header_param(
            "If-None-Match",
            "Answer 304 with no body if the resource's current `ETag` is one of these \
             (weak comparison), or for `*`.",
            TAG_LIST,
        )]
    }
}

/// `*`, or a comma-separated list of entity tags (RFC 9110 §8.8.3), as an
/// ECMA-262 pattern.
const TAG_LIST: &str = r#"^(\*|(W/)?"[!#-~]*"([ \t]*,[ \t]*(W/)?"[!#-~]*")*)$"#;

/// An optional string header parameter whose value matches `pattern`.
pub fn header_param(name: &str, description: &str, pattern: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(pattern)),
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[(bool, &str)]) -> Option<TagList> {
        Some(TagList::Tags(
            list.iter().map(|(w, t)| (*w, (*t).to_owned())).collect(),
        ))
    }

    #[test]
    fn entity_tag_lists() {
        assert_eq!(parse_tag_list(b" * "), Some(TagList::Any));
        assert_eq!(parse_tag_list(br#""a""#), tags(&[(false, "a")]));
        assert_eq!(
            parse_tag_list(br#""a", W/"b" ,"c,d""#),
            tags(&[(false, "a"), (true, "b"), (false, "c,d")])
        );
        assert_eq!(parse_tag_list(br#""""#), tags(&[(false, "")]));
        for bad in [
            &b"abc"[..],
            b"\"abc",
            b"W/abc",
            b"",
            b",",
            b"\"a\" \"b\"",
            b"*, \"a\"",
            b"w/\"a\"",
        ] {
            assert_eq!(
                parse_tag_list(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
