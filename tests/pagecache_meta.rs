//! Risk: the page cache's own records fail a user across restarts: an id handed out
//! twice or going down after a crash (sled's ids repeated after an open, a generate
//! and a crash), a named root lost or wrong after recovery, a page cache reopened
//! under another segment mode or size silently misreading its log, or an open that
//! writes to a directory it then refuses.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::Numbers;
use pagelog::io::{SimStorage, StdStorage};
use pagelog::pagecache::{CONF_FILE, IDS_PER_LEASE};
use pagelog::{Config, Error, Log, PageCache, SegmentMode};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn open(config: &Config, disk: &SimStorage) -> PageCache<Numbers> {
    PageCache::open(config.clone(), Arc::new(disk.clone()), Numbers).expect("open")
}

/// Every file and its bytes.
fn image(disk: &SimStorage) -> BTreeMap<String, Vec<u8>> {
    disk.names()
        .into_iter()
        .map(|n| {
            let bytes = disk.read_file(&n).expect("listed file");
            (n, bytes)
        })
        .collect()
}

#[test]
fn ids_never_repeat_or_go_down_across_crashes_without_a_flush() {
    let config = Config::for_simulation();
    let mut disk = SimStorage::new(3);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut last: Option<u64> = None;
    let mut handed = 0_u64;
    for round in 0..40 {
        let pc = open(&config, &disk);
        // Some rounds cross a lease; none flushes: only the lease's own sync keeps
        // the ids safe.
        let n = if round % 8 == 7 {
            IDS_PER_LEASE + 10
        } else {
            rng.random_range(0..50)
        };
        for _ in 0..n {
            let id = pc.generate_id().expect("id");
            assert!(
                last.is_none_or(|l| id > l),
                "round {round}: id {id} after {last:?}"
            );
            last = Some(id);
            handed += 1;
        }
        pc.abandon();
        disk = disk.crash();
    }
    assert!(handed > 5 * IDS_PER_LEASE, "{handed} ids");
}

#[test]
fn one_sync_per_lease_not_per_id() {
    let config = Config::for_simulation();
    let disk = SimStorage::new(4);
    let pc = open(&config, &disk);
    let before = pc.log().stats().syncs;
    for _ in 0..3 * IDS_PER_LEASE {
        pc.generate_id().expect("id");
    }
    let syncs = pc.log().stats().syncs - before;
    assert!(
        (3..=6).contains(&syncs),
        "{syncs} syncs for 3 leases of {IDS_PER_LEASE} ids"
    );
}

#[test]
fn named_roots_swap_by_compare_and_survive_a_crash_once_flushed() {
    let config = Config::for_simulation();
    let disk = SimStorage::new(5);
    let pc = open(&config, &disk);
    assert_eq!(pc.cas_root("tree", None, Some(7)).expect("cas"), Ok(()));
    assert_eq!(
        pc.cas_root("tree", None, Some(8)).expect("cas"),
        Err(Some(7)),
        "a swap from the wrong value loses and names the current one"
    );
    assert_eq!(pc.cas_root("tree", Some(7), Some(9)).expect("cas"), Ok(()));
    assert_eq!(pc.cas_root("index", None, Some(4)).expect("cas"), Ok(()));
    assert_eq!(pc.cas_root("index", Some(4), None).expect("cas"), Ok(()));
    assert_eq!(pc.root("index"), None);
    pc.flush().expect("flush");
    // Unflushed: may or may not survive, but never comes back half-written.
    assert_eq!(pc.cas_root("tree", Some(9), Some(10)).expect("cas"), Ok(()));
    pc.abandon();
    let pc = open(&config, &disk.crash());
    let tree = pc.root("tree");
    assert!(tree == Some(9) || tree == Some(10), "{tree:?}");
    assert_eq!(pc.roots().len(), 1, "{:?}", pc.roots());
    let long = "x".repeat(70_000);
    assert!(matches!(
        pc.cas_root(&long, None, Some(1)),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn a_changed_segment_mode_or_size_is_refused_by_name_and_nothing_is_written() {
    let config = Config::for_simulation();
    let disk = SimStorage::new(6);
    let pc = open(&config, &disk);
    pc.allocate(vec![1, 2, 3]).expect("allocate");
    pc.close().expect("close");
    let before = image(&disk);
    assert!(before.contains_key(CONF_FILE), "{:?}", before.keys());
    let wrong = [
        (
            config.clone().segment_mode(SegmentMode::Linear),
            "segment_mode = linear",
        ),
        (config.clone().segment_size(32 << 10), "segment_size_bytes"),
    ];
    for (bad, named) in wrong {
        let e = PageCache::open(bad, Arc::new(disk.clone()), Numbers).expect_err("refused");
        assert!(
            matches!(e, Error::InvalidConfig(_)) && e.to_string().contains(named),
            "{e}"
        );
        assert_eq!(image(&disk), before, "the refused open wrote");
    }
    let changeable = config.clone().cache_capacity(10).io_bufs(3);
    let pc = PageCache::open(changeable, Arc::new(disk.clone()), Numbers).expect("reopen");
    assert_eq!(pc.get(4).expect("get").expect("page").value(), &[1, 2, 3]);
}

#[test]
fn a_log_that_is_not_a_page_caches_is_refused_and_left_alone() {
    let disk = SimStorage::new(7);
    let log = Log::open(Config::for_simulation(), Arc::new(disk.clone())).expect("log");
    log.append(b"a plain log record").expect("append");
    log.close().expect("close");
    let before = image(&disk);
    let e = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Numbers)
        .expect_err("not a page cache");
    assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
    assert_eq!(image(&disk), before);
}

#[test]
fn a_damaged_settings_file_is_corruption_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pc = PageCache::open_dir(dir.path(), Numbers).expect("create on real files");
    pc.close().expect("close");
    let path = dir.path().join(CONF_FILE);
    let text = std::fs::read_to_string(&path).expect("a text file");
    assert!(text.contains("segment_mode = gc"), "{text}");
    for damaged in [
        text.replace("gc", "gx"),
        text.replace("format = 1", "format = 1x"),
        "\u{0}\u{1}".repeat(10),
        "z".repeat(5000),
    ] {
        std::fs::write(&path, &damaged).expect("damage");
        let storage = StdStorage::open(dir.path()).expect("storage");
        let e = PageCache::open(Config::default(), Arc::new(storage), Numbers)
            .expect_err("damaged settings");
        assert!(
            e.is_corruption() && e.to_string().contains(CONF_FILE),
            "{damaged:?}: {e}"
        );
    }
    // A newer build's file (without this build's checksum line, so only its format
    // number can speak).
    let unsummed: String = text
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("checksum"))
        .collect();
    std::fs::write(&path, unsummed.replace("format = 1", "format = 9")).expect("newer");
    let e = PageCache::open_dir(dir.path(), Numbers).expect_err("newer format");
    assert!(matches!(e, Error::Unsupported(_)), "{e}");
}

/// Found by a newcomer's trial: a `Log::open` of a page cache's directory appended a
/// plain message to its log, and the page cache could never be opened again (its
/// recovery rightly called that message damage, in every recovery mode). A writable
/// Log open of such a directory is refused and writes nothing; reading it read-only
/// still works.
#[test]
fn the_log_api_cannot_write_into_a_page_caches_log() {
    let disk = SimStorage::new(8);
    let pc = open(&Config::for_simulation(), &disk);
    let page = pc.allocate(vec![5]).expect("allocate");
    pc.close().expect("close");
    let before = image(&disk);
    let e = Log::open(Config::for_simulation(), Arc::new(disk.clone())).expect_err("refused");
    assert!(
        matches!(e, Error::InvalidConfig(_)) && e.to_string().contains("PageCache"),
        "{e}"
    );
    assert_eq!(image(&disk), before, "the refused open wrote");
    let log = Log::open_read_only(Config::for_simulation(), Arc::new(disk.clone()))
        .expect("a read-only look is fine");
    assert!(log.iter_from(0).expect("iter").count() > 0);
    drop(log);
    let pc = open(&Config::for_simulation(), &disk);
    assert_eq!(
        pc.get(page.pid()).expect("get").expect("page").value(),
        &[5]
    );
}

/// `Config::read_only`: a page cache a killed process left (one a writable open would
/// change: zero its tip, write a new segment header, rewrite its segment table) opens
/// to read, serves every page as a writable open would, refuses every write, and
/// changes no byte of any file, synced or not. With no page cache there, it creates
/// nothing.
#[test]
fn a_read_only_page_cache_reads_everything_and_writes_nothing() {
    let disk = SimStorage::new(9);
    let pc = open(&Config::for_simulation(), &disk);
    let pages: Vec<_> = (0..20u32)
        .map(|i| pc.allocate(vec![i]).expect("allocate"))
        .collect();
    for p in &pages {
        pc.link(p, vec![100]).expect("link");
    }
    let swap = pc.cas_root("top", None, Some(pages[3].pid()));
    assert_eq!(swap.expect("root"), Ok(()));
    pc.flush().expect("flush");
    pc.abandon();
    let disk = disk.crash();
    let before = image(&disk);
    let ro_config = Config::for_simulation().read_only(true);
    let ro = PageCache::open(ro_config.clone(), Arc::new(disk.clone()), Numbers).expect("ro");
    let got: Vec<_> = pages
        .iter()
        .map(|p| ro.get(p.pid()).expect("get").expect("page").value().clone())
        .collect();
    assert_eq!(ro.root("top"), Some(pages[3].pid()));
    let page = ro.get(pages[0].pid()).expect("get").expect("page");
    let refused = [
        ro.allocate(vec![1]).err(),
        ro.link(&page, vec![2]).err(),
        ro.replace(&page, vec![3]).err(),
        ro.free(&page).err(),
        ro.generate_id().err(),
        ro.cas_root("other", None, Some(1)).err(),
        ro.maintenance().err(),
        ro.compact().err(),
    ];
    for e in refused {
        assert!(matches!(e, Some(Error::InvalidArgument(_))), "{e:?}");
    }
    ro.close().expect("close");
    assert_eq!(image(&disk), before, "the read-only open wrote");
    let rw = open(&Config::for_simulation(), &disk.crash());
    for (p, want) in pages.iter().zip(&got) {
        assert_eq!(rw.get(p.pid()).expect("get").expect("page").value(), want);
    }
    let empty = SimStorage::new(10);
    let e = PageCache::open(ro_config, Arc::new(empty.clone()), Numbers).expect_err("nothing");
    assert!(e.is_not_found(), "{e}");
    assert_eq!(image(&empty), BTreeMap::new(), "created a file");
}
