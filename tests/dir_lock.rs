//! Risk: two logs write one directory and each overwrites the other's acknowledged
//! records.
//!
//! Regression (issue 14, defect 1): two processes opened the same directory, each
//! wrote 200 records with a flush after every one, every flush returned Ok, and a
//! reopen found 7 records of one and 200 of the other. The old code had no lock: the
//! second open succeeded. Now `Log::open` takes the storage's lock first (an `flock`
//! on `LOCK` for real files) and a second open, from this process or another, fails
//! at once with `Error::Locked` naming the directory, before reading or writing
//! anything.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use pagelog::io::{SimStorage, StdStorage};
use pagelog::{Config, Error, Kind, Log};

const HOLDER_ENV: &str = "PAGELOG_LOCK_HOLDER_DIR";

fn open(dir: &Path) -> pagelog::Result<Log> {
    Log::open(Config::default(), Arc::new(StdStorage::open(dir)?))
}

fn assert_locked(result: pagelog::Result<Log>, dir: &Path) {
    match result {
        Err(Error::Locked { path }) => {
            assert_eq!(path, dir.display().to_string());
            let text = Error::Locked { path }.to_string();
            assert!(text.contains(&dir.display().to_string()), "{text}");
            assert!(text.contains("already open"), "{text}");
        }
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!(
            "a second log opened {} while another held it",
            dir.display()
        ),
    }
}

#[test]
fn a_second_log_in_this_process_is_refused_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = open(dir.path()).expect("first open");
    first.write(Kind::Append, 1, b"mine").expect("write");
    first.flush().expect("flush");
    let before = std::fs::read(dir.path().join("log")).expect("log bytes");
    assert_locked(open(dir.path()), dir.path());
    let after = std::fs::read(dir.path().join("log")).expect("log bytes");
    assert_eq!(before, after, "the refused open changed the log file");
    drop(first);
    let again = open(dir.path()).expect("open after the first was dropped");
    let values: Vec<Vec<u8>> = again
        .iter_from(0)
        .expect("iter")
        .map(|m| m.expect("message").value)
        .collect();
    assert_eq!(values, [b"mine".to_vec()]);
}

/// The child side of the next test: opens the log in `dir`, says so, and holds it
/// until its stdin closes.
#[test]
fn lock_holder_child() {
    let Some(dir) = std::env::var_os(HOLDER_ENV) else {
        return; // only meaningful when spawned by the test below
    };
    let log = open(Path::new(&dir)).expect("child open");
    log.write(Kind::Append, 7, b"child").expect("child write");
    log.flush().expect("child flush");
    println!("holding");
    std::io::stdout().flush().expect("flush stdout");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

/// Starts this test binary's `lock_holder_child` on `dir`.
fn spawn_holder(dir: &Path) -> Child {
    Command::new(std::env::current_exe().expect("own path"))
        .args([
            "--exact",
            "lock_holder_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLDER_ENV, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn holder")
}

#[test]
fn a_log_held_by_another_process_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = spawn_holder(dir.path());
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let holding = lines.any(|l| l.expect("read child").contains("holding"));
    assert!(holding, "the child never opened the log");
    assert_locked(open(dir.path()), dir.path());
    drop(child.stdin.take()); // the child lets go and exits
    lines.for_each(drop);
    let status = child.wait().expect("reap child");
    assert!(status.success(), "child failed: {status}");
    let log = open(dir.path()).expect("open once the child exited");
    let m = log
        .iter_from(0)
        .expect("iter")
        .next()
        .expect("one")
        .expect("ok");
    assert_eq!(m.value, b"child");
}

#[test]
fn a_killed_holder_leaves_no_stale_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = spawn_holder(dir.path());
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    assert!(lines.any(|l| l.expect("read").contains("holding")));
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    open(dir.path()).expect("the kernel dropped the dead holder's lock");
}

#[test]
fn the_simulated_disk_has_the_same_lock_and_a_crash_frees_it() {
    let disk = SimStorage::new(3);
    let first = Log::open(Config::default(), Arc::new(disk.clone())).expect("first");
    let second = Log::open(Config::default(), Arc::new(disk.clone()));
    assert!(matches!(second, Err(Error::Locked { .. })), "{second:?}");
    // A power cut ends the holder's process: the rebooted disk is free.
    let rebooted = disk.crash();
    Log::open(Config::default(), Arc::new(rebooted)).expect("open after a crash");
    drop(first);
}
