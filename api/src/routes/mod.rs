//! Routes, one module per resource. Each handler is declared once: its
//! `#[utoipa::path]` documents it and `utoipa_actix_web` registers it, so the
//! OpenAPI document and the router cannot drift apart. A handler lists its
//! success responses and the errors particular to it (403, 409); the errors
//! that follow from what an operation takes (a body, a query, a path id, a
//! conditional header) are added to the document in one pass
//! (`openapi::finish`).

use std::fmt::Display;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use service::{PageRequest, ServiceError};

use crate::limits::RateLimits;

pub mod accounts;
pub mod api_keys;
pub mod cleanings;
pub mod languages;
pub mod meta;
pub mod offers;
pub mod posts;
pub mod profiles;
pub mod users;

/// Where every resource lives.
pub const API_V1: &str = "/api/v1";

/// The URL path of a resource, `path` being relative to [`API_V1`]
/// (`url(format_args!("/posts/{id}"))`), for `Location` headers.
pub fn url(path: impl Display) -> String {
    format!("{API_V1}{path}")
}

/// Registers every route: `/health` and `/ready` at the root, the resources
/// under `/api/v1`. More specific paths (`/users/me`) come before the
/// parameterised ones (`/users/{id}`) that would also match them.
///
/// The general rate limit covers `/api/v1`; `/health`, `/ready`,
/// `/metrics` and the docs stay outside it, so probes and scrapers are
/// never throttled.
pub fn configure(limits: RateLimits) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.service(meta::metrics);
        cfg.service(meta::health).service(meta::ready).service(
            utoipa_actix_web::scope(API_V1)
                .wrap(crate::limits::middleware(limits.general))
                .configure(accounts::configure(limits.auth))
                .configure(api_keys::configure_mine)
                .configure(api_keys::configure_admin)
                .configure(users::configure)
                .configure(profiles::configure)
                .configure(posts::configure)
                .configure(cleanings::configure)
                .configure(offers::configure)
                .configure(languages::configure),
        );
    }
}

/// `limit` and `cursor`, the query parameters of every list
/// (docs/conventions.md#lists).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20, example = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListParams {
    /// The validated page request.
    ///
    /// # Errors
    /// 422 on `limit` out of range, 400 for a cursor that does not decode.
    pub fn page(&self) -> Result<PageRequest, ServiceError> {
        PageRequest::new(self.limit, self.cursor.as_deref())
    }
}

/// Declares a named page schema for the document (`{data, next_cursor,
/// has_more}` of one item type), so generated SDKs share the item type.
macro_rules! page_schema {
    ($name:ident, $item:ty) => {
        #[doc = concat!("A page of `", stringify!($item), "`: `{data, next_cursor, has_more}`.")]
        #[derive(utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $name {
            /// The items of this page, in the list's order.
            pub data: Vec<$item>,
            /// Pass as `cursor` for the next page; `null` on the last page.
            #[schema(required)]
            pub next_cursor: Option<String>,
            /// Whether another page follows.
            pub has_more: bool,
        }
    };
}
pub(crate) use page_schema;

/// `{"status": "ok"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
}
