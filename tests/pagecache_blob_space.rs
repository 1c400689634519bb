//! Risk: dead blob files piling up. A page whose values are above
//! `blob_threshold_bytes` keeps each value in a file of its own; a trial once found
//! one 100 KiB page replaced 2,000 times holding 195 MB of blob files beside a 72 KB
//! log. A blob file goes once the message that superseded its own is vouched stable
//! (`log/space.rs`), whether or not its segment was reclaimed yet.

use std::sync::Arc;

use pagelog::io::SimStorage;
use pagelog::{AppendBytes, Config, PageCache, Update};

const VALUE: usize = 100 << 10;
const REPLACES: u32 = 2_000;

#[test]
fn a_large_page_replaced_often_keeps_few_blob_files() {
    let disk = SimStorage::new(3);
    let pc = PageCache::open(
        Config::for_simulation(),
        Arc::new(disk.clone()),
        AppendBytes,
    )
    .expect("open");
    let mut page = pc.allocate(vec![0; VALUE]).expect("allocate");
    let mut most = 0u64;
    for i in 1..=REPLACES {
        let Update::Applied(Some(next)) = pc.replace(&page, vec![i as u8; VALUE]).expect("replace")
        else {
            panic!("one writer: every replace applies");
        };
        page = next;
        if i % 10 == 0 {
            pc.flush().expect("flush");
            most = most.max(blob_bytes(&disk));
        }
    }
    pc.close().expect("close");
    let left = blob_bytes(&disk);
    eprintln!(
        "{REPLACES} replaces of a {VALUE}-byte page: at most {most} bytes of blob files, {left} after close"
    );
    assert!(
        most <= 16 * VALUE as u64,
        "{most} bytes of blob files for one live {VALUE}-byte page"
    );
    let pc = PageCache::open(
        Config::for_simulation(),
        Arc::new(disk.clone()),
        AppendBytes,
    )
    .expect("reopen");
    let got = pc.get(page.pid()).expect("get").expect("page");
    assert_eq!(got.value(), page.value());
}

/// Bytes held by the blob files on `disk`.
fn blob_bytes(disk: &SimStorage) -> u64 {
    disk.names()
        .iter()
        .filter(|n| n.starts_with("blob"))
        .filter_map(|n| disk.file_len(n))
        .sum()
}
