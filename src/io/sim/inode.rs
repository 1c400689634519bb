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
    /// A file whose durable and current contents are `image`, with nothing pending.
    pub(super) fn from_image(image: Vec<u8>) -> Inode {
        Inode {
            current: image.clone(),
            durable: image,
            pending: Vec::new(),
            diverged: false,
        }
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
        let mut f = Inode::from_image(vec![1; 4]);
        f.write(0, &[2; 4]);
        f.drop_pending();
        f.sync();
        assert_eq!(f.current, vec![2; 4], "page cache still shows the data");
        assert_eq!(f.durable, vec![1; 4], "the medium never got it");
    }
}
