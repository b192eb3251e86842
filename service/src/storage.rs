//! Where uploaded files live (docs/accounts.md#avatars): a folder on local
//! disk or an S3-compatible bucket, behind one `object_store::ObjectStore`,
//! so every instance serves every file when they share a bucket.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt as _, PutPayload, RetryConfig,
};

use tracing::Instrument as _;

use crate::ServiceError;

/// File storage: put, get and delete whole objects by key.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    description: String,
    /// `file` or `s3`, for the spans.
    backend: &'static str,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

/// Marks `span` failed and passes `error` on.
fn failed(span: &tracing::Span, error: ServiceError) -> ServiceError {
    span.record("otel.status_code", "ERROR");
    error
}

fn unavailable(what: &str, e: object_store::Error) -> ServiceError {
    tracing::warn!(error = %e, "file storage: {what} failed");
    ServiceError::StorageUnavailable(format!("File storage is unavailable ({what})"))
}

impl Storage {
    /// Opens the storage `url` names:
    ///
    /// - `file://<folder>` (`file://./data/uploads`, relative to the working
    ///   directory, or `file:///var/lib/…`): the folder is created;
    /// - `s3://<bucket>[/<prefix>]`: credentials, region and endpoint from
    ///   the usual `AWS_*` variables (`AWS_ACCESS_KEY_ID`,
    ///   `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, and
    ///   `AWS_ALLOW_HTTP=true` for a local server without TLS). Calls give
    ///   up after about 5 s (2 s to connect, 2 retries), so an outage is a
    ///   quick 503.
    ///
    /// # Errors
    /// [`ServiceError::Internal`] for another scheme, a folder that cannot
    /// be made, or an S3 configuration the client refuses.
    pub fn open(url: &str) -> Result<Self, ServiceError> {
        let bad = |e: String| ServiceError::Internal(format!("STORAGE_URL {url:?}: {e}"));
        if let Some(folder) = url.strip_prefix("file://") {
            std::fs::create_dir_all(folder).map_err(|e| bad(e.to_string()))?;
            let local = LocalFileSystem::new_with_prefix(folder).map_err(|e| bad(e.to_string()))?;
            return Ok(Self {
                store: Arc::new(local),
                description: format!("files in {folder}"),
                backend: "file",
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket".into()));
            }
            // An outage must answer 503 in seconds, not after object_store's
            // default of ten retries over three minutes.
            let client = ClientOptions::new()
                .with_connect_timeout(Duration::from_secs(2))
                .with_timeout(Duration::from_secs(10));
            let retry = RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 2,
                retry_timeout: Duration::from_secs(5),
            };
            let mut builder = AmazonS3Builder::from_env()
                .with_client_options(client)
                .with_retry(retry)
                .with_bucket_name(bucket);
            if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
                builder = builder.with_endpoint(endpoint);
            }
            if std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
                builder = builder.with_allow_http(true);
            }
            let s3 = builder.build().map_err(|e| bad(e.to_string()))?;
            let prefix = prefix.trim_matches('/');
            let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(PrefixStore::new(s3, prefix))
            };
            return Ok(Self {
                store,
                description: format!("S3 bucket {bucket}, prefix {prefix:?}"),
                backend: "s3",
            });
        }
        Err(bad("the scheme must be file:// or s3://".into()))
    }

    /// Where files go, for the start-up log.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Stores `bytes` under `key` (replacing what was there: keys name
    /// their content, so it is the same).
    ///
    /// # Errors
    /// [`ServiceError::StorageUnavailable`] (503) when the storage fails.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), ServiceError> {
        let span = self.span("put", key);
        self.store
            .put(&Path::from(key), PutPayload::from_bytes(bytes))
            .instrument(span.clone())
            .await
            .map(|_| ())
            .map_err(|e| failed(&span, unavailable("storing a file", e)))
    }

    /// The object under `key`, or `None` when there is none.
    ///
    /// # Errors
    /// [`ServiceError::StorageUnavailable`] (503) when the storage fails.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, ServiceError> {
        let span = self.span("get", key);
        let read = async {
            match self.store.get(&Path::from(key)).await {
                Ok(found) => found.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        };
        read.instrument(span.clone())
            .await
            .map_err(|e| failed(&span, unavailable("reading a file", e)))
    }

    /// Deletes the object under `key`; a missing one is fine.
    ///
    /// # Errors
    /// [`ServiceError::StorageUnavailable`] (503) when the storage fails.
    pub async fn delete(&self, key: &str) -> Result<(), ServiceError> {
        let span = self.span("delete", key);
        match self
            .store
            .delete(&Path::from(key))
            .instrument(span.clone())
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(failed(&span, unavailable("deleting a file", e))),
        }
    }

    /// A client span for one call (docs/observability.md), or none while
    /// tracing is off.
    fn span(&self, operation: &'static str, key: &str) -> tracing::Span {
        if !crate::tracecontext::enabled() {
            return tracing::Span::none();
        }
        tracing::info_span!(
            "storage",
            otel.name = format!("storage {operation}"),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            storage.system = self.backend,
            storage.operation = operation,
            storage.key = key,
        )
    }
}
