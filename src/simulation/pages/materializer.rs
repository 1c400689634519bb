//! The page seeds' Materializer: a page is bytes and a delta is appended to it, so
//! merging is order-sensitive (a reordered, duplicated or dropped delta changes the
//! value, and the model sees it).
//!
//! The wrong twin (`wrong: true`, pin `materializer=wrong`) drops every delta from the
//! third one merged into a page since it was decoded or allocated: a Materializer bug
//! the page oracle must catch (`pagelog-sim run` fails with it; a CLI test shows it).

use crate::pagecache::Materializer;

/// A page: its bytes, and how many deltas were merged into this copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPage {
    /// The value.
    pub bytes: Vec<u8>,
    /// Deltas merged since the page was decoded or made (only the wrong
    /// Materializer looks at it).
    merged: u32,
}

impl SimPage {
    /// A fresh page (or delta) holding `bytes`.
    pub fn new(bytes: Vec<u8>) -> SimPage {
        SimPage { bytes, merged: 0 }
    }
}

/// Appends deltas; with `wrong`, drops them from the third merge on.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimBytes {
    /// Be the deliberately wrong Materializer.
    pub wrong: bool,
}

impl Materializer for SimBytes {
    type Page = SimPage;

    fn encode(&self, page: &SimPage) -> Vec<u8> {
        page.bytes.clone()
    }

    fn decode(&self, bytes: &[u8]) -> Option<SimPage> {
        Some(SimPage::new(bytes.to_vec()))
    }

    fn merge(&self, base: &mut SimPage, delta: &SimPage) {
        base.merged += 1;
        if self.wrong && base.merged >= 3 {
            return;
        }
        base.bytes.extend_from_slice(&delta.bytes);
    }

    fn size_in_bytes(&self, page: &SimPage) -> usize {
        page.bytes.len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_wrong_twin_drops_the_third_delta_and_the_right_one_keeps_it() {
        for (wrong, want) in [(false, b"abcd".to_vec()), (true, b"abc".to_vec())] {
            let m = SimBytes { wrong };
            let mut page = SimPage::new(b"a".to_vec());
            for d in [b"b", b"c", b"d"] {
                m.merge(&mut page, &SimPage::new(d.to_vec()));
            }
            assert_eq!(page.bytes, want, "wrong: {wrong}");
        }
    }
}
