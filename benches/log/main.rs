//! pagelog's benchmarks against the raw disk, measured side by side in one run.
//!
//! `cargo bench --bench log` (or `scripts/bench.sh`, which adds the simulator's
//! speed). Each case alternates its raw baseline and pagelog, `--reps` times (default
//! 5), and prints min / median / max of both and the ratio of medians (pagelog over
//! raw; above 1 means pagelog is faster). `--smoke` runs every case once at a small
//! size, for CI: it proves the benchmarks still run, and its figures mean little.
//! `--dir D` puts the files under D (default: the system's temporary directory);
//! `--only S` runs the cases whose name contains S.

// A benchmark measures wall-clock time; the rule against the clock (clippy.toml) is
// for the engine and its simulation, where it would break seed replay.
#![allow(clippy::disallowed_methods)]

mod cases;
mod measure;
mod memory;
mod raw;

use std::path::{Path, PathBuf};

use measure::{Row, Samples, print_table};
use pagelog::{Config, SegmentMode};

/// On-disk bytes of one benchmark message (28-byte header plus value).
const MESSAGE_BYTES: u64 = cases::VALUE_LEN as u64 + 28;

struct Plan {
    reps: usize,
    root: PathBuf,
    only: Option<String>,
    /// Messages in the append cases.
    appends: usize,
    /// Operations per thread in the flush-after-every-message cases, at T=1.
    flush_ops: usize,
    /// Bytes of the log in the open case.
    open_bytes: u64,
    /// Messages in the memory cases.
    memory_messages: u64,
}

fn plan() -> Plan {
    let mut args = std::env::args().skip(1);
    let mut p = Plan {
        reps: 5,
        root: std::env::temp_dir(),
        only: None,
        appends: 600_000,
        flush_ops: 1_000,
        open_bytes: 200 << 20,
        memory_messages: 400_000,
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--smoke" => {
                p.reps = 1;
                p.appends = 20_000;
                p.flush_ops = 50;
                p.open_bytes = 8 << 20;
                p.memory_messages = 20_000;
            }
            "--reps" => p.reps = args.next().and_then(|v| v.parse().ok()).unwrap_or(5),
            "--dir" => p.root = args.next().map(PathBuf::from).expect("--dir DIR"),
            "--only" => p.only = args.next(),
            "--child" => {
                let rest: Vec<String> = args.collect();
                run_child(&rest);
                std::process::exit(0);
            }
            _ => {} // cargo bench passes --bench
        }
    }
    p
}

fn run_child(args: &[String]) {
    let num = |i: usize| args[i].parse::<u64>().expect("number");
    memory::child(
        Path::new(&args[0]),
        &args[1],
        &args[2],
        num(3),
        num(4),
        args[5] == "skew",
    );
}

fn configs() -> [(&'static str, Config); 2] {
    [
        ("gc", Config::new()),
        ("linear", Config::new().segment_mode(SegmentMode::Linear)),
    ]
}

fn fresh(root: &Path) -> tempfile::TempDir {
    tempfile::tempdir_in(root).expect("tempdir")
}

impl Plan {
    fn wants(&self, case: &str) -> bool {
        self.only.as_ref().is_none_or(|s| case.contains(s.as_str()))
    }

    fn append_rows(&self, rows: &mut Vec<Row>) {
        for (name, config) in configs() {
            for threads in [1, 2, 4, 8] {
                let case = format!("append T={threads} {name}");
                if !self.wants(&case) {
                    continue;
                }
                let total = self.appends / threads * threads;
                let bytes = total as u64 * MESSAGE_BYTES;
                let (mut raw, mut ours, mut syncs) = (Samples::default(), Samples::default(), 0);
                for _ in 0..self.reps {
                    let secs = raw::sequential_writer(fresh(&self.root).path(), bytes);
                    raw.push(bytes as f64 / secs / 1e6);
                    let run = cases::append(fresh(&self.root).path(), &config, threads, total);
                    ours.push(bytes as f64 / run.secs / 1e6);
                    syncs += run.syncs;
                }
                rows.push(Row {
                    case,
                    unit: "MB/s",
                    baseline: Some(raw),
                    pagelog: ours,
                    note: format!("{} syncs/run", syncs / self.reps as u64),
                });
            }
        }
    }

    fn flush_rows(&self, rows: &mut Vec<Row>) {
        for (name, config) in configs() {
            for every in [1, 64] {
                for threads in [1, 4, 16, 64] {
                    let case = format!("flush every {every} T={threads} {name}");
                    if self.wants(&case) {
                        rows.push(self.flush_row(case, &config, threads, every));
                    }
                }
            }
        }
    }

    fn flush_row(&self, case: String, config: &Config, threads: usize, every: usize) -> Row {
        // Enough operations per run that a run lasts about as long at every T.
        let per_thread = (self.flush_ops * every / threads.min(16)).max(every);
        let ops_each = per_thread / every * every;
        let total = (ops_each * threads) as f64;
        let (mut raw, mut ours, mut syncs) = (Samples::default(), Samples::default(), 0);
        for _ in 0..self.reps {
            let len = MESSAGE_BYTES as usize * every;
            let secs =
                raw::synced_writers(fresh(&self.root).path(), threads, ops_each / every, len);
            raw.push(total / secs);
            let run = cases::flushing(fresh(&self.root).path(), config, threads, ops_each, every);
            ours.push(total / run.secs);
            syncs += run.syncs;
        }
        let per_op = syncs as f64 / (total * self.reps as f64);
        Row {
            case,
            unit: "ops/s",
            baseline: Some(raw),
            pagelog: ours,
            note: format!("{per_op:.3} syncs/op (raw: {:.3})", 1.0 / every as f64),
        }
    }

    fn open_rows(&self, rows: &mut Vec<Row>) {
        for (name, config) in configs() {
            let case = format!("open {} MB {name}", self.open_bytes >> 20);
            if !self.wants(&case) {
                continue;
            }
            let dir = fresh(&self.root);
            let len = cases::build(dir.path(), &config, self.open_bytes);
            let path = dir.path().join(pagelog::LOG_FILE);
            let (mut raw, mut open, mut both) =
                (Samples::default(), Samples::default(), Samples::default());
            let mut messages = 0;
            for _ in 0..self.reps {
                raw.push(len as f64 / raw::read_and_checksum(&path) / 1e6);
                let (open_secs, log) = cases::open(dir.path(), &config);
                let (iter_secs, n) = cases::iterate(&log);
                drop(log);
                messages = n;
                open.push(len as f64 / open_secs / 1e6);
                both.push(len as f64 / (open_secs + iter_secs) / 1e6);
            }
            let note = format!("{messages} messages; baseline: warm read + crc32c");
            rows.push(Row {
                case: case.clone(),
                unit: "MB/s",
                baseline: Some(raw.clone()),
                pagelog: open,
                note: note.clone(),
            });
            rows.push(Row {
                case: format!("{case} + iterate"),
                unit: "MB/s",
                baseline: Some(raw),
                pagelog: both,
                note,
            });
        }
    }

    fn memory_rows(&self, rows: &mut Vec<Row>) {
        let n = self.memory_messages;
        let s = n.to_string();
        let pages = (n / 4).to_string();
        let cases: [(&str, [&str; 5]); 4] = [
            (
                "memory appends to page 0, linear",
                ["linear", "append", &s, "1", "flat"],
            ),
            (
                "memory appends to page 0, gc",
                ["gc", "append", &s, "1", "flat"],
            ),
            (
                "memory replaces over n/4 pages, linear",
                ["linear", "replace", &s, &pages, "flat"],
            ),
            (
                "memory replaces over n/4 pages, gc",
                ["gc", "replace", &s, &pages, "flat"],
            ),
        ];
        let mut peaks = Vec::new();
        for (case, args) in cases {
            if !self.wants(case) {
                continue;
            }
            let f = memory::measure(&self.root, &args);
            peaks.push(f.peak_growth);
            rows.push(Row {
                case: case.to_string(),
                unit: "MiB",
                baseline: None,
                pagelog: Samples(vec![f.peak_growth as f64 / f64::from(1 << 20)]),
                note: format!(
                    "{:.1} B/message of peak growth",
                    f.peak_growth as f64 / n as f64
                ),
            });
        }
        if let [_, _, linear, gc] = peaks[..] {
            let per_page = gc.saturating_sub(linear) as f64 / (n / 4) as f64;
            rows.push(Row {
                case: "gc bookkeeping per live page id".to_string(),
                unit: "B",
                baseline: None,
                pagelog: Samples(vec![per_page]),
                note: "peak growth, gc minus linear, over live page ids".to_string(),
            });
        }
    }

    fn space_rows(&self, rows: &mut Vec<Row>) {
        let case = "gc file size over live data (skewed replaces)";
        if !self.wants(case) {
            return;
        }
        let pages = 10_000u64;
        let n = (self.memory_messages / 2).max(pages * 2).to_string();
        let f = memory::measure(
            &self.root,
            &["gc", "replace", &n, &pages.to_string(), "skew"],
        );
        let live = pages * MESSAGE_BYTES;
        rows.push(Row {
            case: case.to_string(),
            unit: "x live",
            baseline: None,
            pagelog: Samples(vec![f.file_len as f64 / live as f64]),
            note: format!(
                "{n} replaces over {pages} pages; file {} MiB",
                f.file_len >> 20
            ),
        });
    }
}

fn main() {
    let p = plan();
    println!(
        "pagelog log benchmarks: {} repetitions, files under {}, load before: {}",
        p.reps,
        p.root.display(),
        measure::load()
    );
    let mut rows = Vec::new();
    p.append_rows(&mut rows);
    p.flush_rows(&mut rows);
    p.open_rows(&mut rows);
    p.memory_rows(&mut rows);
    p.space_rows(&mut rows);
    print_table(&rows);
    println!("load after: {}", measure::load());
}
