//! Risk: the real-file backend diverging from the storage contract the engine is
//! tested against on `SimStorage` (short reads returning garbage, names escaping the
//! directory, errors without a path, unsorted listings).

use std::io::ErrorKind;
use std::sync::Arc;

use pagelog::io::{File, OpenMode, StdStorage, Storage};

fn temp_storage() -> (tempfile::TempDir, StdStorage) {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = StdStorage::open(dir.path().join("db")).expect("open storage");
    (dir, storage)
}

#[test]
fn bytes_written_are_read_back_and_survive_reopen() {
    let (dir, s) = temp_storage();
    let f = s.open("seg.0", OpenMode::Create).expect("create");
    let data: Vec<u8> = (0..100_000_u32).map(|i| (i % 253) as u8).collect();
    f.write_at(&data, 4096).expect("write");
    f.sync().expect("sync");
    assert_eq!(f.len().expect("len"), 4096 + 100_000);
    drop(f);
    let s2 = StdStorage::open(dir.path().join("db")).expect("reopen");
    let f = s2.open("seg.0", OpenMode::Existing).expect("open");
    let mut back = vec![0; data.len()];
    f.read_at(&mut back, 4096).expect("read");
    assert!(back == data, "bytes differ after reopen");
    let mut hole = [1_u8; 4096];
    f.read_at(&mut hole, 0).expect("read hole");
    assert!(hole.iter().all(|&b| b == 0), "a hole reads as zeros");
}

#[test]
fn set_len_truncates_and_extends_with_zeros() {
    let (_dir, s) = temp_storage();
    let f = s.open("f", OpenMode::Create).expect("create");
    f.write_at(&[7; 1000], 0).expect("write");
    f.set_len(10).expect("truncate");
    assert_eq!(f.len().expect("len"), 10);
    f.set_len(20).expect("extend");
    let mut back = [9; 20];
    f.read_at(&mut back, 0).expect("read");
    assert_eq!(&back[..10], &[7; 10]);
    assert_eq!(&back[10..], &[0; 10]);
    assert!(!f.is_empty().expect("is_empty"));
}

#[test]
fn reading_past_the_end_is_unexpected_eof_naming_the_file() {
    let (_dir, s) = temp_storage();
    let f = s.open("short", OpenMode::Create).expect("create");
    f.write_at(&[1; 10], 0).expect("write");
    let err = f.read_at(&mut [0; 20], 0).expect_err("past end");
    assert_eq!(err.io_kind(), Some(ErrorKind::UnexpectedEof));
    let text = err.to_string();
    assert!(text.contains("read") && text.contains("short"), "{text}");
}

#[test]
fn open_modes_report_missing_and_existing_files() {
    let (_dir, s) = temp_storage();
    let err = s.open("nope", OpenMode::Existing).expect_err("missing");
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
    s.open("x", OpenMode::CreateNew).expect("create new");
    let err = s.open("x", OpenMode::CreateNew).expect_err("exists");
    assert_eq!(err.io_kind(), Some(ErrorKind::AlreadyExists));
    s.open("x", OpenMode::Create)
        .expect("create opens an existing file");
}

#[test]
fn rename_replaces_and_remove_deletes_and_list_is_sorted() {
    let (_dir, s) = temp_storage();
    for name in ["b", "a", "c", "snap.tmp", "snap"] {
        s.open(name, OpenMode::Create).expect("create");
    }
    let tmp = s.open("snap.tmp", OpenMode::Existing).expect("open");
    tmp.write_at(b"new", 0).expect("write");
    tmp.sync().expect("sync");
    s.rename("snap.tmp", "snap")
        .expect("rename over an existing name");
    s.remove("b").expect("remove");
    s.sync_dir().expect("sync_dir");
    assert_eq!(s.list().expect("list"), ["a", "c", "snap"]);
    let mut back = [0; 3];
    s.open("snap", OpenMode::Existing)
        .expect("open")
        .read_at(&mut back, 0)
        .expect("read");
    assert_eq!(&back, b"new");
    assert!(s.remove("b").expect_err("already gone").is_not_found());
    assert!(s.rename("zz", "a").expect_err("no source").is_not_found());
}

#[test]
fn names_cannot_escape_the_directory() {
    let (dir, s) = temp_storage();
    for bad in ["../escape", "/tmp/x", "..", "a/b", ""] {
        assert!(
            matches!(
                s.open(bad, OpenMode::Create),
                Err(pagelog::Error::InvalidArgument(_))
            ),
            "{bad:?} accepted"
        );
    }
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn threads_write_disjoint_ranges_of_one_file_concurrently() {
    let (_dir, s) = temp_storage();
    let f: Arc<dyn File> = Arc::from(s.open("shared", OpenMode::Create).expect("create"));
    let threads: Vec<_> = (0..4_u8)
        .map(|t| {
            let f = Arc::clone(&f);
            std::thread::spawn(move || {
                for i in 0..64_u64 {
                    let at = (u64::from(t) * 64 + i) * 512;
                    f.write_at(&[t + 1; 512], at).expect("write");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer panicked");
    }
    f.sync().expect("sync");
    let mut all = vec![0; 4 * 64 * 512];
    f.read_at(&mut all, 0).expect("read");
    for (i, chunk) in all.chunks(512).enumerate() {
        let want = (i / 64) as u8 + 1;
        assert!(chunk.iter().all(|&b| b == want), "chunk {i}");
    }
}

/// Errors on real files name the full path a user can find, not the bare file name.
#[test]
fn io_errors_and_corruption_reports_name_the_full_path() {
    use pagelog::io::{OpenMode, StdStorage, Storage};
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = StdStorage::open(dir.path()).expect("storage");
    let err = storage
        .open("missing", OpenMode::Existing)
        .expect_err("no such file");
    let full = dir.path().join("missing").display().to_string();
    assert!(err.to_string().contains(&full), "{err}");
    let err = storage.remove("missing").expect_err("no such file");
    assert!(err.to_string().contains(&full), "{err}");
    std::fs::write(dir.path().join("log"), b"not a log at all").expect("foreign file");
    let err = pagelog::Log::open_dir(dir.path()).expect_err("a foreign file");
    let log = dir.path().join("log").display().to_string();
    assert!(
        err.is_corruption() && err.to_string().contains(&log),
        "{err}"
    );
}
