//! Fuzz body `storage_crash`: arbitrary bytes drive writes, truncations and syncs on a
//! `SimStorage`, then a crash; every synced byte that no later unsynced change touched
//! must survive. It attacks the simulated disk itself: a crash model that damages
//! synced data would silently weaken every engine test built on it.

use crate::io::{OpenMode, SimStorage, Storage};

/// Largest offset a fuzz input can write at, so inputs stay cheap.
const SPAN: usize = 1 << 14;

/// What the checker knows of the one file.
#[derive(Default)]
struct Expect {
    current: Vec<u8>,
    synced: Vec<u8>,
    /// Offsets written since the last sync.
    dirty: Vec<bool>,
    min_set_len: Option<usize>,
}

/// Runs one input. Panics if a crash damaged a synced byte.
pub fn storage_crash(data: &[u8]) {
    let Some((seed, mut ops)) = data.split_first_chunk::<8>() else {
        return;
    };
    let disk = SimStorage::new(u64::from_le_bytes(*seed));
    let (Ok(file), Ok(())) = (disk.open("f", OpenMode::Create), disk.sync_dir()) else {
        panic!("a fault-free simulated disk refused to create a file");
    };
    let mut expect = Expect::default();
    while let Some((op, rest)) = ops.split_first_chunk::<5>() {
        ops = rest;
        let offset = usize::from(u16::from_le_bytes([op[1], op[2]])) % SPAN;
        let len = usize::from(u16::from_le_bytes([op[3], op[4]])) % 4096;
        let outcome = match op[0] % 4 {
            0 | 1 => {
                let bytes = vec![op[0] | 1; len];
                expect.write(offset, &bytes);
                file.write_at(&bytes, offset as u64)
            }
            2 => {
                expect.set_len(offset);
                file.set_len(offset as u64)
            }
            _ => {
                expect.sync();
                file.sync()
            }
        };
        assert!(outcome.is_ok(), "fault-free call failed: {outcome:?}");
    }
    let image = disk.crash().read_file("f").expect("a synced name survives");
    expect.check(&image);
}

impl Expect {
    fn write(&mut self, offset: usize, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let end = offset + bytes.len();
        if self.current.len() < end {
            self.current.resize(end, 0);
        }
        if self.dirty.len() < end {
            self.dirty.resize(end, false);
        }
        self.current[offset..end].copy_from_slice(bytes);
        self.dirty[offset..end].fill(true);
    }

    fn set_len(&mut self, len: usize) {
        self.current.resize(len, 0);
        self.min_set_len = Some(self.min_set_len.map_or(len, |m| m.min(len)));
    }

    fn sync(&mut self) {
        self.synced.clone_from(&self.current);
        self.dirty.clear();
        self.min_set_len = None;
    }

    fn check(&self, image: &[u8]) {
        let keep = self
            .min_set_len
            .unwrap_or(usize::MAX)
            .min(self.synced.len());
        assert!(
            image.len() >= keep,
            "crash shortened a synced file below {keep}"
        );
        let dirty = |i: usize| self.dirty.get(i).copied().unwrap_or(false);
        let damaged = (0..keep).find(|&i| !dirty(i) && image[i] != self.synced[i]);
        assert!(damaged.is_none(), "crash changed synced byte {damaged:?}");
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_checker_catches_a_damaged_synced_byte() {
        let mut e = Expect::default();
        e.write(0, &[3; 8]);
        e.sync();
        e.check(&[3; 8]);
        let caught = std::panic::catch_unwind(|| e.check(&[3, 3, 0, 3, 3, 3, 3, 3]));
        assert!(caught.is_err(), "a damaged synced byte must be reported");
    }

    #[test]
    fn short_and_empty_inputs_are_fine() {
        storage_crash(&[]);
        storage_crash(&[1, 2, 3]);
        storage_crash(&[0; 8]);
    }
}
