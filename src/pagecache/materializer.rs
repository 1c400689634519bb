//! [`Materializer`]: how the page cache turns a user's page type into bytes and back,
//! and merges a page's deltas into its base.
//!
//! The page cache stores a page as a chain of fragments in the log: a base (written
//! by `allocate`, `replace` or a consolidation) and the deltas `link` appended after
//! it, in lsn order. Reading a page decodes each fragment and folds the deltas into
//! the base with [`Materializer::merge`], in that order; the merged value is what the
//! cache holds and what [`get`](crate::pagecache::PageCache::get) returns.

/// The user's page type and its four operations. No serde requirement: the encoding
/// is the user's own. Bytes handed to [`Materializer::decode`] passed the log's
/// checksums, but they are still bytes from disk: a decoder that cannot make sense
/// of them returns None, and the page cache reports `Error::Corruption` naming the
/// page and the offset (never a panic).
///
/// ```rust
///
/// use std::collections::BTreeMap;
/// use pagelog::Materializer;
///
/// /// A page is a small map; a delta is a map of changes merged over it.
/// struct Maps;
///
/// impl Materializer for Maps {
///     type Page = BTreeMap<u8, u8>;
///     fn encode(&self, page: &BTreeMap<u8, u8>) -> Vec<u8> {
///         page.iter().flat_map(|(k, v)| [*k, *v]).collect()
///     }
///     fn decode(&self, bytes: &[u8]) -> Option<BTreeMap<u8, u8>> {
///         // Bytes from disk: refuse what this type could not have written.
///         (bytes.len() % 2 == 0).then(|| bytes.chunks(2).map(|p| (p[0], p[1])).collect())
///     }
///     fn merge(&self, base: &mut BTreeMap<u8, u8>, delta: &BTreeMap<u8, u8>) {
///         base.extend(delta.iter().map(|(k, v)| (*k, *v)));
///     }
///     fn size_in_bytes(&self, page: &BTreeMap<u8, u8>) -> usize {
///         48 + page.len() * 16
///     }
/// }
/// assert_eq!(Maps.decode(&Maps.encode(&BTreeMap::from([(1, 2)]))), Some(BTreeMap::from([(1, 2)])));
/// assert_eq!(Maps.decode(&[1]), None);
/// # Ok::<(), pagelog::Error>(())
/// ```
pub trait Materializer: Send + Sync + 'static {
    /// A page, and also a delta: a delta is a page value that [`Materializer::merge`]
    /// folds into a base.
    type Page: Clone + Send + Sync + 'static;

    /// The bytes of `page` (a base or a delta) as the log stores them.
    fn encode(&self, page: &Self::Page) -> Vec<u8>;

    /// The page (or delta) that [`Materializer::encode`] turned into `bytes`, or None
    /// if `bytes` cannot be one.
    fn decode(&self, bytes: &[u8]) -> Option<Self::Page>;

    /// Folds `delta` into `base`. Deltas are merged in the order they were linked, so
    /// an order-sensitive merge sees them as its writers did.
    fn merge(&self, base: &mut Self::Page, delta: &Self::Page);

    /// The memory `page` holds, in bytes: what the cache charges for keeping it
    /// decoded (the page cache adds its own fixed cost per resident page).
    fn size_in_bytes(&self, page: &Self::Page) -> usize;
}

/// The simplest page type: a page is bytes, and a delta is bytes appended to it (so
/// a page is the concatenation of its base and deltas in the order they were
/// linked). Enough for pages that are logs or buffers, for trying the page cache,
/// and for tools that read a page cache without knowing its page type (pages
/// come back as the bytes their fragments hold, merged by appending).
///
/// ```rust
/// use pagelog::{AppendBytes, Materializer};
///
/// let mut page = b"base".to_vec();
/// AppendBytes.merge(&mut page, &b"+delta".to_vec());
/// assert_eq!(page, b"base+delta");
/// assert_eq!(AppendBytes.decode(&AppendBytes.encode(&page)), Some(page));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendBytes;

impl Materializer for AppendBytes {
    type Page = Vec<u8>;

    fn encode(&self, page: &Vec<u8>) -> Vec<u8> {
        page.clone()
    }

    fn decode(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        Some(bytes.to_vec())
    }

    fn merge(&self, base: &mut Vec<u8>, delta: &Vec<u8>) {
        base.extend_from_slice(delta);
    }

    fn size_in_bytes(&self, page: &Vec<u8>) -> usize {
        page.len()
    }
}
