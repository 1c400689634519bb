//! `pagelog-sim inspect` and `verify` on real directories, as a user runs them: an
//! intact page cache, one a killed process left behind, one with a flipped byte,
//! one whose live Gc segment lost its header, a missing directory and one in use.
//! Both must write nothing: every file is compared byte for byte before and after.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::sim;
use pagelog::{Config, Log, PageCache};

use pagelog::AppendBytes as Bytes;

/// Small segments, so a short workload spans several and Gc frees some.
fn config() -> Config {
    Config::new().segment_size(4096).blob_threshold(600)
}

/// A page cache in `dir` holding 40 pages, rewritten and linked, one blob-sized
/// page, a snapshot taken halfway; closed cleanly unless `kill`.
fn write_store(dir: &Path, kill: bool) {
    let pc = PageCache::open(config(), std::sync::Arc::new(storage(dir)), Bytes).expect("open");
    let mut pages: Vec<_> = (0..40u8)
        .map(|i| pc.allocate(vec![i; 40]).expect("allocate"))
        .collect();
    for round in 0..6u8 {
        if round == 3 {
            pc.flush().expect("flush");
            pc.snapshot().expect("snapshot");
        }
        for p in pages.iter_mut() {
            let update = if round % 2 == 0 {
                pc.replace(p, vec![round; 50])
            } else {
                pc.link(p, vec![round; 10])
            };
            if let Ok(pagelog::Update::Applied(Some(next))) = update {
                *p = next;
            }
        }
    }
    pc.allocate(vec![7; 2000]).expect("a blob page");
    pc.flush().expect("flush");
    if kill {
        pc.abandon();
    } else {
        pc.close().expect("close");
    }
    wait_unlocked(dir);
}

/// Waits until `dir`'s lock is free. A child another test thread forked copies the
/// open LOCK file until it execs (flock locks belong to the open file), so a lock
/// may outlive the store that took it by that moment, and a tool run right after
/// would find the directory in use (seen under load).
fn wait_unlocked(dir: &Path) {
    let free = (0..500).any(|_| {
        let taken = pagelog::io::Storage::lock(&storage(dir)).is_ok();
        if !taken {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        taken
    });
    assert!(
        free,
        "the lock is still held 5 s after the store was dropped"
    );
}

fn storage(dir: &Path) -> pagelog::io::StdStorage {
    pagelog::io::StdStorage::open(dir).expect("storage")
}

/// Every file's bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read"))
        })
        .collect()
}

fn path(dir: &tempfile::TempDir) -> &str {
    dir.path().to_str().expect("utf-8 path")
}

#[test]
fn inspect_shows_segments_blobs_and_the_tip_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_store(dir.path(), true);
    let before = files(dir.path());
    let (code, out) = sim(&["inspect", path(&dir)]);
    assert_eq!(code, 0, "{out}");
    for want in [
        "page cache",
        "from pagecache.conf",
        "recovered      tip lsn",
        "segments (",
        "live%",
        "Replace",
        "blobs (1 files",
        "snapshots (1 files",
        "usable",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let (code, json) = sim(&["inspect", "--json", path(&dir)]);
    assert_eq!(code, 0, "{json}");
    assert!(
        json.starts_with('{') && json.trim_end().ends_with('}'),
        "{json}"
    );
    for want in [
        "\"segments\":[{\"slot\":",
        "\"live_pct\":",
        "\"blobs\":[{\"lsn\":",
        "\"tip\":",
        "\"snapshots\":[{\"file\":\"snapshot.",
    ] {
        assert!(json.contains(want), "missing {want:?} in {json}");
    }
    // Flags that pagecache.conf contradicts are refused, not ignored; with --json an
    // error is one object too.
    for flags in [["--segment-size", "8192"], ["--mode", "linear"]] {
        let (code, out) = sim(&["inspect", flags[0], flags[1], path(&dir)]);
        assert_eq!(code, 1, "{flags:?}: {out}");
        assert!(
            out.contains(flags[0]) && out.contains("pagecache.conf says"),
            "{out}"
        );
    }
    let (code, out) = sim(&["inspect", "--segment-size", "4096", path(&dir)]);
    assert_eq!(code, 0, "the flag pagecache.conf agrees with: {out}");
    let missing = dir.path().join("missing");
    let (code, json) = sim(&["inspect", "--json", missing.to_str().expect("utf-8")]);
    assert_eq!(code, 1, "{json}");
    assert!(
        json.starts_with("{\"error\":") && json.contains("no such directory"),
        "{json}"
    );
    assert_eq!(files(dir.path()), before, "inspect changed a file");
}

#[test]
fn verify_passes_an_intact_store_and_a_killed_one_without_writing() {
    for kill in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        write_store(dir.path(), kill);
        let before = files(dir.path());
        let (code, out) = sim(&["verify", path(&dir)]);
        assert_eq!(code, 0, "kill {kill}: {out}");
        assert!(out.contains("pages: 41 read back whole"), "{out}");
        assert!(out.contains("snapshots: 1 checked"), "{out}");
        assert!(out.contains("ok: nothing damaged"), "{out}");
        // A killed store is one a writable open would change (zero the tip, write a
        // new segment header): verify must not.
        assert_eq!(
            files(dir.path()),
            before,
            "kill {kill}: verify changed a file"
        );
    }
}

#[test]
fn verify_reports_a_flipped_byte_and_a_destroyed_header_with_their_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_store(dir.path(), false);
    let log = dir.path().join("log");
    let intact = std::fs::read(&log).expect("log");
    // A byte inside a message of the first segment still in the log (Gc has freed
    // slot 0 and zeroed its header: bytes there are no longer part of the log).
    let first = (0..intact.len())
        .step_by(4096)
        .find(|&at| intact[at..at + 4] == *b"PGLS")
        .expect("a segment");
    let mut flipped = intact.clone();
    flipped[first + 300] ^= 0x10;
    std::fs::write(&log, &flipped).expect("write");
    let before = files(dir.path());
    let (code, out) = sim(&["verify", path(&dir)]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("DAMAGED: corruption at") && out.contains("log@"),
        "{out}"
    );
    assert_eq!(files(dir.path()), before, "verify changed a damaged file");
    let (code, out) = sim(&["inspect", path(&dir)]);
    assert_eq!(code, 0, "inspect shows a damaged log too: {out}");
    assert!(
        out.contains("DAMAGED") && out.contains("TolerateCorruptTail"),
        "{out}"
    );
    assert_eq!(files(dir.path()), before, "inspect changed a damaged file");
    // A flipped byte in a blob file's value: only reading every message back (its
    // blob checked against its checksum) finds it; recovery does not read blobs.
    std::fs::write(&log, &intact).expect("write");
    let blob = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("blob-"))
        })
        .expect("a blob file");
    let mut bytes = std::fs::read(&blob).expect("blob");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&blob, &bytes).expect("write");
    let (code, out) = sim(&["verify", path(&dir)]);
    assert_eq!(code, 1, "{out}");
    // Named with its directory, as the log's damage is (a trial saw the bare name).
    let shown = blob.to_str().expect("utf-8 path");
    assert!(out.contains(shown), "{out}");
    bytes[last] ^= 1;
    std::fs::write(&blob, &bytes).expect("write");
    // The segment table and the settings file are checked too, even where recovery
    // does not need them (a newcomer's trial found verify passing both damaged).
    for name in ["segments", "pagecache.conf"] {
        let file = dir.path().join(name);
        let good = std::fs::read(&file).expect(name);
        let mut bad = good.clone();
        // Past the settings file's comment line: its last digit.
        let at = bad.len() - 2;
        bad[at] ^= 0x41;
        std::fs::write(&file, &bad).expect("write");
        let (code, out) = sim(&["verify", path(&dir)]);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(
            out.contains("DAMAGED") && out.contains(name),
            "{name}: {out}"
        );
        std::fs::write(&file, &good).expect("write");
    }
    // Every live segment but the last loses its header in turn.
    let slots = intact.len().div_ceil(4096);
    let mut reported = 0;
    for slot in 0..slots.saturating_sub(1) {
        let at = slot * 4096;
        if intact[at..at + 4] != *b"PGLS" {
            continue;
        }
        let mut destroyed = intact.clone();
        destroyed[at..at + 40].fill(0);
        std::fs::write(&log, &destroyed).expect("write");
        let (code, out) = sim(&["verify", path(&dir)]);
        assert_eq!(code, 1, "slot {slot}: {out}");
        reported += 1;
    }
    assert!(reported >= 2, "only {reported} segments to destroy");
}

#[test]
fn a_damaged_snapshot_is_damage_to_verify_and_shown_by_inspect() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_store(dir.path(), false);
    let snap = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("snapshot."))
        })
        .expect("a snapshot file");
    let mut bytes = std::fs::read(&snap).expect("snapshot");
    bytes[60] ^= 0x08;
    std::fs::write(&snap, &bytes).expect("write");
    let before = files(dir.path());
    let (code, out) = sim(&["verify", path(&dir)]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("DAMAGED") && out.contains("snapshot.") && out.contains("checksum"),
        "{out}"
    );
    // It goes on: the rest of the store is checked and shown healthy.
    assert!(out.contains("pages: 41 read back whole"), "{out}");
    let (code, out) = sim(&["inspect", path(&dir)]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("damaged: corruption at snapshot."), "{out}");
    assert_eq!(files(dir.path()), before, "a tool changed a file");
    // The page cache itself still opens: from the log alone.
    let pc = PageCache::open(config(), std::sync::Arc::new(storage(dir.path())), Bytes)
        .expect("open falls back");
    assert_eq!(pc.stats().open_snapshot, None);
    assert_eq!(pc.stats().open_snapshots_skipped, 1);
    assert_eq!(pc.page_ids().len(), 41);
}

#[test]
fn verify_tells_an_unreadable_directory_from_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nothing-here");
    let (code, out) = sim(&["verify", missing.to_str().expect("utf-8")]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no such directory"), "{out}");
    assert!(!missing.exists(), "verify created the directory");
    let plain = dir.path().join("plain-file");
    std::fs::write(&plain, b"hello").expect("write");
    let (code, out) = sim(&["verify", plain.to_str().expect("utf-8")]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not a directory"), "{out}");
    std::fs::remove_file(&plain).expect("remove");
    let log = Log::open(config(), std::sync::Arc::new(storage(dir.path()))).expect("open");
    let (code, out) = sim(&["verify", path(&dir)]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("in use") || out.contains("lock"), "{out}");
    drop(log);
    wait_unlocked(dir.path());
    let (code, out) = sim(&["verify", "--mode", "linear", path(&dir)]);
    assert_eq!(code, 0, "an empty log, opened and closed: {out}");
}

/// A read-only bind mount of a directory, unmounted when dropped; None where one
/// cannot be made (not root, no `mount`).
struct ReadOnlyMount {
    at: tempfile::TempDir,
}

impl ReadOnlyMount {
    fn of(src: &Path) -> Option<ReadOnlyMount> {
        let at = tempfile::tempdir().expect("tempdir");
        let run = |args: &[&str]| {
            std::process::Command::new("mount")
                .args(args)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let dst = at.path().to_str().expect("utf-8 path").to_string();
        let dst = dst.as_str();
        if !run(&["--bind", src.to_str().expect("utf-8 path"), dst]) {
            return None;
        }
        let mount = ReadOnlyMount { at };
        run(&["-o", "remount,bind,ro", dst]).then_some(mount)
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.at.path())
            .output();
    }
}

#[test]
fn a_store_on_a_read_only_mount_is_read_and_verified_without_a_lock_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_store(dir.path(), false);
    std::fs::remove_file(dir.path().join("LOCK")).expect("remove LOCK");
    let before = files(dir.path());
    // A real read-only mount where this machine allows one (root); else the same
    // directory, where the checks below still show that nothing is created.
    let mount = ReadOnlyMount::of(dir.path());
    let target = mount.as_ref().map_or(dir.path(), |m| m.at.path());
    eprintln!("read-only mount: {}", mount.is_some());
    let ro = config().read_only(true);
    let storage = pagelog::io::StdStorage::open_read_only(target).expect("read-only storage");
    let pc = PageCache::open(ro.clone(), std::sync::Arc::new(storage.clone()), Bytes)
        .expect("a read-only open");
    let ids = pc.page_ids();
    assert_eq!(ids.len(), 41);
    for pid in ids {
        assert!(pc.get(pid).expect("get").is_some());
    }
    drop(pc);
    let log = ro.open(target).expect("a read-only log open");
    assert!(log.iter_from(0).expect("iter").count() > 41);
    drop(log);
    let writable = PageCache::open(config(), std::sync::Arc::new(storage), Bytes);
    assert!(writable.is_err(), "a writable open on read-only storage");
    let target = target.to_str().expect("utf-8 path");
    for cmd in ["verify", "inspect"] {
        let (code, out) = sim(&[cmd, target]);
        assert_eq!(code, 0, "{cmd}: {out}");
    }
    assert!(
        pagelog::io::StdStorage::open_read_only(dir.path().join("missing")).is_err()
            && !dir.path().join("missing").exists(),
        "a read-only storage created a missing directory"
    );
    drop(mount);
    assert_eq!(
        files(dir.path()),
        before,
        "a read-only open changed or created a file"
    );
}

/// A newcomer's trial: with `pagecache.conf` deleted, verify took the directory for a
/// plain log and passed it, while `PageCache::open` refused it.
#[test]
fn a_page_cache_without_its_settings_file_is_damage_not_a_plain_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_store(dir.path(), false);
    std::fs::remove_file(dir.path().join("pagecache.conf")).expect("remove");
    let refused = PageCache::open(config(), std::sync::Arc::new(storage(dir.path())), Bytes);
    assert!(
        refused.is_err(),
        "the page cache opens without its settings"
    );
    let before = files(dir.path());
    let (code, out) = sim(&["verify", path(&dir), "--segment-size", "4096"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("DAMAGED") && out.contains("pagecache.conf") && out.contains("snapshot"),
        "{out}"
    );
    assert!(out.contains("messages:"), "the log is still checked: {out}");
    let (code, out) = sim(&["inspect", path(&dir), "--segment-size", "4096"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("DAMAGED") && out.contains("pagecache.conf"),
        "{out}"
    );
    assert_eq!(files(dir.path()), before, "a tool changed a file");
}
