//! Whole-process figures: peak memory and file size, each measured in a child process
//! of this benchmark so that one case's allocations do not hide another's.

use std::path::Path;
use std::process::Command;

use pagelog::{Config, Kind, LOG_FILE, SegmentMode};

use super::cases::VALUE_LEN;

/// A status field of this process in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// What the child measured.
pub struct Footprint {
    /// Peak resident bytes above the resident size before the log was opened.
    pub peak_growth: u64,
    /// The log file's length at the end.
    pub file_len: u64,
}

/// The child's side: opens a log in `dir` in `mode`, writes `n` messages of `kind`
/// to page ids `i % pages` (Replace supersedes a page's older fragments), flushes, and
/// prints the peak growth of the resident size and the file length.
pub fn child(dir: &Path, mode: &str, kind: &str, n: u64, pages: u64, skew: bool) {
    let mode = match mode {
        "gc" => SegmentMode::Gc,
        _ => SegmentMode::Linear,
    };
    let kind = match kind {
        "replace" => Kind::Replace,
        _ => Kind::Append,
    };
    let before = status_kib("VmRSS:");
    let log = Config::new().segment_mode(mode).open(dir).expect("open");
    let value = [0x33u8; VALUE_LEN];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..n {
        let pid = if skew {
            // xorshift; four in five updates go to the first fifth of the pages
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let hot = x % 5 != 0;
            let span = if hot { pages / 5 } else { pages };
            (x >> 8) % span.max(1)
        } else {
            i % pages
        };
        log.write(kind, pid, &value).expect("write");
    }
    log.flush().expect("flush");
    let peak = status_kib("VmHWM:");
    let file_len = std::fs::metadata(dir.join(LOG_FILE)).expect("log").len();
    println!("{} {}", (peak.saturating_sub(before)) * 1024, file_len);
    log.close().expect("close");
}

/// Runs the child in a fresh directory under `root` and parses what it printed.
pub fn measure(root: &Path, args: &[&str]) -> Footprint {
    let dir = tempfile::tempdir_in(root).expect("tempdir");
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .arg("--child")
        .arg(dir.path())
        .args(args)
        .output()
        .expect("run the child");
    assert!(
        out.status.success(),
        "child {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text
        .split_whitespace()
        .map(|v| v.parse::<u64>().unwrap_or(0));
    Footprint {
        peak_growth: it.next().unwrap_or(0),
        file_len: it.next().unwrap_or(0),
    }
}
