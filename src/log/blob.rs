//! Blob files: values above the blob threshold, one per file, named for the lsn of the
//! log message that points at them (`blob-` and the lsn as 16 hex digits).
//!
//! Durability order (the log relies on it): [`write_blob`] returns only after
//! 1. the file is created (`OpenMode::Create`, truncated: a blob left by a crashed run
//!    at the same lsn is stale and overwritten),
//! 2. header and value are written and the file is synced (`File::sync`),
//! 3. the directory is synced (`Storage::sync_dir`), so the name survives a crash.
//!
//! Only then may the message holding the pointer be reserved, so the pointer can never
//! become stable before the blob it points at. Removal of a replaced blob waits until
//! its replacement is stable (the log's job); at open, [`blobs_from`] lists blobs at or
//! past the recovered tip, which recovery removes: their messages did not survive.
//!
//! [`read_blob`] trusts nothing: the length is checked against the file before any
//! allocation, the header's lsn must match the name, and both checksums must hold; the
//! header's is seeded with the writing run's nonce (`format.rs`), so a blob a crashed
//! run left at an lsn a later run reused never passes for the later run's value.

use crate::error::{Error, Result};
use crate::failpoints::failpoint;
use crate::io::{OpenMode, Storage};
use crate::log::format::{BLOB_HEADER_LEN, BlobHeader, Lsn, Nonce, Place};

const PREFIX: &str = "blob-";

/// The file name of the blob for `lsn`.
pub fn blob_name(lsn: Lsn) -> String {
    format!("{PREFIX}{lsn:016x}")
}

/// The lsn a blob file name stands for, or None if `name` is not a blob name.
pub fn parse_blob_name(name: &str) -> Option<Lsn> {
    let hex = name.strip_prefix(PREFIX)?;
    let well_formed = hex.len() == 16
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    well_formed
        .then(|| Lsn::from_str_radix(hex, 16).ok())
        .flatten()
}

/// Writes `value` as the blob for `lsn`, from run `nonce`, and makes file and name
/// durable.
pub fn write_blob(storage: &dyn Storage, lsn: Lsn, value: &[u8], nonce: Nonce) -> Result<()> {
    let name = blob_name(lsn);
    failpoint!("blob::write::create");
    let file = storage.open(&name, OpenMode::Create)?;
    failpoint!("blob::write::truncate");
    file.set_len(0)?;
    let header = BlobHeader::new(lsn, value, nonce).encode();
    failpoint!("blob::write::header");
    file.write_at(&header, 0)?;
    failpoint!("blob::write::value");
    file.write_at(value, BLOB_HEADER_LEN as u64)?;
    failpoint!("blob::write::sync");
    file.sync()?;
    failpoint!("blob::write::sync_dir");
    storage.sync_dir()
}

/// Reads and checks the blob for `lsn`, written by run `nonce`. A missing file is an IO
/// `NotFound` error; any malformed byte is `Error::Corruption`.
pub fn read_blob(storage: &dyn Storage, lsn: Lsn, nonce: Nonce) -> Result<Vec<u8>> {
    let name = blob_name(lsn);
    failpoint!("blob::read::open");
    let file = storage.open(&name, OpenMode::Existing)?;
    // Errors name the file as the storage shows it (with its directory, on real files).
    let name = file.name().to_string();
    failpoint!("blob::read::len");
    let file_len = file.len()?;
    let place = Place {
        file: &name,
        offset: 0,
    };
    if file_len < BLOB_HEADER_LEN as u64 {
        return Err(Error::corruption(
            &name,
            0,
            format!("blob file is {file_len} bytes, shorter than its header"),
        ));
    }
    let mut head = [0; BLOB_HEADER_LEN];
    failpoint!("blob::read::header");
    file.read_at(&mut head, 0)?;
    let header = BlobHeader::decode(&head, file_len, nonce, place)?;
    if header.lsn != lsn {
        return Err(Error::corruption(
            &name,
            8,
            format!("blob header says lsn {}, name says {lsn}", header.lsn),
        ));
    }
    let len = usize::try_from(header.len)
        .map_err(|_| Error::corruption(&name, 16, "blob length overflows memory"))?;
    let mut value = vec![0; len];
    failpoint!("blob::read::value");
    file.read_at(&mut value, BLOB_HEADER_LEN as u64)?;
    header.check_value(
        &value,
        Place {
            file: &name,
            offset: BLOB_HEADER_LEN as u64,
        },
    )?;
    Ok(value)
}

/// Removes the blobs of `lsns` (each one already gone is fine) and, if any was
/// there, syncs the directory once. Returns how many were removed.
///
/// Only dead blobs are removed (their message was cut or replaced), so a directory
/// sync skipped because every name was already gone risks nothing: a removal an
/// earlier process made but never synced may come back after a power cut, as a file
/// no message points at, and the next open removes it again.
pub fn remove_blobs(storage: &dyn Storage, lsns: &[Lsn]) -> Result<u64> {
    let mut removed = 0;
    for &lsn in lsns {
        failpoint!("blob::remove::remove");
        match storage.remove(&blob_name(lsn)) {
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
            Ok(()) => removed += 1,
        }
    }
    if removed > 0 {
        failpoint!("blob::remove::sync_dir");
        storage.sync_dir()?;
    }
    Ok(removed)
}

/// The lsns of every blob file at or past `tip`, ascending.
pub fn blobs_from(storage: &dyn Storage, tip: Lsn) -> Result<Vec<Lsn>> {
    failpoint!("blob::list::list");
    let mut lsns: Vec<Lsn> = storage
        .list()?
        .iter()
        .filter_map(|n| parse_blob_name(n))
        .filter(|&lsn| lsn >= tip)
        .collect();
    lsns.sort_unstable();
    Ok(lsns)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::io::SimStorage;

    const N: Nonce = Nonce(0x5eed);

    #[test]
    fn names_round_trip_and_foreign_names_are_ignored() {
        for lsn in [0, 1, 0xdead_beef, u64::MAX] {
            assert_eq!(parse_blob_name(&blob_name(lsn)), Some(lsn));
        }
        for other in [
            "blob-",
            "blob-123",
            "blob-000000000000000G",
            "log",
            "blob-00000000000000001",
            "blob-000000000000000A",
        ] {
            assert_eq!(parse_blob_name(other), None, "{other}");
        }
    }

    #[test]
    fn a_written_blob_survives_any_crash() {
        for seed in 0..200 {
            let disk = SimStorage::new(seed);
            let value: Vec<u8> = (0..5000_u32).map(|i| (i * 7 + seed as u32) as u8).collect();
            write_blob(&disk, 4096, &value, N).expect("write");
            let after = disk.crash();
            assert!(
                read_blob(&after, 4096, N).expect("read after crash") == value,
                "seed {seed}"
            );
        }
    }

    #[test]
    fn damaged_blobs_are_corruption_never_data() {
        let disk = SimStorage::new(1);
        write_blob(&disk, 77, &[9; 300], N).expect("write");
        disk.flip_bit(&blob_name(77), 100, 3).expect("flip");
        assert!(
            read_blob(&disk, 77, N)
                .expect_err("value flip")
                .is_corruption()
        );

        write_blob(&disk, 78, &[9; 300], N).expect("write");
        let f = disk.open(&blob_name(78), OpenMode::Existing).expect("open");
        f.set_len(200).expect("truncate");
        assert!(
            read_blob(&disk, 78, N)
                .expect_err("truncated")
                .is_corruption()
        );
        f.set_len(10).expect("truncate below the header");
        assert!(
            read_blob(&disk, 78, N)
                .expect_err("no header")
                .is_corruption()
        );

        write_blob(&disk, 79, &[1; 10], N).expect("write");
        disk.rename(&blob_name(79), &blob_name(80)).expect("rename");
        let err = read_blob(&disk, 80, N).expect_err("another lsn's blob");
        assert!(err.to_string().contains("name says 80"), "{err}");
    }

    #[test]
    fn a_huge_length_in_a_forged_header_allocates_nothing() {
        let disk = SimStorage::new(2);
        let forged = BlobHeader {
            lsn: 5,
            len: 1 << 50,
            value_crc: 0,
            nonce: N,
        }
        .encode();
        let f = disk.open(&blob_name(5), OpenMode::Create).expect("create");
        f.write_at(&forged, 0).expect("write");
        assert!(
            read_blob(&disk, 5, N)
                .expect_err("length past the file")
                .is_corruption()
        );
    }

    #[test]
    fn a_stale_blob_at_the_same_lsn_is_overwritten_whole() {
        let disk = SimStorage::new(3);
        write_blob(&disk, 9, &[1; 1000], N).expect("write");
        write_blob(&disk, 9, &[2; 10], N).expect("rewrite");
        assert_eq!(read_blob(&disk, 9, N).expect("read"), vec![2; 10]);
        assert_eq!(
            disk.read_file(&blob_name(9)).expect("file").len(),
            BLOB_HEADER_LEN + 10
        );
    }

    #[test]
    fn blobs_past_the_tip_are_listed_for_removal_in_order() {
        let disk = SimStorage::new(4);
        for lsn in [500, 100, 300, 200] {
            write_blob(&disk, lsn, b"v", N).expect("write");
        }
        disk.open("log", OpenMode::Create)
            .expect("an unrelated file");
        assert_eq!(blobs_from(&disk, 250).expect("list"), [300, 500]);
        assert_eq!(remove_blobs(&disk, &[300]).expect("remove"), 1);
        let calls = disk.stats().calls;
        assert_eq!(
            remove_blobs(&disk, &[300]).expect("again"),
            0,
            "already gone"
        );
        assert_eq!(
            disk.stats().calls,
            calls + 1,
            "one remove call, no dir sync"
        );
        assert_eq!(blobs_from(&disk, 0).expect("list"), [100, 200, 500]);
        let after = disk.crash();
        assert_eq!(
            blobs_from(&after, 0).expect("list"),
            [100, 200, 500],
            "removal was made durable"
        );
    }
}
