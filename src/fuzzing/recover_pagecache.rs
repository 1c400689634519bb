//! Fuzz body `recover_pagecache`: a page cache's open reads snapshot files and a log
//! damaged as the input says, or a snapshot file that is the input itself.
//!
//! A seeded workload (byte 0 picks the seed and the segment mode) builds a small page
//! cache with two snapshots and a log tail past the newer one, all flushed; its model
//! is every page's value. Then, by the high bit of byte 0:
//!
//! - clear: the rest of the input is damage records of 4 bytes, `[what][offset:
//!   u16][xor]`: `what % 4` is 0 (flip bits of the newer snapshot), 1 (of the older),
//!   2 (of the log) or 3 (cut the newer snapshot to `offset` bytes); offsets wrap
//!   around the file's length;
//! - set: the newer snapshot's bytes are replaced by the rest of the input.
//!
//! Checks: the open never panics, hangs or allocates beyond the files' sizes. With
//! the log undamaged, it succeeds and every page equals the model, whatever the
//! snapshots hold, unless the input is a snapshot file that decodes (a well-formed
//! snapshot with a valid checksum is trusted, as a forged one would be; then pages
//! read back as values or `Corruption`, never a panic). With the log damaged, the
//! open succeeds or fails with `Corruption`, and a success equals what a full replay
//! of the log, reading no snapshot, rebuilds. A second open equals the first (I7).

use std::collections::BTreeMap;

use crate::config::{Config, SegmentMode};
use crate::error::{Error, Result};
use crate::io::{OpenMode, SimStorage, Storage};
use crate::log::LOG_FILE;
use crate::pagecache::checkpoint;
use crate::pagecache::recover::Replay;
use crate::pagecache::snapshot;
use crate::pagecache::{FIRST_PAGE, PageCache, PageId, Update};
use crate::sync::Arc;

/// Pages of bytes; a delta is appended, so a lost or repeated delta shows.
use crate::pagecache::AppendBytes as Chain;

type Pages = BTreeMap<PageId, Vec<u8>>;

fn config(selector: u8) -> Config {
    let mode = match selector & 1 {
        0 => SegmentMode::Gc,
        _ => SegmentMode::Linear,
    };
    Config {
        segment_size_bytes: 1024,
        io_buf_size_bytes: 1024,
        io_bufs: 2,
        blob_threshold_bytes: 200,
        segment_mode: mode,
        snapshot_every_bytes: 0,
        ..Config::default()
    }
}

/// Runs one input. Panics if the open panics or a check above fails.
pub fn recover_pagecache(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let config = config(selector);
    let (disk, model) = store(&config, u64::from(selector & 0x7f));
    let names: Vec<String> = snapshot::list(&disk)
        .expect("list")
        .into_iter()
        .map(snapshot::file_name)
        .collect();
    assert_eq!(names.len(), 2, "the store has two snapshots");
    let (newer, older) = (&names[0], &names[1]);
    let mut trusted = false;
    let mut log_damaged = false;
    if selector & 0x80 != 0 {
        let size = config.segment_size_bytes;
        trusted = snapshot::decode(newer, rest, size, FIRST_PAGE).is_ok();
        replace(&disk, newer, rest);
    } else {
        for r in rest.chunks_exact(4) {
            let offset = u64::from(u16::from_le_bytes([r[1], r[2]]));
            let name = match r[0] % 4 {
                0 | 3 => newer.as_str(),
                1 => older.as_str(),
                _ => LOG_FILE,
            };
            log_damaged |= name == LOG_FILE && r[3] != 0;
            damage(&disk, name, offset, r[0] % 4 == 3, r[3]);
        }
    }
    let first = read_all(&config, &disk);
    let again = read_all(&config, &disk);
    match (&first, log_damaged) {
        (Ok(pages), false) if !trusted => assert_eq!(pages, &model, "pages after the open"),
        (Ok(_), true) => match same_as_full_replay(&config, &disk) {
            Ok(same) => assert!(same, "snapshots and tail differ from a full replay"),
            Err(e) => panic!("the open succeeded, a full replay failed: {e}"),
        },
        (Err(e), true) => assert!(e.is_corruption(), "not a Corruption: {e}"),
        (Err(e), false) => assert!(trusted && e.is_corruption(), "open failed: {e}"),
        (Ok(_), false) => {}
    }
    assert_eq!(
        first.map_err(|e| e.to_string()),
        again.map_err(|e| e.to_string()),
        "a second open differs (I7)"
    );
}

/// The seeded store and its model.
fn store(config: &Config, seed: u64) -> (SimStorage, Pages) {
    let disk = SimStorage::new(seed);
    let pc = PageCache::open(config.clone(), Arc::new(disk.clone()), Chain).expect("open");
    let mut model = Pages::new();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for round in 0..3 {
        for i in 0..16_u8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            step(&pc, &mut model, x, i).expect("a fault-free step");
        }
        pc.flush().expect("flush");
        if round < 2 {
            pc.snapshot().expect("snapshot");
        }
    }
    pc.close().expect("close");
    (disk, model)
}

/// One update picked by `x`.
fn step(pc: &PageCache<Chain>, model: &mut Pages, x: u64, i: u8) -> Result<()> {
    let value = vec![i; (x % 40) as usize + 1];
    let target = match model.len() {
        0 => None,
        n => model.keys().nth((x >> 8) as usize % n).copied(),
    };
    let Some(pid) = target.filter(|_| x % 5 != 0) else {
        let p = pc.allocate(value.clone())?;
        model.insert(p.pid(), value);
        return Ok(());
    };
    let page = pc.get(pid)?.expect("a live page");
    match (x >> 16) % 6 {
        0 => {
            let Update::Applied(_) = pc.free(&page)? else {
                panic!("one writer lost a free")
            };
            model.remove(&pid);
        }
        1 => {
            let Update::Applied(_) = pc.replace(&page, value.clone())? else {
                panic!("one writer lost a replace")
            };
            model.insert(pid, value);
        }
        _ => {
            let Update::Applied(_) = pc.link(&page, value.clone())? else {
                panic!("one writer lost a link")
            };
            model.get_mut(&pid).expect("live").extend(value);
        }
    }
    Ok(())
}

/// Flips bits (`xor`) of the byte at `offset` of `name` (wrapped), or cuts it there.
fn damage(disk: &SimStorage, name: &str, offset: u64, cut: bool, xor: u8) {
    let len = disk.file_len(name).expect("the file exists");
    if len == 0 {
        return;
    }
    if cut {
        let file = disk.open(name, OpenMode::Existing).expect("open");
        file.set_len(offset % len).expect("set_len");
        file.sync().expect("sync");
        return;
    }
    for bit in 0..8 {
        if xor & (1 << bit) != 0 {
            disk.flip_bit(name, offset % len, bit).expect("flip");
        }
    }
}

/// Replaces `name` with `bytes`, durably.
fn replace(disk: &SimStorage, name: &str, bytes: &[u8]) {
    let file = disk.open(name, OpenMode::Existing).expect("open");
    file.set_len(0).expect("set_len");
    file.write_at(bytes, 0).expect("write");
    file.sync().expect("sync");
}

/// Every page of a read-only open, or its error (a page that fails to read is that
/// page's error).
fn read_all(config: &Config, disk: &SimStorage) -> Result<Pages> {
    let ro = Config {
        read_only: true,
        ..config.clone()
    };
    let pc = PageCache::open(ro, Arc::new(disk.clone()), Chain)?;
    let mut pages = Pages::new();
    for pid in pc.page_ids() {
        let page = pc
            .get(pid)?
            .ok_or_else(|| Error::corruption(LOG_FILE, 0, "gone"))?;
        pages.insert(pid, page.value().clone());
    }
    Ok(pages)
}

/// Whether the state an open restores (snapshots and the log's tail) is the one a
/// replay of the whole log, reading no snapshot, gives: the same fragments for every
/// page, roots and lease (versions aside: a full replay of a Gc log no longer sees
/// the updates it reclaimed). An error from either side is returned.
fn same_as_full_replay(config: &Config, disk: &SimStorage) -> Result<bool> {
    let ro = Config {
        read_only: true,
        ..config.clone()
    };
    let pc = PageCache::open(ro, Arc::new(disk.clone()), Chain)?;
    let log = pc.log();
    let (restored, _) = checkpoint::restore(log, FIRST_PAGE)?;
    Ok(restored.same_state(&Replay::whole(log, FIRST_PAGE)?))
}
