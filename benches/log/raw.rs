//! The raw-disk baselines: what the same bytes cost written straight to a file.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

fn create(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .expect("create the baseline file")
}

/// One writer: `total` bytes in 1 MiB pwrites, each followed by fdatasync.
/// Returns seconds.
pub fn sequential_writer(dir: &Path, total: u64) -> f64 {
    let file = create(&dir.join("raw"));
    let chunk = vec![0x5au8; 1 << 20];
    let start = Instant::now();
    let mut at = 0;
    while at < total {
        let n = (total - at).min(chunk.len() as u64) as usize;
        file.write_all_at(&chunk[..n], at).expect("pwrite");
        file.sync_data().expect("fdatasync");
        at += n as u64;
    }
    start.elapsed().as_secs_f64()
}

/// `threads` threads sharing one file, each doing `ops_each` rounds of pwrite of
/// `len` bytes (at its own offsets) followed by fdatasync. Returns seconds.
pub fn synced_writers(dir: &Path, threads: usize, ops_each: usize, len: usize) -> f64 {
    let file = create(&dir.join("raw"));
    let record = vec![0xa5u8; len];
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (file, record) = (&file, &record);
            s.spawn(move || {
                for i in 0..ops_each {
                    let at = ((i * threads + t) * len) as u64;
                    file.write_all_at(record, at).expect("pwrite");
                    file.sync_data().expect("fdatasync");
                }
            });
        }
    });
    start.elapsed().as_secs_f64()
}

/// Reads `path` sequentially in 1 MiB chunks and checksums every byte with crc32c.
/// Returns seconds (the checksum is folded into a black box so it is not elided).
pub fn read_and_checksum(path: &Path) -> f64 {
    use std::io::Read;
    let mut file = File::open(path).expect("open the log file");
    let mut buf = vec![0u8; 1 << 20];
    let start = Instant::now();
    let mut crc = 0u32;
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        crc = crc32c::crc32c_append(crc, &buf[..n]);
    }
    std::hint::black_box(crc);
    start.elapsed().as_secs_f64()
}
