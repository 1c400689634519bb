//! Risk: a freed page coming back. In Gc mode the log drops a freed page's Free
//! record once nothing needs it (`log/space.rs`): no segment that held an older
//! message of the page is left for recovery to read, and a snapshot past the record
//! is the one recovery and the next snapshot start from. Drop it too early and a
//! crash brings the page back: from its old base still on disk (a full replay), or
//! from a snapshot that still lists it, with nothing in the log's tail to free it.
//!
//! Each test crashes the store and reopens it, as a user would, and checks from the
//! outside: the freed page reads as absent, every other page reads unchanged, and the
//! open started where it should.

use std::sync::Arc;

use pagelog::io::SimStorage;
use pagelog::pagecache::snapshot;
use pagelog::{AppendBytes, Config, PageCache, PageId, PageRef, Update};

type Pc = PageCache<AppendBytes>;

fn config() -> Config {
    Config::for_simulation()
        .snapshot_every(0)
        .gc_every(0)
        .cleanup_threshold_pct(50)
}

fn open(disk: &SimStorage) -> Pc {
    PageCache::open(config(), Arc::new(disk.clone()), AppendBytes).expect("open")
}

/// Replaces `hot` `n` times with 400-byte values, flushing every 10 and running a
/// garbage collection round every 50: its old values die, so the segments they
/// filled empty and leave the log.
fn churn(pc: &Pc, mut hot: PageRef<Vec<u8>>, n: u32) -> PageRef<Vec<u8>> {
    for i in 0..n {
        let Update::Applied(Some(next)) = pc.replace(&hot, vec![i as u8; 400]).expect("replace")
        else {
            panic!("one writer: every replace applies");
        };
        hot = next;
        if i % 10 == 9 {
            pc.flush().expect("flush");
        }
        if i % 50 == 49 {
            pc.maintenance().expect("maintenance");
        }
    }
    pc.flush().expect("flush");
    hot
}

/// Every page of `kept` reads back unchanged and `freed` reads as absent; returns
/// the pages as read (a reopened store counts versions anew).
fn check(pc: &Pc, kept: &[PageRef<Vec<u8>>], freed: PageId, when: &str) -> Vec<PageRef<Vec<u8>>> {
    assert!(
        pc.get(freed).expect("get").is_none(),
        "{when}: the freed page {freed} came back"
    );
    let read = |p: &PageRef<Vec<u8>>| {
        let got = pc.get(p.pid()).expect("get").expect("page");
        assert_eq!(got.value(), p.value(), "{when}: page {} changed", p.pid());
        got
    };
    kept.iter().map(read).collect()
}

/// A new store holding, in its first segment, the page to free and `cold` pages;
/// a hot page that the log has moved on with, past that segment.
type Store = (
    Pc,
    PageRef<Vec<u8>>,
    Vec<PageRef<Vec<u8>>>,
    PageRef<Vec<u8>>,
);

fn store(disk: &SimStorage, cold: u8) -> Store {
    let pc = open(disk);
    let freed = pc.allocate(vec![7; 100]).expect("allocate");
    let cold: Vec<_> = (0..cold)
        .map(|i| pc.allocate(vec![i; 300]).expect("allocate"))
        .collect();
    let hot = pc.allocate(vec![0; 400]).expect("allocate");
    let hot = churn(&pc, hot, 100);
    (pc, freed, cold, hot)
}

#[test]
fn a_free_record_outlives_the_old_base_of_its_page() {
    let disk = SimStorage::new(1);
    // The page to free shares a segment with cold pages that keep that segment.
    let (pc, freed, cold, hot) = store(&disk, 30);
    assert!(pc.free(&freed).expect("free").is_applied());
    // The Free's own segment empties around it, many times over.
    let hot = churn(&pc, hot, 600);
    assert_eq!(
        pc.stats().free_records_dropped,
        0,
        "the cold pages keep the freed page's base on disk"
    );
    pc.abandon();
    let disk = disk.crash();
    let pc = open(&disk);
    let mut kept = cold.clone();
    kept.push(hot);
    let mut kept = check(
        &pc,
        &kept,
        freed.pid(),
        "after a crash with the old base on disk",
    );

    // Compaction moves the cold pages out; the old base leaves and so may the Free.
    pc.compact().expect("compact");
    assert!(pc.stats().free_records_dropped >= 1, "{:?}", pc.stats());
    let hot = churn(&pc, kept.pop().expect("hot"), 300);
    pc.abandon();
    let disk = disk.crash();
    let pc = open(&disk);
    kept.push(hot);
    check(
        &pc,
        &kept,
        freed.pid(),
        "after a crash with the Free record gone",
    );
}

#[test]
fn a_free_record_outlives_every_snapshot_before_it() {
    let disk = SimStorage::new(2);
    let (pc, freed, cold, hot) = store(&disk, 3);
    let before = pc.snapshot().expect("snapshot");
    assert!(pc.free(&freed).expect("free").is_applied());
    // The freed page's base leaves the log (garbage collection moves the cold pages
    // out of its sparse segment); the snapshot still lists the page.
    let hot = churn(&pc, hot, 600);
    assert_eq!(pc.stats().free_records_dropped, 0, "{:?}", pc.stats());
    pc.abandon();
    let disk = disk.crash();
    let pc = open(&disk);
    let mut kept = cold.clone();
    kept.push(hot);
    let mut kept = check(&pc, &kept, freed.pid(), "after a crash");
    assert_eq!(
        pc.stats().open_snapshot,
        Some(before),
        "the snapshot before the Free stays usable"
    );

    // A snapshot past the Free lets it go; the older one is kept on disk, and a
    // recovery that falls back to it (the newer one damaged) must see that the log
    // has moved on from it, not bring the page back.
    let after = pc.snapshot().expect("snapshot");
    let hot = churn(&pc, kept.pop().expect("hot"), 600);
    pc.compact().expect("compact");
    assert!(pc.stats().free_records_dropped >= 1, "{:?}", pc.stats());
    pc.abandon();
    let disk = disk.crash();
    let names = disk.durable_names();
    let on_disk = |lsn| names.contains(&snapshot::file_name(lsn));
    assert!(on_disk(before) && on_disk(after), "{names:?}");
    disk.flip_bit(&snapshot::file_name(after), 40, 3)
        .expect("flip");
    let pc = open(&disk);
    kept.push(hot);
    check(
        &pc,
        &kept,
        freed.pid(),
        "after falling back from a damaged snapshot",
    );
    let stats = pc.stats();
    assert_eq!(
        stats.open_snapshot, None,
        "both snapshots skipped: {stats:?}"
    );
    assert_eq!(stats.open_snapshots_skipped, 2, "{stats:?}");
}
