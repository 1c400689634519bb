//! Risk: a call that can never return hangs the caller instead of failing.
//!
//! A buffer is written only once every claim in it is complete, so a thread that holds
//! an open reservation (or batch) and then waits for the stable lsn to pass it, or for
//! its buffer to be free again, waits forever: nothing but that thread could complete
//! it. Those blocking calls now return `Error::WouldDeadlock` naming the held lsn.
//! Every case runs under a watchdog, so a regression fails with the case's name
//! instead of stalling the test run.

mod common;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use common::{Numbers, recovered};
use pagelog::io::SimStorage;
use pagelog::{Config, Error, Kind, Log, PageBatch, PageCache, SegmentMode};

/// Runs `case` on its own thread; fails the test if it does not finish in time.
fn watchdog(name: &str, case: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        case();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => worker.join().expect("the case"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = worker.join().expect_err("the case panicked");
            std::panic::resume_unwind(panic);
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name}: hung (a call never returned)"),
    }
}

fn log(mode: SegmentMode) -> Log {
    let config = Config {
        segment_mode: mode,
        ..Config::for_simulation()
    };
    Log::open(config, Arc::new(SimStorage::new(3))).expect("open")
}

/// The held lsn a `WouldDeadlock` names.
fn held(e: &Error) -> u64 {
    match e {
        Error::WouldDeadlock { held, .. } => *held,
        other => panic!("expected WouldDeadlock, got {other}"),
    }
}

#[test]
fn flush_and_make_stable_past_an_own_reservation_fail_and_change_nothing() {
    watchdog("flush past an own reservation", || {
        let log = log(SegmentMode::Gc);
        let before = log.append(b"flushed").expect("append");
        log.flush().expect("flush");
        let r = log.reserve(Kind::Append, 0, b"held").expect("reserve");
        let lsn = r.lsn();
        assert_eq!(held(&log.flush().expect_err("flush")), lsn);
        assert_eq!(held(&log.make_stable(lsn).expect_err("make_stable")), lsn);
        let e = log.make_stable(lsn + 1).expect_err("past it");
        assert!(e.to_string().contains(&format!("lsn {lsn}")), "{e}");
        // Below the held claim's buffer there is nothing to wait for.
        log.make_stable(before.lsn).expect("an lsn already stable");
        // The twins say so too, instead of a WouldBlock no retry could cure.
        let e = log.try_flush().expect_err("try_flush");
        assert_eq!(held(&e), lsn);
        assert!(
            e.to_string().contains("try_flush would wait"),
            "names the call: {e}"
        );
        assert_eq!(
            held(&log.try_make_stable(lsn).expect_err("try_make_stable")),
            lsn
        );
        let ptr = r.complete().expect("complete");
        log.flush().expect("flush once the reservation is complete");
        assert_eq!(log.read(ptr).expect("read").value, b"held");
    });
}

#[test]
fn an_open_batch_blocks_its_own_flush_and_truncation() {
    watchdog("flush inside an open batch", || {
        let log = log(SegmentMode::Linear);
        let first = log.append(b"one").expect("append");
        let mut batch = log.pin_batch().expect("batch");
        let manifest = batch.lsn();
        batch.append(b"two").expect("append in the batch");
        assert_eq!(held(&log.flush().expect_err("flush")), manifest);
        let e = log
            .truncate_before(first.lsn + 1)
            .expect_err("truncate_before");
        assert_eq!(held(&e), manifest, "and it wrote nothing");
        batch.seal().expect("seal");
        log.flush().expect("flush after the seal");
        let values: Vec<Vec<u8>> = recovered(&log).into_iter().map(|(_, v)| v).collect();
        assert_eq!(values, [b"one".to_vec(), b"two".to_vec()]);
    });
}

#[test]
fn a_batch_larger_than_the_ring_fails_instead_of_waiting_for_itself() {
    watchdog("a batch larger than the ring", || {
        let log = log(SegmentMode::Gc);
        let ring = log.config().io_bufs * log.config().io_buf_size_bytes;
        let mut batch = log.pin_batch().expect("batch");
        let value = vec![5; 200];
        let mut reserved = Vec::new();
        let e = loop {
            match batch.reserve(Kind::Append, 1, &value) {
                Ok(r) => reserved.push(r),
                Err(e) => break e,
            }
            assert!(reserved.len() * 200 < 4 * ring, "the ring never filled");
        };
        assert!(
            held(&e) == batch.lsn() || reserved.iter().any(|r| r.lsn() == held(&e)),
            "{e}"
        );
        for r in reserved {
            r.abort().expect("abort");
        }
        batch.seal().expect("seal");
        log.append(b"after").expect("the log goes on");
        log.flush().expect("flush");
    });
}

#[test]
fn another_thread_s_reservation_is_waited_for_not_refused() {
    watchdog("flush waits for another thread", || {
        let log = Arc::new(log(SegmentMode::Gc));
        let (held_tx, held_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let writer = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let r = log.reserve(Kind::Append, 0, b"theirs").expect("reserve");
                held_tx.send(r.lsn()).expect("send");
                go_rx.recv().expect("go");
                r.complete().expect("complete")
            })
        };
        let lsn = held_rx.recv().expect("held");
        let flusher = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || log.make_stable(lsn))
        };
        std::thread::sleep(Duration::from_millis(50));
        go_tx.send(()).expect("go");
        let ptr = writer.join().expect("writer");
        flusher.join().expect("flusher").expect("made stable");
        assert_eq!(log.read(ptr).expect("read").value, b"theirs");
    });
}

#[test]
fn a_page_batch_larger_than_the_ring_fails_at_once_and_leaves_the_pages() {
    watchdog("a page batch larger than the ring", || {
        let disk = SimStorage::new(4);
        let pc = PageCache::open(Config::for_simulation(), Arc::new(disk), Numbers).expect("open");
        let ring = pc.log().config().io_bufs * pc.log().config().io_buf_size_bytes;
        let value: Vec<u32> = (0..100).collect();
        let pages: Vec<_> = (0..(ring / 300 + 8))
            .map(|_| pc.allocate(vec![1]).expect("allocate"))
            .collect();
        let mut batch = PageBatch::new();
        for p in &pages {
            batch.replace(p, value.clone());
        }
        // Refused before anything is reserved: it could never fit the ring.
        let e = pc.apply(batch).expect_err("a batch the ring cannot hold");
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        for p in &pages {
            let now = pc.get(p.pid()).expect("get").expect("live");
            assert_eq!(now.value(), &vec![1], "page {} changed", p.pid());
        }
        pc.allocate(vec![2]).expect("the page cache goes on");
        pc.flush().expect("flush");
    });
}
