//! Regressions for the defects of the page caches this one descends from (sled's
//! `pagecache`), each as a user would meet it. Ids repeating after an open, a
//! generate and a crash: `pagecache_meta.rs`. Here:
//! - a freed page that was paged out (or whose id sat in the eviction queues) comes
//!   back after recovery, or its id is not handed out again;
//! - a paged-out page whose bytes on disk were altered while the cache ran is read
//!   back as data instead of `Error::Corruption` naming the page (on real files, the
//!   damage done from outside the engine).

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;

use common::Numbers;
use pagelog::io::{SimStorage, StdStorage};
use pagelog::{Config, PageCache};

#[test]
fn a_freed_page_stays_free_after_eviction_and_recovery_and_its_id_is_reused() {
    let config = Config {
        cache_capacity_bytes: 256,
        ..Config::for_simulation()
    };
    let disk = SimStorage::new(21);
    let pc = PageCache::open(config.clone(), Arc::new(disk.clone()), Numbers).expect("open");
    let pages: Vec<_> = (0..40_u32)
        .map(|i| pc.allocate(vec![i; 20]).expect("allocate"))
        .collect();
    let (freed, kept): (Vec<_>, Vec<_>) = pages.iter().partition(|p| p.pid() % 2 == 0);
    for p in &freed {
        // Read it back first, so it is resident (and queued) when it is freed.
        let now = pc.get(p.pid()).expect("get").expect("live");
        assert!(pc.free(&now).expect("free").is_applied());
    }
    // Churn the cache so every queue entry, freed ones included, is looked at.
    for _ in 0..3 {
        for p in &kept {
            assert_eq!(
                pc.get(p.pid()).expect("get").expect("kept").value(),
                p.value()
            );
        }
    }
    assert!(pc.stats().evictions > 40, "{:?}", pc.stats());
    pc.flush().expect("flush");
    pc.abandon();
    let pc = PageCache::open(config, Arc::new(disk.crash()), Numbers).expect("reopen");
    for p in &freed {
        assert!(
            pc.get(p.pid()).expect("get").is_none(),
            "freed page {} is back",
            p.pid()
        );
    }
    for p in &kept {
        assert_eq!(
            pc.get(p.pid()).expect("get").expect("kept").value(),
            p.value()
        );
    }
    let mut reused: Vec<u64> = (0..freed.len())
        .map(|_| pc.allocate(vec![7]).expect("allocate").pid())
        .collect();
    reused.sort_unstable();
    let mut want: Vec<u64> = freed.iter().map(|p| p.pid()).collect();
    want.sort_unstable();
    assert_eq!(reused, want, "freed ids are handed out again first");
}

/// Where `needle` sits in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn a_paged_out_page_altered_on_disk_is_corruption_naming_it_never_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        cache_capacity_bytes: 0,
        ..Config::default()
    };
    let storage = StdStorage::open(dir.path()).expect("storage");
    let pc = PageCache::open(config, Arc::new(storage), Numbers).expect("open");
    // A value no other bytes of the log look like.
    let value: Vec<u32> = (0..16).map(|i| 0xA5A5_0000 + i).collect();
    let page = pc.allocate(value.clone()).expect("allocate");
    let other = pc.allocate(vec![1, 2, 3]).expect("allocate");
    pc.flush().expect("flush");
    assert_eq!(
        pc.stats().resident_bytes,
        0,
        "nothing stays resident at capacity 0"
    );
    let bytes: Vec<u8> = value.iter().flat_map(|n| n.to_le_bytes()).collect();
    let path = dir.path().join(pagelog::LOG_FILE);
    let image = std::fs::read(&path).expect("read the log");
    let at = find(&image, &bytes).expect("the page's bytes are in the log");
    // Damage from outside the engine: another handle writes into the running log.
    for (i, flip) in [(0, 0x01_u8), (bytes.len() - 1, 0x80)] {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        f.seek(SeekFrom::Start((at + i) as u64)).expect("seek");
        f.write_all(&[image[at + i] ^ flip]).expect("write");
        f.sync_all().expect("sync");
        let e = pc.get(page.pid()).expect_err("damaged bytes read as data");
        let text = e.to_string();
        assert!(
            e.is_corruption() && text.contains(&format!("page {}", page.pid())),
            "{text}"
        );
        // Put it back: the page reads again, and the other page never stopped.
        f.seek(SeekFrom::Start((at + i) as u64)).expect("seek");
        f.write_all(&[image[at + i]]).expect("restore");
        f.sync_all().expect("sync");
        assert_eq!(
            pc.get(page.pid()).expect("get").expect("live").value(),
            &value
        );
        assert_eq!(
            pc.get(other.pid()).expect("get").expect("live").value(),
            &[1, 2, 3]
        );
    }
}
