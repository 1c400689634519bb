//! Helpers shared by the integration tests.
#![allow(dead_code)]

use pagelog::LOG_FILE;
use pagelog::io::{File, OpenMode, SimConfig, SimStorage, Storage};
use pagelog::{Log, Lsn};

/// A payload whose bytes are never zero, so a byte that vanished (reads as zero) can
/// never pass for one that was written. `tag` makes payloads of different writes
/// differ.
pub fn payload(tag: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((tag as usize * 31 + i) % 251) as u8 + 1)
        .collect()
}

/// A storage with `config`, panicking on an invalid config (tests build valid ones).
pub fn sim(seed: u64, config: SimConfig) -> SimStorage {
    SimStorage::with_config(seed, config).expect("valid sim config")
}

/// Creates `name`, syncs the directory, and returns the handle.
pub fn create_durable(disk: &SimStorage, name: &str) -> Box<dyn File> {
    let f = disk.open(name, OpenMode::Create).expect("create");
    disk.sync_dir().expect("sync_dir");
    f
}

/// How a region of a post-crash image compares with what was written there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Intact,
    Vanished,
    Torn,
}

/// Compares `image[offset..offset+want.len()]` with `want` (bytes past the end count as
/// not equal).
pub fn seen(image: &[u8], offset: usize, want: &[u8]) -> Seen {
    let same = want
        .iter()
        .enumerate()
        .filter(|(i, b)| image.get(offset + i) == Some(b))
        .count();
    match same {
        0 => Seen::Vanished,
        n if n == want.len() => Seen::Intact,
        _ => Seen::Torn,
    }
}

/// A quickcheck generator seeded from `PAGELOG_QC_SEED` (default fixed), so a property
/// run is reproducible; set the variable to explore other cases.
pub fn qc_gen(size: usize) -> quickcheck::Gen {
    let seed = std::env::var("PAGELOG_QC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7061_6765_6c6f_6721);
    eprintln!("quickcheck seed {seed} (set PAGELOG_QC_SEED to change)");
    quickcheck::Gen::from_size_and_seed(size, seed)
}

/// Every message of `log` from lsn 0, as (lsn, value); panics on an error.
pub fn recovered(log: &Log) -> Vec<(Lsn, Vec<u8>)> {
    log.iter_from(0)
        .expect("iter")
        .map(|m| m.expect("message"))
        .map(|m| (m.lsn(), m.value))
        .collect()
}

/// Adds a file durably holding `bytes` to `disk`.
pub fn add_durable_file(disk: &SimStorage, name: &str, bytes: &[u8]) {
    let f = create_durable(disk, name);
    f.write_at(bytes, 0).expect("write");
    f.sync().expect("sync");
}

/// A simulated disk whose log file durably holds `image`.
pub fn disk_with_log(image: &[u8]) -> SimStorage {
    let disk = SimStorage::new(1);
    let f = create_durable(&disk, LOG_FILE);
    f.write_at(image, 0).expect("write");
    f.sync().expect("sync");
    disk
}

/// The page cache tests' page type: a list of numbers whose merge appends the delta's
/// numbers, so a delta reordered, dropped or applied twice shows in the page.
pub struct Numbers;

impl pagelog::Materializer for Numbers {
    type Page = Vec<u32>;

    fn encode(&self, page: &Vec<u32>) -> Vec<u8> {
        page.iter().flat_map(|n| n.to_le_bytes()).collect()
    }

    fn decode(&self, bytes: &[u8]) -> Option<Vec<u32>> {
        let words = bytes.chunks_exact(4);
        (bytes.len() % 4 == 0).then(|| {
            words
                .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect()
        })
    }

    fn merge(&self, base: &mut Vec<u32>, delta: &Vec<u32>) {
        base.extend_from_slice(delta);
    }

    fn size_in_bytes(&self, page: &Vec<u32>) -> usize {
        page.len() * 4
    }
}
