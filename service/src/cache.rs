//! The server-side cache (docs/conventions.md#server-side-cache): rows read
//! by id or by name, and the first page of each public list, kept in
//! process memory by [`moka`] (size-bounded, least recently used out first,
//! each entry for at most the TTL).
//!
//! # Freshness
//! Every write drops what it changed before it answers:
//!
//! - a row's entries by key ([`Key::Row`], [`Key::Name`]), given by the
//!   resource ([`crate::resource::Resource::cache_keys`]), for the row as it
//!   was and as it is;
//! - every list page of the row's table, by moving the table's *write
//!   count*: a page is stored with the count it was read under and is a
//!   miss once the count has moved;
//! - every entry of a table whose cached rows embed the written one (a
//!   post carries its author's username), by moving that table's *epoch*.
//!
//! A read that fills an entry notes the counts that guard it before it asks
//! the database and stores its answer only if they have not moved since,
//! then checks them once more after storing (and takes the entry back if
//! they moved). So a read that raced a write never leaves the old version
//! behind.
//!
//! A write inside a transaction drops before its commit, when a concurrent
//! read may still see the old row. The HTTP layer therefore runs each
//! request that writes inside [`collect`] and hands what it dropped to
//! [`Cache::settle`] once the handler has answered (its transaction
//! committed): the drops run again, and only then go to the other instances.
//!
//! # Several instances
//! [`Cache::set_publisher`] gives the channel a bridge sends the drops on
//! (Redis pub/sub, in the HTTP crate); [`Cache::apply`] takes another
//! instance's drops. While the bridge is not subscribed, [`Cache::suspend`]
//! empties the cache and reads go to the database; [`Cache::resume`] empties
//! it once more (messages may have been missed) and caches again.
//!
//! # Metrics
//! `cache_hits_total`, `cache_misses_total` and `cache_evictions_total`
//! (evicted for size or age, not dropped by a write), by `kind`
//! ([`Kind::label`]); `cache_drops_published_total` and
//! `cache_drops_received_total`, the drops sent to and applied from the
//! other instances.

use std::any::Any;
use std::future::Future;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::notification::RemovalCause;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;
use uuid::Uuid;

use crate::ServiceError;

/// Hits, by `kind`.
pub const HITS: &str = "cache_hits_total";
/// Misses (the database answered), by `kind`.
pub const MISSES: &str = "cache_misses_total";
/// Entries evicted for size or age, by `kind`.
pub const EVICTIONS: &str = "cache_evictions_total";
/// Drops this instance sent to the others (published on Redis).
pub const DROPS_PUBLISHED: &str = "cache_drops_published_total";
/// Drops from other instances this instance applied. Summed over a
/// cluster, it grows by (instances - 1) for each drop published while
/// every instance is subscribed.
pub const DROPS_RECEIVED: &str = "cache_drops_received_total";

/// A table with cached rows or pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Posts,
    Cleanings,
    Languages,
    Profiles,
    Users,
}

impl Table {
    const ALL: [Table; 5] = [
        Table::Posts,
        Table::Cleanings,
        Table::Languages,
        Table::Profiles,
        Table::Users,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// What an entry holds, for the metrics' `kind` label: a table's rows or its
/// list pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Row(Table),
    List(Table),
}

impl Kind {
    /// `post`, `cleaning`, `language`, `profile`, `user`, `post_list`,
    /// `language_list`, …
    pub fn label(self) -> &'static str {
        match self {
            Kind::Row(Table::Posts) => "post",
            Kind::Row(Table::Cleanings) => "cleaning",
            Kind::Row(Table::Languages) => "language",
            Kind::Row(Table::Profiles) => "profile",
            Kind::Row(Table::Users) => "user",
            Kind::List(Table::Posts) => "post_list",
            Kind::List(Table::Cleanings) => "cleaning_list",
            Kind::List(Table::Languages) => "language_list",
            Kind::List(Table::Profiles) => "profile_list",
            Kind::List(Table::Users) => "user_list",
        }
    }
}

/// A cache key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// A row by its id.
    Row(Table, Uuid),
    /// A row by a unique name (a post's slug, a profile's username in
    /// lowercase).
    Name(Table, String),
    /// The first page of a list, by its query (limit and filters, in a fixed
    /// order).
    List(Table, String),
}

impl Key {
    fn table(&self) -> Table {
        match self {
            Key::Row(t, _) | Key::Name(t, _) | Key::List(t, _) => *t,
        }
    }

    /// The metrics' kind of this key.
    pub fn kind(&self) -> Kind {
        match self {
            Key::List(t, _) => Kind::List(*t),
            Key::Row(t, _) | Key::Name(t, _) => Kind::Row(*t),
        }
    }
}

/// What one write dropped: the row keys of one table, whether its lists
/// went with them (always, for a write), and whether the whole table went.
/// The message the instances exchange (as JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalidation {
    /// The instance that wrote (so it skips its own message).
    pub origin: Uuid,
    pub table: Table,
    /// The row entries dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<Key>,
    /// Every entry of the table dropped, not only these rows.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
}

/// One entry: the value, and the count it is valid under (the table's
/// epoch for a row, its write count for a list page).
#[derive(Clone)]
struct Entry {
    count: u64,
    value: Arc<dyn Any + Send + Sync>,
}

/// The guards of one table.
#[derive(Default)]
struct TableCounts {
    /// Moves when every entry of the table is dropped.
    epoch: AtomicU64,
    /// Moves on every write to the table (its list pages are then stale).
    writes: AtomicU64,
}

/// Stripes of write counts for row keys: a fill of a row is guarded by its
/// key's stripe, so writes to other rows (mostly) do not stop it.
const STRIPES: usize = 64;

struct Inner {
    entries: moka::sync::Cache<Key, Entry>,
    tables: [TableCounts; Table::ALL.len()],
    stripes: [AtomicU64; STRIPES],
    /// Set while drops from other instances may be missed: nothing is read
    /// from or stored in the cache.
    suspended: AtomicBool,
    publisher: Mutex<Option<UnboundedSender<Invalidation>>>,
    origin: Uuid,
}

/// The cache, or no cache (`CACHE_TTL=0`). Cheap to clone: clones share it.
#[derive(Clone, Default)]
pub struct Cache(Option<Arc<Inner>>);

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Cache(off)"),
            Some(inner) => f
                .debug_struct("Cache")
                .field("entries", &inner.entries.entry_count())
                .field("suspended", &inner.suspended.load(Ordering::Relaxed))
                .finish(),
        }
    }
}

impl Cache {
    /// A cache of at most `max_entries` entries, each kept at most `ttl`;
    /// off (every read goes to the database) when either is zero.
    pub fn new(ttl: Duration, max_entries: u64) -> Self {
        if ttl.is_zero() || max_entries == 0 {
            return Self::off();
        }
        let entries = moka::sync::Cache::builder()
            .max_capacity(max_entries)
            .time_to_live(ttl)
            .eviction_listener(|key: Arc<Key>, _, cause| {
                if matches!(cause, RemovalCause::Size | RemovalCause::Expired) {
                    metrics::counter!(EVICTIONS, "kind" => key.kind().label()).increment(1);
                }
            })
            .build();
        // Every series from zero, so a dashboard sees the kinds before the
        // first hit, miss or eviction.
        let lists = [Kind::List(Table::Posts), Kind::List(Table::Languages)];
        for kind in Table::ALL.map(Kind::Row).into_iter().chain(lists) {
            for name in [HITS, MISSES, EVICTIONS] {
                metrics::counter!(name, "kind" => kind.label()).increment(0);
            }
        }
        metrics::counter!(DROPS_PUBLISHED).increment(0);
        metrics::counter!(DROPS_RECEIVED).increment(0);
        Self(Some(Arc::new(Inner {
            entries,
            tables: Default::default(),
            stripes: [const { AtomicU64::new(0) }; STRIPES],
            suspended: AtomicBool::new(false),
            publisher: Mutex::new(None),
            origin: Uuid::new_v4(),
        })))
    }

    /// No cache: reads go to the database, drops do nothing.
    pub fn off() -> Self {
        Self(None)
    }

    /// Whether the cache is on (it may still be suspended).
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Whether an entry is held under `key` (stale or not).
    pub fn contains(&self, key: &Key) -> bool {
        self.0.as_ref().is_some_and(|c| c.entries.contains_key(key))
    }

    /// The value under `key`, or what `fill` reads from the database (then
    /// stored, unless a write to what guards the key happened meanwhile).
    /// `None` from `fill` (no such row) is not stored.
    ///
    /// # Errors
    /// `fill`'s error.
    pub async fn read<T, F>(&self, key: Key, fill: F) -> Result<Option<Arc<T>>, ServiceError>
    where
        T: Send + Sync + 'static,
        F: Future<Output = Result<Option<T>, ServiceError>>,
    {
        let Some(inner) = self
            .0
            .as_ref()
            .filter(|c| !c.suspended.load(Ordering::Acquire))
        else {
            return Ok(fill.await?.map(Arc::new));
        };
        let kind = key.kind().label();
        let valid = inner.valid_count(&key);
        if let Some(entry) = inner.entries.get(&key) {
            if entry.count == valid
                && let Ok(value) = entry.value.downcast::<T>()
            {
                metrics::counter!(HITS, "kind" => kind).increment(1);
                return Ok(Some(value));
            }
            inner.entries.invalidate(&key);
        }
        metrics::counter!(MISSES, "kind" => kind).increment(1);
        let guard = inner.guard(&key);
        let Some(value) = fill.await?.map(Arc::new) else {
            return Ok(None);
        };
        if inner.guard(&key) == guard && !inner.suspended.load(Ordering::Acquire) {
            let entry = Entry {
                count: valid,
                value: value.clone(),
            };
            inner.entries.insert(key.clone(), entry);
            // A write that moved the guard between the check and the
            // insert dropped before the entry existed: take it back.
            if inner.guard(&key) != guard || inner.suspended.load(Ordering::Acquire) {
                inner.entries.invalidate(&key);
            }
        }
        Ok(Some(value))
    }

    /// [`Cache::read`] for a fill that always has an answer (a list page),
    /// handed back owned: copied only when the cache keeps it too.
    ///
    /// # Errors
    /// `fill`'s error.
    pub async fn read_value<T, F>(&self, key: Key, fill: F) -> Result<T, ServiceError>
    where
        T: Clone + Send + Sync + 'static,
        F: Future<Output = Result<T, ServiceError>>,
    {
        self.read(key, async { fill.await.map(Some) })
            .await?
            .map(Arc::unwrap_or_clone)
            .ok_or_else(|| ServiceError::Internal("a list's cache fill gave nothing".into()))
    }

    /// Drops `keys` of `table` and the table's list pages (a write changed
    /// those rows); with `all`, every entry of the table. Inside
    /// [`collect`], also noted for [`Cache::settle`]; outside it, sent to the
    /// other instances at once.
    pub fn drop_rows(&self, table: Table, keys: Vec<Key>, all: bool) {
        let Some(inner) = &self.0 else { return };
        let invalidation = Invalidation {
            origin: inner.origin,
            table,
            keys,
            all,
        };
        inner.apply(&invalidation);
        let noted = PENDING
            .try_with(|pending| {
                pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(invalidation.clone())
            })
            .is_ok();
        if !noted {
            inner.publish(invalidation);
        }
    }

    /// After a request's writes committed: drops again what they dropped
    /// (a read that ran before the commit may have stored the old row) and
    /// sends it to the other instances.
    pub fn settle(&self, dropped: Vec<Invalidation>) {
        let Some(inner) = &self.0 else { return };
        for invalidation in dropped {
            inner.apply(&invalidation);
            inner.publish(invalidation);
        }
    }

    /// Another instance's drops. Its own are skipped.
    pub fn apply(&self, invalidation: &Invalidation) {
        if let Some(inner) = &self.0
            && invalidation.origin != inner.origin
        {
            inner.apply(invalidation);
            metrics::counter!(DROPS_RECEIVED).increment(1);
        }
    }

    /// Where drops go for the other instances (a bridge publishes them).
    pub fn set_publisher(&self, publisher: UnboundedSender<Invalidation>) {
        if let Some(inner) = &self.0 {
            *inner.publisher.lock().unwrap_or_else(|e| e.into_inner()) = Some(publisher);
        }
    }

    /// Drops from other instances may be missed from now on (their channel
    /// is down, or not up yet): empty the cache and read from the database
    /// until [`Cache::resume`].
    pub fn suspend(&self) {
        if let Some(inner) = &self.0 {
            inner.suspended.store(true, Ordering::Release);
            inner.clear();
        }
    }

    /// Drops from other instances arrive again: empty the cache once more
    /// (some may have been missed while suspended) and cache again.
    pub fn resume(&self) {
        if let Some(inner) = &self.0 {
            inner.clear();
            inner.suspended.store(false, Ordering::Release);
        }
    }

    /// Whether reads bypass the cache because drops may be missed.
    pub fn is_suspended(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|c| c.suspended.load(Ordering::Acquire))
    }
}

impl Inner {
    fn counts(&self, table: Table) -> &TableCounts {
        &self.tables[table.index()]
    }

    fn stripe(&self, key: &Key) -> &AtomicU64 {
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        &self.stripes[(hash as usize) % STRIPES]
    }

    /// The count an entry under `key` must carry to be served.
    fn valid_count(&self, key: &Key) -> u64 {
        let counts = self.counts(key.table());
        match key {
            Key::List(..) => counts.writes.load(Ordering::Acquire),
            _ => counts.epoch.load(Ordering::Acquire),
        }
    }

    /// What a write to what `key` holds moves: for a row, its stripe and the
    /// table's epoch; for a list, the table's write count.
    fn guard(&self, key: &Key) -> (u64, u64) {
        let counts = self.counts(key.table());
        match key {
            Key::List(..) => (counts.writes.load(Ordering::Acquire), 0),
            _ => (
                self.stripe(key).load(Ordering::Acquire),
                counts.epoch.load(Ordering::Acquire),
            ),
        }
    }

    fn apply(&self, invalidation: &Invalidation) {
        let counts = self.counts(invalidation.table);
        // The counts move first: a fill that checks them after this point
        // does not store; one that stored before is dropped below.
        counts.writes.fetch_add(1, Ordering::AcqRel);
        if invalidation.all {
            counts.epoch.fetch_add(1, Ordering::AcqRel);
        }
        // Every count before any entry: a read that misses because an entry
        // below is gone fills under the final counts, so its (fresh) answer
        // is stored. Moved key by key, a fill could start after the first
        // key's drop and see a later key's count move (the same key twice,
        // or two keys in one stripe), and the next read would miss again.
        for key in &invalidation.keys {
            self.stripe(key).fetch_add(1, Ordering::AcqRel);
        }
        for key in &invalidation.keys {
            self.entries.invalidate(key);
        }
    }

    fn clear(&self) {
        for table in Table::ALL {
            let counts = self.counts(table);
            counts.writes.fetch_add(1, Ordering::AcqRel);
            counts.epoch.fetch_add(1, Ordering::AcqRel);
        }
        self.entries.invalidate_all();
    }

    fn publish(&self, invalidation: Invalidation) {
        if let Some(publisher) = &*self.publisher.lock().unwrap_or_else(|e| e.into_inner()) {
            // A closed channel means the bridge is gone: nothing to tell.
            let _ = publisher.send(invalidation);
        }
    }
}

tokio::task_local! {
    static PENDING: Arc<Mutex<Vec<Invalidation>>>;
}

/// Runs `request` noting every drop it makes; returns its output and the
/// drops, for [`Cache::settle`] once the request's writes have committed.
pub async fn collect<F: Future>(request: F) -> (F::Output, Vec<Invalidation>) {
    let pending = Arc::new(Mutex::new(Vec::new()));
    let output = PENDING.scope(pending.clone(), request).await;
    let dropped = std::mem::take(&mut *pending.lock().unwrap_or_else(|e| e.into_inner()));
    (output, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> Cache {
        Cache::new(Duration::from_secs(60), 100)
    }

    async fn read(cache: &Cache, key: &Key, value: u32) -> u32 {
        *cache
            .read(key.clone(), async move { Ok(Some(value)) })
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn a_read_is_served_until_its_row_is_dropped() {
        let cache = cache();
        let key = Key::Row(Table::Posts, Uuid::now_v7());
        assert_eq!(read(&cache, &key, 1).await, 1);
        assert_eq!(read(&cache, &key, 2).await, 1, "the second read is a hit");
        cache.drop_rows(Table::Posts, vec![key.clone()], false);
        assert_eq!(read(&cache, &key, 3).await, 3);
    }

    #[tokio::test]
    async fn any_write_to_a_table_drops_its_lists_but_not_its_other_rows() {
        let cache = cache();
        let list = Key::List(Table::Languages, "limit=20".into());
        let row = Key::Row(Table::Languages, Uuid::now_v7());
        read(&cache, &list, 1).await;
        read(&cache, &row, 1).await;
        cache.drop_rows(
            Table::Languages,
            vec![Key::Row(Table::Languages, Uuid::now_v7())],
            false,
        );
        assert_eq!(read(&cache, &list, 2).await, 2);
        assert_eq!(read(&cache, &row, 2).await, 1);
        cache.drop_rows(Table::Languages, vec![], true);
        assert_eq!(read(&cache, &row, 3).await, 3);
    }

    #[tokio::test]
    async fn a_read_that_raced_a_write_is_not_stored() {
        let cache = cache();
        let key = Key::Row(Table::Users, Uuid::now_v7());
        let racing = cache.clone();
        let dropped = key.clone();
        let old = cache
            .read(key.clone(), async move {
                // The write lands while the database answers the old row.
                racing.drop_rows(Table::Users, vec![dropped], false);
                Ok(Some(1u32))
            })
            .await
            .unwrap();
        assert_eq!(old.as_deref(), Some(&1));
        assert_eq!(read(&cache, &key, 2).await, 2, "the old row was not kept");
    }

    #[tokio::test]
    async fn suspended_the_cache_stores_nothing_and_resumes_empty() {
        let cache = cache();
        let key = Key::Name(Table::Profiles, "ada".into());
        read(&cache, &key, 1).await;
        cache.suspend();
        assert_eq!(read(&cache, &key, 2).await, 2);
        assert_eq!(read(&cache, &key, 3).await, 3);
        cache.resume();
        assert_eq!(read(&cache, &key, 4).await, 4);
        assert_eq!(read(&cache, &key, 5).await, 4);
    }

    #[tokio::test]
    async fn drops_in_a_request_are_collected_and_published_when_settled() {
        let cache = cache();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        cache.set_publisher(tx);
        let key = Key::Row(Table::Cleanings, Uuid::now_v7());
        let (_, dropped) = collect(async {
            cache.drop_rows(Table::Cleanings, vec![key.clone()], false);
        })
        .await;
        assert!(rx.try_recv().is_err(), "nothing is sent before the commit");
        assert_eq!(dropped.len(), 1);
        cache.settle(dropped);
        let sent = rx.try_recv().unwrap();
        assert_eq!(sent.keys, vec![key]);
        // Another instance's message is applied; one's own is skipped.
        let other = Invalidation {
            origin: Uuid::new_v4(),
            ..sent.clone()
        };
        let json = serde_json::to_string(&other).unwrap();
        assert_eq!(serde_json::from_str::<Invalidation>(&json).unwrap(), other);
    }

    #[tokio::test]
    async fn off_reads_through() {
        let cache = Cache::new(Duration::ZERO, 100);
        assert!(!cache.is_on());
        let key = Key::Row(Table::Posts, Uuid::now_v7());
        assert_eq!(read(&cache, &key, 1).await, 1);
        assert_eq!(read(&cache, &key, 2).await, 2);
    }
}
