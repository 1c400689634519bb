//! One simulated file's contents: a durable image, the view reads see, and the list of
//! unsynced changes between them.
//!
//! Invariant (outside fsyncgate): `current == durable` with `pending` applied in order.
//! After a failed sync drops `pending`, `current` keeps the lost bytes (the page cache
//! still holds them) while `durable` never gets them: reads return data a crash loses.

/// An unsynced change to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pending {
    /// Bytes written at an offset.
    Write { offset: u64, data: Vec<u8> },
    /// A truncation or zero-extension.
    SetLen(u64),
}

/// A simulated file.
#[derive(Debug, Clone, Default)]
pub(super) struct Inode {
    pub(super) durable: Vec<u8>,
    pub(super) current: Vec<u8>,
    pub(super) pending: Vec<Pending>,
    /// Set once a failed sync dropped pending changes: from then on `current` may hold
    /// bytes `durable` never gets, and the invariant above no longer holds.
    pub(super) diverged: bool,
    /// The newest whole writes of non-zero bytes (at most [`MAX_WRITES_KEPT`]), oldest
    /// first: what [`super::SimStorage::vouched_tag`] reads.
    pub(super) writes: Vec<WriteRecord>,
}

/// How many whole writes each file remembers for [`Inode::vouched_tag`].
pub(super) const MAX_WRITES_KEPT: usize = 32;

/// A write that landed whole where it was aimed, with the tag current when it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WriteRecord {
    pub(super) offset: u64,
    pub(super) len: u64,
    /// CRC-32C of the bytes written.
    pub(super) crc: u32,
    pub(super) tag: u64,
    /// A sync of the file returned Ok after it: it is durable.
    pub(super) synced: bool,
}

/// Writes `data` at `offset` into `image`, zero-filling any gap (a sparse hole).
pub(super) fn apply_write(image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let start = usize::try_from(offset).expect("offset bounded by max_file_bytes");
    let end = start + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[start..end].copy_from_slice(data);
}

/// Sets `image`'s length, zero-filling growth.
pub(super) fn apply_set_len(image: &mut Vec<u8>, len: u64) {
    image.resize(
        usize::try_from(len).expect("len bounded by max_file_bytes"),
        0,
    );
}

impl Inode {
    /// A file whose durable and current contents are `image`, with nothing pending,
    /// remembering the durable ones of `writes`.
    pub(super) fn from_image(image: Vec<u8>, writes: &[WriteRecord]) -> Inode {
        Inode {
            current: image.clone(),
            durable: image,
            pending: Vec::new(),
            diverged: false,
            writes: writes.iter().copied().filter(|w| w.synced).collect(),
        }
    }

    /// Remembers a whole write of `data` at `offset` made under `tag` (all-zero
    /// writes erase; they are not remembered).
    pub(super) fn note_write(&mut self, offset: u64, data: &[u8], tag: u64) {
        if data.iter().all(|&b| b == 0) {
            return;
        }
        if self.writes.len() == MAX_WRITES_KEPT {
            self.writes.remove(0);
        }
        self.writes.push(WriteRecord {
            offset,
            len: data.len() as u64,
            crc: crc32c::crc32c(data),
            tag,
            synced: false,
        });
    }

    /// The highest tag of a durable write whose bytes are still in the durable image
    /// exactly as written (no later write, tear or damage changed them), if any.
    pub(super) fn vouched_tag(&self) -> Option<u64> {
        let intact = |w: &&WriteRecord| {
            let start = usize::try_from(w.offset).ok();
            let end = start.and_then(|s| s.checked_add(usize::try_from(w.len).ok()?));
            let bytes = start.zip(end).and_then(|(s, e)| self.durable.get(s..e));
            bytes.is_some_and(|b| crc32c::crc32c(b) == w.crc)
        };
        self.writes
            .iter()
            .filter(|w| w.synced)
            .filter(intact)
            .map(|w| w.tag)
            .max()
    }

    pub(super) fn len(&self) -> u64 {
        self.current.len() as u64
    }

    /// Copies what the current view holds at `offset` into `buf`; returns the count,
    /// 0 at or past the end.
    pub(super) fn read(&self, buf: &mut [u8], offset: u64) -> usize {
        let Ok(start) = usize::try_from(offset) else {
            return 0;
        };
        let Some(avail) = self.current.len().checked_sub(start) else {
            return 0;
        };
        let n = avail.min(buf.len());
        buf[..n].copy_from_slice(&self.current[start..start + n]);
        n
    }

    pub(super) fn write(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        apply_write(&mut self.current, offset, data);
        self.pending.push(Pending::Write {
            offset,
            data: data.to_vec(),
        });
    }

    pub(super) fn set_len(&mut self, len: u64) {
        apply_set_len(&mut self.current, len);
        self.pending.push(Pending::SetLen(len));
    }

    /// Makes every pending change durable, in order.
    pub(super) fn sync(&mut self) {
        for op in self.pending.drain(..) {
            match op {
                Pending::Write { offset, data } => apply_write(&mut self.durable, offset, &data),
                Pending::SetLen(len) => apply_set_len(&mut self.durable, len),
            }
        }
        for w in &mut self.writes {
            w.synced = true;
        }
        if !self.diverged {
            assert_eq!(
                self.durable.len(),
                self.current.len(),
                "current = durable + pending"
            );
        }
    }

    /// fsyncgate: the dirty state is marked clean without reaching the medium.
    pub(super) fn drop_pending(&mut self) {
        self.pending.clear();
        self.writes.retain(|w| w.synced);
        self.diverged = true;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn sync_applies_pending_in_order_and_reads_see_current() {
        let mut f = Inode::default();
        f.write(4, b"abcd");
        f.set_len(6);
        f.write(5, b"Z");
        let mut buf = [0_u8; 6];
        assert_eq!(f.read(&mut buf, 0), 6);
        assert_eq!(&buf, b"\0\0\0\0aZ");
        assert!(f.durable.is_empty());
        f.sync();
        assert_eq!(f.durable, f.current);
        assert!(f.pending.is_empty());
    }

    #[test]
    fn dropped_pending_stays_visible_but_never_becomes_durable() {
        let mut f = Inode::from_image(vec![1; 4], &[]);
        f.write(0, &[2; 4]);
        f.drop_pending();
        f.sync();
        assert_eq!(f.current, vec![2; 4], "page cache still shows the data");
        assert_eq!(f.durable, vec![1; 4], "the medium never got it");
    }

    #[test]
    fn the_vouched_tag_is_the_highest_of_the_durable_writes_still_intact() {
        let mut f = Inode::default();
        f.note_write(0, b"first", 1);
        f.write(0, b"first");
        f.sync();
        f.note_write(10, b"second", 2);
        f.write(10, b"second");
        assert_eq!(f.vouched_tag(), Some(1), "the second is not synced");
        f.sync();
        assert_eq!(f.vouched_tag(), Some(2));
        f.note_write(20, b"third", 0);
        f.write(20, b"third");
        f.sync();
        assert_eq!(f.vouched_tag(), Some(2), "the highest tag, not the newest");
        f.durable[12] ^= 1;
        assert_eq!(f.vouched_tag(), Some(1), "the second was damaged");
        f.note_write(0, &[0; 5], 3);
        f.write(0, &[0; 5]);
        f.sync();
        assert_eq!(
            f.vouched_tag(),
            Some(0),
            "zeros erased the first and vouch for nothing"
        );
    }
}
