//! The page cache: pages of a user type, each a chain of fragments in the log (a base
//! and deltas), updated latch-free by compare-and-swap on a page table.
//!
//! The API is [`PageCache`] and the types re-exported here. The modules are the
//! implementation, public (and hidden from these docs) only for pagelog's own loom
//! models and tests, like [`crate::internals`]; nothing in them is a stable API:
//!
//! - `materializer`: the user's page type ([`Materializer`]);
//! - `page_ref`: what calls hand back ([`PageRef`], [`Update`]);
//! - `view`: one immutable state of one page (fragments, cached value);
//! - `table`: the lock-free page table of views;
//! - `cache`: [`PageCache`] and the update protocol;
//! - `batch`: atomic batches across pages ([`PageBatch`], [`PageCache::apply`]);
//! - `conf`: the settings persisted at creation and checked at every open;
//! - `roots`: named roots ([`PageCache::cas_root`]);
//! - `ids`: unique ids by durable lease ([`PageCache::generate_id`]);
//! - `intent`: the decision of an atomic batch across pages;
//! - `evict`: which resident page to page out (sharded S3-FIFO);
//! - `gc`: rewriting the pages that pin sparse segments ([`PageCache::maintenance`],
//!   [`PageCache::compact`]);
//! - `pagein`: reading a page's fragments back, checked;
//! - `recover`: the fold of the log into the page table's state (a [`recover::Replay`]);
//! - `snapshot`: that state written down at an lsn, the snapshot file;
//! - `checkpoint`: taking snapshots ([`PageCache::snapshot`]) and restoring from the
//!   newest usable one at open;
//! - `stats`: per-instance counters ([`PageCacheStats`]).

#[doc(hidden)]
pub mod batch;
#[doc(hidden)]
pub mod cache;
#[doc(hidden)]
pub mod checkpoint;
#[doc(hidden)]
pub mod conf;
#[doc(hidden)]
pub mod evict;
#[doc(hidden)]
pub mod gc;
#[doc(hidden)]
pub mod ids;
#[doc(hidden)]
pub mod intent;
#[doc(hidden)]
pub mod materializer;
#[doc(hidden)]
pub mod page_ref;
#[doc(hidden)]
pub mod pagein;
#[doc(hidden)]
pub mod recover;
#[doc(hidden)]
pub mod roots;
#[doc(hidden)]
pub mod snapshot;
#[doc(hidden)]
pub mod stats;
#[doc(hidden)]
pub mod table;
#[doc(hidden)]
pub mod view;

pub use batch::{BatchUpdate, PageBatch};
pub use cache::{FIRST_PAGE, PageCache, RESIDENT_OVERHEAD_BYTES};
pub use conf::CONF_FILE;
pub use gc::MAX_REWRITES_PER_CALL;
pub use ids::IDS_PER_LEASE;
pub use materializer::{AppendBytes, Materializer};
pub use page_ref::{PageId, PageRef, Update};
pub use roots::{MAX_ROOT_NAME, RootSwap, Roots};
pub use snapshot::SNAPSHOT_PREFIX;
pub use stats::PageCacheStats;
