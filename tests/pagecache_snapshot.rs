//! Risk: snapshots make the page cache lose or invent state: a snapshot plus the
//! log's tail that differs from replaying the whole log, an open that fails (or reads
//! wrong pages) because a snapshot is damaged, truncated, stale or left by a store
//! that is gone, a crash while a snapshot is written or an old one removed that loses
//! anything, or open time that still grows with uptime (sled wrote snapshots only at
//! open and failed the open on a bad one).
//!
//! The oracle is independent of the snapshot code: a model of every page's value
//! (pages of numbers whose merge appends, so a delta dropped, repeated or reordered
//! shows), and a full replay of the log, which never reads a snapshot.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::Numbers;
use pagelog::io::{OpenMode, SimStorage, Storage};
use pagelog::pagecache::FIRST_PAGE;
use pagelog::pagecache::checkpoint::restore;
use pagelog::pagecache::recover::Replay;
use pagelog::pagecache::snapshot::{self, SNAPSHOT_PREFIX};
use pagelog::pagecache::view::Frag;
use pagelog::{Config, Error, Lsn, PageCache, PageRef, RecoveryMode, SegmentMode, Update};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Model = BTreeMap<u64, Vec<u32>>;

fn config(mode: SegmentMode, every: u64) -> Config {
    Config {
        segment_mode: mode,
        snapshot_every_bytes: every,
        ..Config::for_simulation()
    }
}

fn open(config: &Config, disk: &SimStorage) -> PageCache<Numbers> {
    PageCache::open(config.clone(), Arc::new(disk.clone()), Numbers).expect("open")
}

/// A seeded single-threaded workload over a page cache, with its model.
struct Driver {
    rng: ChaCha8Rng,
    model: Model,
    next: u32,
}

impl Driver {
    fn new(seed: u64) -> Driver {
        Driver {
            rng: ChaCha8Rng::seed_from_u64(seed),
            model: Model::new(),
            next: 0,
        }
    }

    fn numbers(&mut self, most: usize) -> Vec<u32> {
        let n = self.rng.random_range(1..most);
        let out = (self.next..self.next + n as u32).collect();
        self.next += n as u32;
        out
    }

    fn pick(&mut self, pc: &PageCache<Numbers>) -> Option<PageRef<Vec<u32>>> {
        if self.model.is_empty() {
            return None;
        }
        let at = self.rng.random_range(0..self.model.len());
        let pid = *self.model.keys().nth(at).expect("in range");
        Some(pc.get(pid).expect("get").expect("a live page"))
    }

    /// One random update (and now and then a snapshot or GC round).
    fn step(&mut self, pc: &PageCache<Numbers>) {
        let roll = self.rng.random_range(0..100);
        let page = self.pick(pc);
        match (roll, page) {
            (0..=14, _) | (_, None) => {
                let v = self.numbers(6);
                let p = pc.allocate(v.clone()).expect("allocate");
                self.model.insert(p.pid(), v);
            }
            (15..=69, Some(p)) => {
                let d = self.numbers(4);
                let Update::Applied(Some(_)) = pc.link(&p, d.clone()).expect("link") else {
                    panic!("one writer lost a link");
                };
                self.model.get_mut(&p.pid()).expect("live").extend(d);
            }
            (70..=84, Some(p)) => {
                let v = self.numbers(6);
                let Update::Applied(Some(_)) = pc.replace(&p, v.clone()).expect("replace") else {
                    panic!("one writer lost a replace");
                };
                self.model.insert(p.pid(), v);
            }
            (85..=93, Some(p)) => {
                let Update::Applied(None) = pc.free(&p).expect("free") else {
                    panic!("one writer lost a free");
                };
                self.model.remove(&p.pid());
            }
            (94..=95, _) => {
                let name = format!("r{}", self.rng.random_range(0..3));
                let now = pc.root(&name);
                let to = self.model.keys().next().copied();
                pc.cas_root(&name, now, to)
                    .expect("cas_root")
                    .expect("one writer");
            }
            (96, _) => {
                pc.generate_id().expect("id");
            }
            (97, _) => {
                pc.flush().expect("flush");
                pc.snapshot().expect("snapshot");
            }
            _ => {
                pc.flush().expect("flush");
                pc.maintenance().expect("maintenance");
            }
        }
    }
}

/// Every page of `pc` equals the model.
fn assert_pages(pc: &PageCache<Numbers>, model: &Model, what: &str) {
    assert_eq!(
        pc.page_ids(),
        model.keys().copied().collect::<Vec<_>>(),
        "{what}: page ids"
    );
    for (pid, want) in model {
        let got = pc.get(*pid).expect("get").expect("a live page");
        assert_eq!(got.value(), want, "{what}: page {pid}");
    }
}

/// What a replay determines about the page cache: each page's fragments (versions
/// aside: a full replay of a Gc log no longer sees the updates it reclaimed), the
/// roots and the lease.
type Shape = (BTreeMap<u64, Vec<Frag>>, Vec<(String, u64)>, u64);

fn shape(r: &Replay) -> Shape {
    let pages = r.pages.iter().map(|(p, b)| (*p, b.frags.clone())).collect();
    let roots = r.roots.iter().map(|(n, p)| (n.clone(), *p)).collect();
    (pages, roots, r.leased)
}

/// The state a full replay of `pc`'s stable log gives, reading no snapshot.
fn full_replay(pc: &PageCache<Numbers>) -> Shape {
    let log = pc.log();
    let mut r = Replay::default();
    r.extend(log, FIRST_PAGE, log.stable_lsn()).expect("replay");
    shape(&r)
}

/// Every durable file and its bytes.
fn image(disk: &SimStorage) -> BTreeMap<String, Vec<u8>> {
    disk.durable_names()
        .into_iter()
        .map(|n| {
            let bytes = disk.durable_file(&n).expect("listed file");
            (n, bytes)
        })
        .collect()
}

fn snapshots(disk: &SimStorage) -> Vec<String> {
    let mut names: Vec<String> = disk
        .names()
        .into_iter()
        .filter(|n| snapshot::lsn_of(n).is_some())
        .collect();
    names.sort();
    names
}

#[test]
fn snapshot_plus_tail_equals_full_replay() {
    for mode in [SegmentMode::Gc, SegmentMode::Linear] {
        for seed in 0..4 {
            let what = format!("{mode:?} seed {seed}");
            let config = config(mode, 6 << 10);
            let mut disk = SimStorage::new(seed);
            let mut d = Driver::new(seed);
            let mut used = 0;
            for round in 0..6 {
                let pc = open(&config, &disk);
                used += u64::from(pc.stats().open_snapshot.is_some());
                assert_pages(&pc, &d.model, &format!("{what} round {round} after open"));
                for _ in 0..250 {
                    d.step(&pc);
                }
                pc.flush().expect("flush");
                let (replay, restored) = restore(pc.log(), FIRST_PAGE).expect("restore");
                assert_eq!(shape(&replay), full_replay(&pc), "{what} round {round}");
                let again = restore(pc.log(), FIRST_PAGE).expect("restore again").0;
                assert_eq!(again, replay, "{what}: restoring twice differs (I7)");
                assert!(restored.skipped.is_empty(), "{what}: {restored:?}");
                pc.abandon();
                disk = disk.crash();
            }
            assert!(
                used >= 4,
                "{what}: opens started from a snapshot only {used} times"
            );
            // The new one, the one it was built from, and one whose removal (not
            // synced: it is harmless) the power cut undid.
            assert!(
                snapshots(&disk).len() <= 3,
                "{what}: old snapshots pile up: {:?}",
                snapshots(&disk)
            );
        }
    }
}

#[test]
fn open_replays_a_tail_bounded_by_the_snapshot_interval_not_by_uptime() {
    let every = 8 << 10;
    let config = config(SegmentMode::Gc, every);
    let mut disk = SimStorage::new(7);
    let mut d = Driver::new(7);
    let mut tails = Vec::new();
    let mut written = 0;
    for round in 0..24 {
        let pc = open(&config, &disk);
        let stats = pc.stats();
        let tip = pc.log().recovery().tip;
        if round >= 2 {
            let from = stats
                .open_snapshot
                .expect("a snapshot after the first rounds");
            assert!(
                tip - from <= 2 * every,
                "round {round}: {} bytes of tail replayed",
                tip - from
            );
            tails.push(stats.open_replayed);
        }
        assert_pages(&pc, &d.model, &format!("round {round}"));
        for i in 0..400 {
            d.step(&pc);
            if i % 50 == 49 {
                pc.flush().expect("flush");
            }
        }
        pc.flush().expect("flush");
        written += pc.stats().applied;
        pc.abandon();
        disk = disk.crash();
    }
    let most = *tails.iter().max().expect("rounds");
    eprintln!("messages replayed at open: at most {most} of {written} updates written");
    assert!(
        most * 10 < written,
        "open replayed {most} messages of {written}"
    );
}

/// A small store with two snapshots and a log tail past the newer one, flushed; its
/// model and the snapshots' names, oldest first.
fn small_store() -> (SimStorage, Config, Model, Vec<String>) {
    let config = config(SegmentMode::Gc, 0);
    let disk = SimStorage::new(11);
    let pc = open(&config, &disk);
    let mut d = Driver::new(11);
    for _ in 0..2 {
        for _ in 0..12 {
            d.step(&pc);
        }
        pc.flush().expect("flush");
        pc.snapshot().expect("snapshot");
    }
    for _ in 0..6 {
        d.step(&pc);
    }
    pc.close().expect("close");
    let names = snapshots(&disk);
    assert_eq!(names.len(), 2, "{names:?}");
    (disk, config, d.model, names)
}

/// Opens read-only (so the store is the same for every case) and checks the pages.
fn open_checked(
    config: &Config,
    disk: &SimStorage,
    model: &Model,
    what: &str,
) -> PageCache<Numbers> {
    let ro = Config {
        read_only: true,
        ..config.clone()
    };
    let pc = PageCache::open(ro, Arc::new(disk.clone()), Numbers)
        .unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
    assert_pages(&pc, model, what);
    pc
}

fn set_len(disk: &SimStorage, name: &str, len: u64) {
    let f = disk.open(name, OpenMode::Existing).expect("open");
    f.set_len(len).expect("set_len");
    f.sync().expect("sync");
}

#[test]
fn a_truncated_newest_snapshot_falls_back_to_the_older_one() {
    let (disk, config, model, names) = small_store();
    let older = snapshot::lsn_of(&names[0]);
    let bytes = disk.read_file(&names[1]).expect("newest");
    for len in 0..bytes.len() as u64 {
        set_len(&disk, &names[1], len);
        let pc = open_checked(&config, &disk, &model, &format!("cut at {len}"));
        let stats = pc.stats();
        assert_eq!(stats.open_snapshot, older, "cut at {len}");
        assert_eq!(stats.open_snapshots_skipped, 1, "cut at {len}");
        disk.forge(&names[1], 0, &bytes).expect("restore");
    }
    // Both damaged: a full replay of the log.
    set_len(&disk, &names[0], 10);
    set_len(&disk, &names[1], 0);
    let pc = open_checked(&config, &disk, &model, "both cut");
    assert_eq!(pc.stats().open_snapshot, None);
    assert_eq!(pc.stats().open_snapshots_skipped, 2);
}

#[test]
fn a_flipped_bit_anywhere_in_a_snapshot_is_skipped() {
    let (disk, config, model, names) = small_store();
    let older = snapshot::lsn_of(&names[0]);
    let len = disk.file_len(&names[1]).expect("newest");
    for offset in 0..len {
        for bit in 0..8 {
            disk.flip_bit(&names[1], offset, bit).expect("flip");
            let what = format!("bit {bit} of byte {offset}");
            let pc = open_checked(&config, &disk, &model, &what);
            assert_eq!(pc.stats().open_snapshot, older, "{what}");
            disk.flip_bit(&names[1], offset, bit).expect("flip back");
        }
    }
    let pc = open_checked(&config, &disk, &model, "restored");
    assert_eq!(pc.stats().open_snapshot, snapshot::lsn_of(&names[1]));
}

/// Writes a snapshot file `name` holding `replay`, durably.
fn plant_replay(disk: &SimStorage, name: &str, replay: &Replay, segment_size: u64) {
    plant(
        disk,
        name,
        &snapshot::encode(replay, &[], None, segment_size),
    );
}

#[test]
fn a_snapshot_past_the_log_tip_is_damage_unless_tolerated() {
    let (disk, config, model, names) = small_store();
    let newest = snapshot::lsn_of(&names[1]).expect("lsn");
    let pc = open_checked(&config, &disk, &model, "before");
    let tip = pc.log().recovery().tip;
    drop(pc);
    // What a log cut short below a snapshot it had written leaves: a valid snapshot
    // whose lsn the log no longer reaches. It proves the log lost stable data.
    let future = Replay {
        lsn: tip + (1 << 20),
        ..Replay::default()
    };
    let name = snapshot::file_name(future.lsn);
    plant_replay(&disk, &name, &future, config.segment_size_bytes);
    let before = image(&disk);
    for read_only in [true, false] {
        let strict = Config {
            read_only,
            ..config.clone()
        };
        let e = PageCache::open(strict, Arc::new(disk.clone()), Numbers)
            .expect_err("a snapshot past the tip");
        assert!(e.is_corruption() && e.to_string().contains(&name), "{e}");
        assert_eq!(image(&disk), before, "an open that reported damage wrote");
    }
    let tolerant = Config {
        recovery_mode: RecoveryMode::TolerateCorruptTail,
        ..config.clone()
    };
    let pc = open_checked(&tolerant, &disk, &model, "tolerated, read-only");
    assert_eq!(pc.stats().open_snapshot, Some(newest));
    assert_eq!(pc.stats().open_snapshots_skipped, 1);
    drop(pc);
    let pc = open(&tolerant, &disk);
    assert_pages(&pc, &model, "tolerated, writable");
    assert!(
        !disk.names().contains(&name),
        "the stale snapshot is still there"
    );
    pc.close().expect("close");
}

#[test]
fn a_log_cut_short_below_its_newest_snapshot_is_reported_not_shortened() {
    let (disk, config, model, names) = small_store();
    let newest = snapshot::lsn_of(&names[1]).expect("lsn");
    let older = snapshot::lsn_of(&names[0]).expect("lsn");
    // Cut the log between the two snapshots: the newer one proves it was longer.
    let pc = open_checked(&config, &disk, &model, "before");
    let ptr = pc
        .log()
        .iter_from(older)
        .expect("iter")
        .map(|m| m.expect("message").pointer)
        .find(|p| p.lsn >= (older + newest) / 2);
    drop(pc);
    let at = ptr.expect("a message between the snapshots").file_offset;
    set_len(&disk, pagelog::LOG_FILE, at);
    let before = image(&disk);
    let e = PageCache::open(config.clone(), Arc::new(disk.clone()), Numbers)
        .expect_err("the log lost acknowledged data");
    assert!(
        e.is_corruption() && e.to_string().contains(&names[1]),
        "{e}"
    );
    assert_eq!(image(&disk), before, "an open that reported damage wrote");
}

#[test]
fn a_snapshot_copied_from_another_store_is_not_used() {
    // Two stores that share a history: Y starts as a copy of X.
    let (x, config, _, _) = small_store();
    let y = copy_store(&x, 12);
    let mut dx = Driver::new(31);
    let mut dy = Driver::new(32);
    // X runs longer, so its snapshot's lsn is past Y's and inside Y's log.
    for (disk, d, steps) in [(&x, &mut dx, 40), (&y, &mut dy, 20)] {
        let pc = open(&config, disk);
        d.model = pc
            .page_ids()
            .into_iter()
            .map(|p| (p, pc.get(p).expect("get").expect("live").value().clone()))
            .collect();
        for _ in 0..steps {
            d.step(&pc);
        }
        pc.flush().expect("flush");
        pc.snapshot().expect("snapshot");
        for _ in 0..steps {
            d.step(&pc);
        }
        pc.flush().expect("flush");
        pc.close().expect("close");
    }
    // X's newest snapshot, planted in Y under a name newer than Y's own.
    let xs = snapshots(&x);
    let bytes = x.read_file(xs.last().expect("x snapshot")).expect("bytes");
    let ys = snapshots(&y);
    let y_newest = snapshot::lsn_of(ys.last().expect("y snapshot")).expect("lsn");
    let x_newest = snapshot::lsn_of(xs.last().expect("x snapshot")).expect("lsn");
    let name = snapshot::file_name(x_newest);
    if x_newest > y_newest
        && x_newest
            <= open_checked(&config, &y, &dy.model, "y")
                .log()
                .recovery()
                .tip
    {
        let f = y.open(&name, OpenMode::Create).expect("create");
        f.write_at(&bytes, 0).expect("write");
        f.sync().expect("sync");
        let pc = open_checked(&config, &y, &dy.model, "Y with X's snapshot");
        assert_eq!(
            pc.stats().open_snapshot,
            Some(y_newest),
            "X's snapshot was used"
        );
        assert_eq!(pc.stats().open_snapshots_skipped, 1);
    } else {
        panic!("the stores' lsns do not allow the plant: x {x_newest}, y {y_newest}");
    }
}

/// A copy of `from`'s durable files on a new disk seeded `seed` (`cp -a`).
fn copy_store(from: &SimStorage, seed: u64) -> SimStorage {
    let to = SimStorage::new(seed);
    for name in from.durable_names() {
        plant(&to, &name, &from.durable_file(&name).expect("file"));
    }
    to
}

/// Writes `bytes` durably as file `name` of `disk`.
fn plant(disk: &SimStorage, name: &str, bytes: &[u8]) {
    let f = disk.open(name, OpenMode::Create).expect("create");
    f.set_len(0).expect("set_len");
    f.write_at(bytes, 0).expect("write");
    f.sync().expect("sync");
    disk.sync_dir().expect("sync_dir");
}

/// X and Y, copies of one closed store, each resume the segment the copy ended in
/// (so their segments share a nonce), link a page of their own with the same
/// value, link `p` alike in both (so both end with the same message),
/// and flush; X also writes `extra` more links. Returns both disks, the config, the
/// lsn of each one's snapshot taken after the common links, and Y's model.
fn parted_copies(extra: usize) -> (SimStorage, SimStorage, Config, [Lsn; 2], Model) {
    let (x, config, model, _) = small_store();
    let y = copy_store(&x, 12);
    let pids: Vec<u64> = model.keys().copied().take(2).collect();
    let &[p, q] = pids.as_slice() else {
        panic!("two pages: {pids:?}")
    };
    let mut lsns = [0; 2];
    let mut y_model = model.clone();
    for (i, disk) in [&x, &y].into_iter().enumerate() {
        let pc = open(&config, disk);
        // X links p, Y links q: the same bytes at the same lsn, of another page.
        let own = [p, q][i];
        let page = pc.get(own).expect("get").expect("live");
        assert!(matches!(
            pc.link(&page, vec![1_000]),
            Ok(Update::Applied(_))
        ));
        let page = pc.get(p).expect("get").expect("live");
        assert!(matches!(pc.link(&page, vec![7]), Ok(Update::Applied(_))));
        pc.flush().expect("flush");
        lsns[i] = pc.snapshot().expect("snapshot");
        if i == 0 {
            for n in 0..extra {
                let page = pc.get(q).expect("get").expect("live");
                assert!(matches!(
                    pc.link(&page, vec![n as u32]),
                    Ok(Update::Applied(_))
                ));
            }
            pc.flush().expect("flush");
            pc.snapshot().expect("snapshot");
        } else {
            y_model.get_mut(&q).expect("live").push(1_000);
            y_model.get_mut(&p).expect("live").push(7);
        }
        pc.close().expect("close");
    }
    (x, y, config, lsns, y_model)
}

#[test]
fn a_snapshot_of_a_copy_that_went_on_apart_in_the_shared_segment_is_not_used() {
    // A second trial's find: neither the segment nonces (both copies resumed the
    // segment the copy ended in) nor the last message (the same in both) tell X's
    // snapshot from Y's, and Y read X's pages over its own log. The resume marks
    // differ.
    let (x, y, config, lsns, y_model) = parted_copies(0);
    assert_eq!(lsns[0], lsns[1], "the two stores must line up for the test");
    let name = snapshot::file_name(lsns[0]);
    let theirs = x.read_file(&name).expect("X's snapshot");
    assert_ne!(y.read_file(&name).expect("Y's snapshot"), theirs);
    plant(&y, &name, &theirs);
    let pc = open_checked(
        &config,
        &y,
        &y_model,
        "Y with X's snapshot in place of its own",
    );
    assert_ne!(
        pc.stats().open_snapshot,
        Some(lsns[0]),
        "X's snapshot was used"
    );
    assert_eq!(pc.stats().open_snapshots_skipped, 1);
}

#[test]
fn a_copy_s_snapshot_past_the_tip_is_skipped_not_taken_for_lost_data() {
    // X went on longer than Y after the copy: X's newest snapshot is past Y's tip.
    // Its resume mark, below Y's tip, is not Y's, so it is not Y's lost data (which
    // fails the open) but a stranger's file, skipped and removed.
    let (x, y, config, _, y_model) = parted_copies(20);
    let newest = snapshot::lsn_of(snapshots(&x).last().expect("X's newest")).expect("lsn");
    let name = snapshot::file_name(newest);
    plant(&y, &name, &x.read_file(&name).expect("bytes"));
    let pc = open(&config, &y);
    assert!(
        newest > pc.log().recovery().tip,
        "the plant must be past Y's tip"
    );
    assert_pages(&pc, &y_model, "Y with X's newer snapshot");
    assert_eq!(pc.stats().open_snapshots_skipped, 1);
    pc.close().expect("close");
    assert!(
        !snapshots(&y).contains(&name),
        "the stranger's snapshot was kept"
    );
}

#[test]
fn a_snapshot_left_by_a_deleted_store_is_never_used() {
    let (disk, config, _, names) = small_store();
    let stale = names[1].clone();
    for name in disk.names() {
        if name != stale {
            disk.remove(&name).expect("remove");
        }
    }
    disk.sync_dir().expect("sync_dir");
    let pc = open(&config, &disk);
    assert!(
        snapshots(&disk).is_empty(),
        "a new store kept {:?}",
        snapshots(&disk)
    );
    // Grow the new store past the old snapshot's lsn, then reopen.
    let mut d = Driver::new(99);
    let past = snapshot::lsn_of(&stale).expect("lsn");
    while pc.log().stable_lsn() <= past + 100 {
        d.step(&pc);
        pc.flush().expect("flush");
    }
    pc.close().expect("close");
    let ro = open_checked(&config, &disk, &d.model, "new store reopened");
    assert_eq!(ro.stats().open_snapshot, None);
}

#[test]
fn a_crash_at_every_storage_call_of_a_snapshot_loses_nothing() {
    for calls in 0.. {
        let (disk, config, model, names) = small_store();
        let pc = open(&config, &disk);
        let mut lsns: Vec<_> = names.iter().filter_map(|n| snapshot::lsn_of(n)).collect();
        lsns.push(pc.log().stable_lsn());
        disk.crash_after(calls);
        let took = pc.snapshot();
        let crashed = disk.is_crashed();
        pc.abandon();
        let disk = disk.crash();
        let what = format!("power cut after {calls} calls of the snapshot");
        let pc = open_checked(&config, &disk, &model, &what);
        let from = pc.stats().open_snapshot.expect("a snapshot");
        assert!(
            lsns.contains(&from),
            "{what}: opened from {from}, none of {lsns:?}"
        );
        assert!(
            snapshots(&disk).len() <= 3,
            "{what}: {:?}",
            snapshots(&disk)
        );
        if !crashed {
            assert_eq!(took.ok(), lsns.last().copied(), "the power stayed on");
            assert_eq!(
                from, lsns[2],
                "the new snapshot is not the one an open uses"
            );
            assert!(
                snapshots(&disk).len() == 2,
                "the oldest was not removed: {:?}",
                snapshots(&disk)
            );
            assert!(calls > 5, "the snapshot made only {calls} storage calls");
            eprintln!("a power cut at each of a snapshot's {calls} storage calls");
            return;
        }
        assert!(
            took.is_err(),
            "{what}: the snapshot succeeded with the power cut"
        );
    }
}

#[test]
fn a_read_only_page_cache_refuses_a_snapshot() {
    let (disk, config, model, _) = small_store();
    let pc = open_checked(&config, &disk, &model, "read-only");
    assert!(matches!(pc.snapshot(), Err(Error::InvalidArgument(_))));
}

#[test]
fn snapshot_files_are_named_by_their_lsn() {
    assert_eq!(
        snapshot::file_name(0x1234),
        format!("{SNAPSHOT_PREFIX}0000000000001234")
    );
    assert_eq!(snapshot::lsn_of("snapshot.0000000000001234"), Some(0x1234));
    for bad in [
        "snapshot.new",
        "snapshot.1234",
        "snapshot.000000000000123G",
        "snapshot.000000000000ABCD",
    ] {
        assert_eq!(snapshot::lsn_of(bad), None, "{bad}");
    }
}

#[test]
fn snapshots_and_gc_inline_under_concurrent_writers_lose_nothing() {
    let config = Config {
        snapshot_every_bytes: 4 << 10,
        gc_every_updates: 40,
        cleanup_threshold_pct: 70,
        ..config(SegmentMode::Gc, 0)
    };
    let disk = SimStorage::new(21);
    let pc = open(&config, &disk);
    // Each thread owns its pages, so its own model is exact.
    let models: Vec<Model> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4u32)
            .map(|t| {
                let pc = &pc;
                s.spawn(move || {
                    let mut model = Model::new();
                    let mut pages: Vec<PageRef<Vec<u32>>> = (0..20)
                        .map(|i| pc.allocate(vec![t, i]).expect("allocate"))
                        .collect();
                    for p in &pages {
                        model.insert(p.pid(), p.value().clone());
                    }
                    for step in 0..1500u32 {
                        let i = (step as usize * 7 + t as usize) % pages.len();
                        let next = match step % 3 {
                            0 => pc.replace(&pages[i], vec![t, step]),
                            _ => pc.link(&pages[i], vec![step]),
                        };
                        let Update::Applied(Some(next)) = next.expect("update") else {
                            panic!("a page only its thread updates lost an update");
                        };
                        model.insert(next.pid(), next.value().clone());
                        pages[i] = next;
                        if step % 100 == 0 {
                            pc.flush().expect("flush");
                        }
                    }
                    model
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    pc.flush().expect("flush");
    let stats = pc.stats();
    assert!(stats.snapshots > 3 && stats.gc_rewrites > 0, "{stats:?}");
    pc.abandon();
    let model: Model = models.into_iter().flatten().collect();
    let disk = disk.crash();
    let pc = open_checked(&config, &disk, &model, "after concurrent writers");
    assert!(pc.stats().open_snapshot.is_some());
    let (restored, _) = restore(pc.log(), FIRST_PAGE).expect("restore");
    let whole = Replay::whole(pc.log(), FIRST_PAGE).expect("full replay");
    assert!(
        restored.same_state(&whole),
        "snapshot and tail differ from the log"
    );
}

#[test]
fn a_page_cache_log_refuses_every_write_from_outside() {
    // A newcomer took a snapshot for a checkpoint and truncated the log below it:
    // every page was lost. Another appended a note through `pc.log()`: the store no
    // longer opened (a message the page cache did not write is damage to it). The
    // log is the pages' only home, so every write through its handle is refused.
    for mode in [SegmentMode::Linear, SegmentMode::Gc] {
        let config = config(mode, 0);
        let disk = SimStorage::new(41);
        let pc = open(&config, &disk);
        let mut d = Driver::new(41);
        for _ in 0..40 {
            d.step(&pc);
        }
        pc.flush().expect("flush");
        let lsn = pc.snapshot().expect("snapshot");
        let messages = pc.log().stats().messages;
        let log = pc.log();
        let refused: Vec<(&str, Error)> = vec![
            ("append", log.append(b"note").expect_err("append")),
            (
                "write",
                log.write(pagelog::Kind::Replace, 3, b"x")
                    .expect_err("write"),
            ),
            (
                "reserve",
                log.reserve(pagelog::Kind::Append, 0, b"x")
                    .map(|_| ())
                    .expect_err("reserve"),
            ),
            (
                "try_reserve",
                log.try_reserve(pagelog::Kind::Append, 0, b"x")
                    .map(|_| ())
                    .expect_err("try_reserve"),
            ),
            (
                "pin_batch",
                log.pin_batch().map(|_| ()).expect_err("pin_batch"),
            ),
            (
                "try_pin_batch",
                log.try_pin_batch().map(|_| ()).expect_err("try_pin_batch"),
            ),
            (
                "append_batch",
                log.append_batch(&[b"a", b"b"]).expect_err("append_batch"),
            ),
            (
                "truncate_before",
                log.truncate_before(lsn).expect_err("truncate_before"),
            ),
            (
                "try_truncate_before",
                log.try_truncate_before(lsn)
                    .expect_err("try_truncate_before"),
            ),
        ];
        for (call, e) in refused {
            assert!(
                matches!(e, Error::InvalidArgument(_)),
                "{mode:?} {call}: {e}"
            );
        }
        assert_eq!(
            pc.log().stats().messages,
            messages,
            "{mode:?}: a refused call wrote"
        );
        d.step(&pc);
        pc.close().expect("close");
        let pc = open(&config, &disk);
        assert_pages(&pc, &d.model, "after the refused writes");
    }
}
