//! Risk: an atomic batch across pages is seen half applied: by a reader while it is
//! being applied, after a lost race that should have changed nothing, or after a
//! crash (part of its messages recovered).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::Numbers;
use pagelog::io::SimStorage;
use pagelog::{BatchUpdate, Config, Error, PageBatch, PageCache, PageRef, Update};

fn open(disk: &SimStorage) -> PageCache<Numbers> {
    PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Numbers).expect("open")
}

fn value(pc: &PageCache<Numbers>, pid: u64) -> Option<Vec<u32>> {
    pc.get(pid).expect("get").map(|p| p.value().clone())
}

#[test]
fn a_batch_applies_every_update_or_after_a_lost_race_none() {
    let disk = SimStorage::new(1);
    let pc = open(&disk);
    let [a, b, c]: [PageRef<Vec<u32>>; 3] =
        [1, 2, 3].map(|n| pc.allocate(vec![n]).expect("allocate"));
    let mut batch = PageBatch::new();
    batch.link(&a, vec![10]).replace(&b, vec![20]).free(&c);
    let BatchUpdate::Applied(now) = pc.apply(batch).expect("apply") else {
        panic!("nothing raced this batch");
    };
    assert_eq!(now.len(), 3);
    assert_eq!(now[0].as_ref().expect("a").value(), &[1, 10]);
    assert!(now[2].is_none(), "c was freed");
    assert_eq!(value(&pc, a.pid()), Some(vec![1, 10]));
    assert_eq!(value(&pc, b.pid()), Some(vec![20]));
    assert_eq!(value(&pc, c.pid()), None);
    // `a` is stale now: a batch through it loses and changes nothing, not even b.
    let b_now = now[1].clone().expect("b");
    let messages = pc.log().stats().messages;
    let mut lost = PageBatch::new();
    lost.replace(&b_now, vec![99]).link(&a, vec![11]);
    match pc.apply(lost).expect("apply") {
        BatchUpdate::Lost {
            pid,
            current,
            batch,
        } => {
            assert_eq!(pid, a.pid());
            assert_eq!(current.expect("live").value(), &[1, 10]);
            assert_eq!(batch.len(), 2, "the batch comes back");
        }
        other => panic!("a stale batch applied: {other:?}"),
    }
    assert_eq!(
        value(&pc, b.pid()),
        Some(vec![20]),
        "b was held and released"
    );
    assert_eq!(pc.log().stats().messages, messages, "a lost batch wrote");
    // Released: a single update on b goes through.
    let u = pc.link(&b_now, vec![21]).expect("link");
    assert!(matches!(u, Update::Applied(_)), "{u:?}");
    let mut twice = PageBatch::new();
    twice.link(&b_now, vec![1]).link(&b_now, vec![2]);
    assert!(matches!(pc.apply(twice), Err(Error::InvalidArgument(_))));
    // The freed id is handed out again.
    assert_eq!(pc.allocate(vec![7]).expect("allocate").pid(), c.pid());
}

#[test]
fn a_crash_recovers_a_batch_whole_or_not_at_all() {
    let (mut whole, mut none) = (0, 0);
    for seed in 0..60 {
        let disk = SimStorage::new(seed);
        let pc = open(&disk);
        let pages: Vec<_> = (0..4)
            .map(|n| pc.allocate(vec![n]).expect("allocate"))
            .collect();
        pc.flush().expect("flush");
        let mut batch = PageBatch::new();
        for (i, p) in pages.iter().enumerate() {
            // Values big enough that the batch spans buffers.
            batch.link(p, vec![100 + i as u32; 150 + seed as usize * 7]);
        }
        let applied = pc.apply(batch).expect("apply");
        assert!(matches!(applied, BatchUpdate::Applied(_)));
        if seed % 3 == 0 {
            pc.flush().expect("flush");
        }
        pc.abandon();
        let pc = open(&disk.crash());
        let linked: Vec<bool> = pages
            .iter()
            .map(|p| value(&pc, p.pid()).expect("live").len() > 1)
            .collect();
        assert!(
            linked.iter().all(|&l| l) || linked.iter().all(|&l| !l),
            "seed {seed}: part of a batch recovered: {linked:?}"
        );
        if seed % 3 == 0 {
            assert!(linked[0], "seed {seed}: a flushed batch was lost");
        }
        if linked[0] { whole += 1 } else { none += 1 }
    }
    // The flushed third come back whole; of the rest, whose buffers a crash tears
    // mid-batch, none may come back in part.
    assert!(
        whole >= 20 && none > 5,
        "both outcomes: {whole} whole, {none} lost"
    );
}

/// Two pages hold amounts that batches move between them, so their sum never
/// changes. Readers read A, then B, then A again: when A did not change in between,
/// A and B came from one state, and the sum must hold. Single-page writers race the
/// batches and must lose or apply whole.
#[test]
fn readers_never_see_half_a_batch() {
    const TOTAL: u32 = 1_000;
    let disk = SimStorage::new(9);
    let config = Config {
        cache_capacity_bytes: 64,
        ..Config::for_simulation()
    };
    let pc = PageCache::open(config, Arc::new(disk), Numbers).expect("open");
    let a = pc.allocate(vec![TOTAL]).expect("a").pid();
    let b = pc.allocate(vec![0]).expect("b").pid();
    let stop = AtomicBool::new(false);
    // The mover goes on until the reader and the writer have raced it enough (a
    // loaded machine may starve them for a while), up to a cap the assert reports.
    let (checks, writes) = (AtomicU64::new(0), AtomicU64::new(0));
    let raced = || checks.load(Ordering::Relaxed) > 100 && writes.load(Ordering::Relaxed) > 10;
    let checked = std::thread::scope(|s| {
        let mover = s.spawn(|| {
            let mut moved = 0;
            while moved < 3_000 || (!raced() && moved < 1_000_000) {
                let (pa, pb) = (
                    pc.get(a).expect("a").expect("a"),
                    pc.get(b).expect("b").expect("b"),
                );
                let n = moved % 7 + 1;
                let (va, vb) = (pa.value()[0], pb.value()[0]);
                let (na, nb) = if va >= n {
                    (va - n, vb + n)
                } else {
                    (va + vb, 0)
                };
                let mut batch = PageBatch::new();
                batch.replace(&pa, vec![na]).replace(&pb, vec![nb]);
                if let BatchUpdate::Applied(_) = pc.apply(batch).expect("apply") {
                    moved += 1;
                }
            }
            stop.store(true, Ordering::Relaxed);
        });
        let reader = s.spawn(|| {
            let mut checked = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let a1 = pc.get(a).expect("a").expect("a");
                let b1 = pc.get(b).expect("b").expect("b");
                let a2 = pc.get(a).expect("a").expect("a");
                if a1.version() == a2.version() {
                    assert_eq!(
                        a1.value()[0] + b1.value()[0],
                        TOTAL,
                        "half a batch seen: a {:?} b {:?}",
                        a1.value(),
                        b1.value()
                    );
                    checked += 1;
                    checks.fetch_add(1, Ordering::Relaxed);
                }
            }
            checked
        });
        // A single-page writer that rewrites A with what it read: it must lose while
        // a batch holds A, and may win between batches (keeping the sum).
        let writer = s.spawn(|| {
            let mut wins = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let pa = pc.get(a).expect("a").expect("a");
                let same = pa.value().clone();
                let won = pc.replace(&pa, same).expect("replace").is_applied();
                wins += u64::from(won);
                writes.fetch_add(u64::from(won), Ordering::Relaxed);
            }
            wins
        });
        mover.join().expect("mover");
        let wins = writer.join().expect("writer");
        (reader.join().expect("reader"), wins)
    });
    let (checked, wins) = checked;
    assert!(
        checked > 100 && wins > 10,
        "{checked} reads checked, {wins} single writes"
    );
    let sum = value(&pc, a).expect("a")[0] + value(&pc, b).expect("b")[0];
    assert_eq!(sum, TOTAL);
}

/// Found by a newcomer's trial: a batch larger than the IO buffers can hold waited
/// for space forever (and `try_apply` said `WouldBlock`, so a retry loop spun). It is
/// refused up front, nothing changed, and a batch that fits still applies.
#[test]
fn a_batch_too_large_for_the_buffers_is_refused_not_a_hang() {
    // Under a watchdog: a regression must fail with this test's name, not stall CI.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        oversized_batch();
        let _ = done.send(());
    });
    match finished.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(()) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("apply hung on an oversized batch")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("the check panicked"),
    }
}

fn oversized_batch() {
    let pc = open(&SimStorage::new(3));
    let config = pc.log().config().clone();
    let ring = config.io_bufs * config.io_buf_size_bytes;
    let value_len = config.blob_threshold_bytes / 4; // u32 words: inline, not a blob
    let n = ring / (value_len * 4) + 2; // more than the whole ring holds
    let pages: Vec<_> = (0..n)
        .map(|i| pc.allocate(vec![i as u32]).expect("allocate"))
        .collect();
    let big = |pages: &[PageRef<Vec<u32>>]| {
        let mut batch = PageBatch::new();
        for p in pages {
            batch.replace(p, vec![7; value_len]);
        }
        batch
    };
    for result in [pc.apply(big(&pages)), pc.try_apply(big(&pages))] {
        match result {
            Err(Error::InvalidArgument(why)) => assert!(why.contains("io_bufs"), "{why}"),
            other => panic!("an oversized batch gave {other:?}"),
        }
    }
    assert_eq!(value(&pc, pages[0].pid()), Some(vec![0]), "nothing changed");
    let fits = pc.apply(big(&pages[..2])).expect("a batch that fits");
    assert!(matches!(fits, BatchUpdate::Applied(_)));
}

/// Found by the kv example's concurrent test (a rare hang): a log batch holds its
/// manifest's IO buffer open until sealed, so when other writers filled the rest of
/// the ring while a batch was reserving its members, the ring could not turn and
/// every thread waited forever. Three threads link small deltas flat out while one
/// applies batches, on a small ring, under a watchdog.
#[test]
fn batches_racing_a_busy_ring_never_hang() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        busy_ring_batches();
        let _ = done.send(());
    });
    match finished.recv_timeout(std::time::Duration::from_secs(120)) {
        Ok(()) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("batches and linkers hung on a full ring")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("the check panicked"),
    }
}

fn busy_ring_batches() {
    let config = Config {
        io_bufs: 3,
        io_buf_size_bytes: 4096,
        segment_size_bytes: 16 << 10,
        blob_threshold_bytes: 512,
        ..Config::default()
    };
    let pc = PageCache::open(config, Arc::new(SimStorage::new(13)), Numbers).expect("open");
    let pids: Vec<u64> = (0..16)
        .map(|i| pc.allocate(vec![i]).expect("a").pid())
        .collect();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for t in 0..3_usize {
            let (pc, pids, stop) = (&pc, &pids, &stop);
            s.spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let pid = pids[4 + (i * 3 + t) % 12];
                    let page = pc.get(pid).expect("get").expect("page");
                    let _ = pc.link(&page, vec![1; 40]).expect("link");
                    i += 1;
                }
            });
        }
        for round in 0..3_000_u32 {
            let (a, b) = (pids[(round % 4) as usize], pids[((round + 1) % 4) as usize]);
            let (pa, pb) = (
                pc.get(a).expect("a").expect("a"),
                pc.get(b).expect("b").expect("b"),
            );
            let mut batch = PageBatch::new();
            batch
                .replace(&pa, vec![round; 60])
                .replace(&pb, vec![round; 60]);
            pc.apply(batch).expect("apply");
        }
        stop.store(true, Ordering::Relaxed);
    });
}
