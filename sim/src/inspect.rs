//! `pagelog-sim inspect DIR` and `pagelog-sim verify DIR`: a log directory on real
//! files, read without writing a byte (`Config::read_only`).
//!
//! Both take the directory's lock like any open (a directory another process has
//! open is refused) and find its settings the way a user would have to: a page
//! cache's `pagecache.conf`, else the flags, else the segment table or the first
//! segment header for the size and the default (Gc) for the mode.
//!
//! `inspect` recovers the log read-only, then walks it once more with recovery's own
//! walk, counting each segment's messages by kind and working out which fragments are
//! live (the newest base of each page and the deltas after it) independently of the
//! engine's bookkeeping. `verify` recovers the log read-only (every header, chain,
//! Vouch and the segment table checked), reads back every message and blob file
//! through the log's iterator (every checksum again), and for a page cache opens it
//! read-only and reads every page; it prints what is damaged and where, and exits 1
//! on damage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use pagelog::internals::format::{Lsn, Place, SegmentHeader, StoredKind};
use pagelog::internals::recovery::{self, Recovered, Replay};
use pagelog::internals::{blob, table};
use pagelog::io::{OpenMode, StdStorage, Storage};
use pagelog::pagecache::recover::Replay as PageReplay;
use pagelog::pagecache::{FIRST_PAGE, checkpoint, conf, snapshot};
use pagelog::{
    Config, Error, LOG_FILE, Log, PageCache, RecoveryMode, SEGMENT_TABLE_FILE, SegmentMode,
};

use crate::summary::quote;

/// The flags both commands share.
#[derive(Args, Debug)]
pub struct DirArgs {
    /// The log's directory.
    dir: PathBuf,
    /// Segment size in bytes, if neither `pagecache.conf`, the segment table nor the
    /// first segment header tells it.
    #[arg(long)]
    segment_size: Option<u64>,
    /// Segment mode of a log written through the Log API (a page cache records its
    /// own). Default: gc, the default mode.
    #[arg(long, value_enum)]
    mode: Option<Mode>,
}

/// Flags of `pagelog-sim inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    dir: DirArgs,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
}

/// Flags of `pagelog-sim verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    dir: DirArgs,
}

/// Marks an `open_dir` error that is damage (exit 1 in `verify`), not unreadable.
const DAMAGE_PREFIX: &str = "DAMAGED: ";

/// A segment mode on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Gc,
    Linear,
}

/// The directory opened for reading, with the configuration it needs.
struct Opened {
    storage: Arc<dyn Storage>,
    config: Config,
    /// Where the settings came from.
    source: String,
    page_cache: bool,
    /// Why the directory is a page cache's whose `pagecache.conf` is gone, if so.
    missing_conf: Option<String>,
}

fn open_dir(args: &DirArgs) -> Result<Opened, String> {
    if !args.dir.exists() {
        return Err(format!("{}: no such directory", args.dir.display()));
    }
    if !args.dir.is_dir() {
        return Err(format!("{}: not a directory", args.dir.display()));
    }
    let storage: Arc<dyn Storage> =
        Arc::new(StdStorage::open_read_only(&args.dir).map_err(|e| e.to_string())?);
    let settings = conf::read_settings(storage.as_ref()).map_err(|e| match e.is_corruption() {
        true => format!("{DAMAGE_PREFIX}{e}"),
        false => e.to_string(),
    })?;
    let (mode, size, source) = match settings {
        Some((mode, size)) => {
            conflicts(args, mode, size)?;
            (mode, size, conf::CONF_FILE.to_string())
        }
        None => {
            let mode = match args.mode.unwrap_or(Mode::Gc) {
                Mode::Gc => SegmentMode::Gc,
                Mode::Linear => SegmentMode::Linear,
            };
            let (size, from) = match args.segment_size {
                Some(size) => (size, "--segment-size"),
                None => found_size(storage.as_ref())?,
            };
            let how = if args.mode.is_some() {
                "--mode"
            } else {
                "the default mode"
            };
            (mode, size, format!("{from}, {how}"))
        }
    };
    let config = Config::new()
        .segment_size(size)
        .segment_mode(mode)
        .cache_capacity(0)
        .read_only(true);
    let missing_conf = missing_conf(storage.as_ref(), settings.is_some())?;
    Ok(Opened {
        storage,
        config,
        source,
        page_cache: settings.is_some(),
        missing_conf,
    })
}

/// A directory with page cache snapshots but no `pagecache.conf` is a page cache's
/// that lost the file: `PageCache::open` refuses it (it takes it for a plain log),
/// so a tool must not pass it as a healthy log.
fn missing_conf(storage: &dyn Storage, has_conf: bool) -> Result<Option<String>, String> {
    let snapshots = snapshot::list(storage).map_err(|e| e.to_string())?;
    if has_conf || snapshots.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "missing, but the directory holds {} page cache snapshot(s): it is a page cache's, and PageCache::open refuses it without that file (restore it from a backup, or write it again with the store's segment_mode and segment_size_bytes); shown here as a plain log",
        snapshots.len()
    )))
}

/// The segment size the segment table or the first segment header records.
fn found_size(storage: &dyn Storage) -> Result<(u64, &'static str), String> {
    let read = |name: &str, len: usize| -> Option<Vec<u8>> {
        let f = storage.open(name, OpenMode::Existing).ok()?;
        let mut b = vec![0; len];
        f.read_at(&mut b, 0).ok()?;
        Some(b)
    };
    if let Some(t) = read(SEGMENT_TABLE_FILE, 8).filter(|t| t[0..4] == *b"PGLT") {
        let log2 = u16::from_le_bytes([t[6], t[7]]);
        if (8..=30).contains(&log2) {
            return Ok((1 << log2, "the segment table"));
        }
    }
    let place = Place {
        file: LOG_FILE,
        offset: 0,
    };
    let header = read(LOG_FILE, 40).and_then(|b| SegmentHeader::decode(&b, place).ok());
    match header {
        Some(h) => Ok((1 << h.size_log2, "the first segment header")),
        None => Err(
            "cannot tell the segment size (no pagecache.conf, segment table or first segment header): pass --segment-size"
                .to_string(),
        ),
    }
}

/// One segment as the walk found it.
#[derive(Debug, Default)]
struct Seg {
    lsn: Lsn,
    slot: usize,
    counts: BTreeMap<String, u64>,
    fragments: u64,
    live: u64,
}

/// Counts each recovered segment's messages by kind and which fragments are live.
#[derive(Default)]
struct Census {
    segs: Vec<Seg>,
    /// Page id -> the segments (indexes into `segs`) of its live fragments.
    pages: BTreeMap<u64, Vec<usize>>,
}

impl Replay for Census {
    fn begin(&mut self, _slots: usize) {
        *self = Census::default();
    }

    fn segment(&mut self, lsn: Lsn, slot: usize) {
        self.segs.push(Seg {
            lsn,
            slot,
            ..Seg::default()
        });
    }

    fn message(&mut self, m: &Recovered) {
        let i = self.segs.len() - 1;
        *self.segs[i].counts.entry(kind_name(m.kind)).or_default() += 1;
        match m.kind {
            StoredKind::Append | StoredKind::AppendBlob => {
                self.pages.entry(m.pid).or_default().push(i)
            }
            StoredKind::Replace
            | StoredKind::ReplaceBlob
            | StoredKind::Free
            | StoredKind::Meta
            | StoredKind::Counter
            | StoredKind::Config => {
                self.pages.insert(m.pid, vec![i]);
            }
            _ => return,
        }
        self.segs[i].fragments += 1;
    }
}

impl Census {
    fn finish(mut self) -> Vec<Seg> {
        for segs in self.pages.values() {
            for &i in segs {
                self.segs[i].live += 1;
            }
        }
        self.segs
    }
}

fn kind_name(kind: StoredKind) -> String {
    format!("{kind:?}")
}

/// Prints a line; a closed pipe (`| head`) ends the output quietly, not in a panic.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Runs `inspect`: exit 0 once it printed (damage included), 1 if the directory
/// could not be read.
pub fn inspect(args: &InspectArgs) -> ExitCode {
    match inspect_inner(args) {
        Ok(text) => {
            use std::io::Write;
            let _ = write!(std::io::stdout(), "{text}");
            ExitCode::SUCCESS
        }
        Err(e) if args.json => {
            // A consumer of --json gets one object either way.
            say(&format!("{{\"error\":{}}}", quote(&e)));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("pagelog-sim inspect: {e}");
            ExitCode::FAILURE
        }
    }
}

fn inspect_inner(args: &InspectArgs) -> Result<String, String> {
    let mut o = open_dir(&args.dir)?;
    // Damage does not stop a look: it is reported, and the log is shown as
    // TolerateCorruptTail recovers it (still writing nothing).
    let (log, damage) = match Log::open(o.config.clone(), Arc::clone(&o.storage)) {
        Ok(log) => (log, None),
        Err(e) if e.is_corruption() => {
            o.config.recovery_mode = RecoveryMode::TolerateCorruptTail;
            let log = Log::open(o.config.clone(), Arc::clone(&o.storage));
            (log.map_err(|e| e.to_string())?, Some(e.to_string()))
        }
        Err(e) => return Err(e.to_string()),
    };
    let info = log.recovery();
    let file = o
        .storage
        .open(LOG_FILE, OpenMode::Existing)
        .map_err(|e| e.to_string())?;
    let size = o.config.segment_size_bytes;
    let file_len = file.len().map_err(|e| e.to_string())?;
    let found = table::read(o.storage.as_ref(), size, file_len).map_err(|e| e.to_string())?;
    let mut census = Census::default();
    recovery::recover(&o.config, file.as_ref(), &found, &mut census).map_err(|e| e.to_string())?;
    let segs = census.finish();
    let blobs = blob_sizes(o.storage.as_ref())?;
    let snaps = snapshot_lines(&log, o.storage.as_ref())?;
    drop(log);
    let missing = o
        .missing_conf
        .as_ref()
        .map(|why| format!("{}: {why}", conf::CONF_FILE));
    let damage = match (damage, missing) {
        (Some(d), Some(m)) => Some(format!("{d}; {m}")),
        (d, m) => d.or(m),
    };
    let view = View {
        dir: &args.dir.dir,
        o: &o,
        damage,
        file_len,
        tip: info.tip,
        messages: info.messages,
        table: &found,
        segs: &segs,
        blobs: &blobs,
        snaps: &snaps,
    };
    Ok(if args.json { view.json() } else { view.text() })
}

/// A `--mode` or `--segment-size` that `pagecache.conf` contradicts is an error, not
/// silently ignored (a newcomer's trial found the flags ignored on a page cache).
fn conflicts(args: &DirArgs, mode: SegmentMode, size: u64) -> Result<(), String> {
    if let Some(flag) = args.segment_size.filter(|&f| f != size) {
        return Err(format!(
            "--segment-size {flag}: this page cache's {} says {size}",
            conf::CONF_FILE
        ));
    }
    let flag_mode = args.mode.map(|m| match m {
        Mode::Gc => SegmentMode::Gc,
        Mode::Linear => SegmentMode::Linear,
    });
    match flag_mode {
        Some(m) if m != mode => Err(format!(
            "--mode {}: this page cache's {} says {}",
            mode_word(m),
            conf::CONF_FILE,
            mode_word(mode)
        )),
        _ => Ok(()),
    }
}

fn mode_word(mode: SegmentMode) -> &'static str {
    match mode {
        SegmentMode::Gc => "gc",
        SegmentMode::Linear => "linear",
    }
}

/// `n` and `what`, with an s unless there is one.
fn plural(n: u64, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

/// One snapshot file as `inspect` shows it.
struct SnapLine {
    lsn: Lsn,
    bytes: u64,
    /// Pages it holds (None: it does not decode).
    pages: Option<usize>,
    /// "usable", or why an open skips it.
    status: String,
}

/// Every snapshot file, newest first, with what an open would make of it (whether
/// the log's tail continues it is not checked here; `verify` does).
fn snapshot_lines(log: &Log, storage: &dyn Storage) -> Result<Vec<SnapLine>, String> {
    let size = log.config().segment_size_bytes;
    let mut out = Vec::new();
    for lsn in snapshot::list(storage).map_err(|e| e.to_string())? {
        let name = snapshot::file_name(lsn);
        let bytes = storage
            .open(&name, OpenMode::Existing)
            .and_then(|f| f.len())
            .map_err(|e| e.to_string())?;
        let (pages, status) = match snapshot::read(storage, lsn, size, FIRST_PAGE) {
            Ok(snap) => {
                let status = match (snapshot::belongs(&snap, log), snapshot::stale(log, lsn)) {
                    (Err(why), _) => format!("foreign: {why}"),
                    (Ok(()), Some(why)) => format!("stale: {why}"),
                    (Ok(()), None) => "usable".to_string(),
                };
                (Some(snap.replay.pages.len()), status)
            }
            Err(e) if e.is_corruption() => (None, format!("damaged: {e}")),
            Err(Error::Unsupported(why)) => (None, format!("skipped: {why}")),
            Err(e) => return Err(e.to_string()),
        };
        out.push(SnapLine {
            lsn,
            bytes,
            pages,
            status,
        });
    }
    Ok(out)
}

/// Every blob file's lsn and length.
fn blob_sizes(storage: &dyn Storage) -> Result<Vec<(Lsn, u64)>, String> {
    let lsns = blob::blobs_from(storage, 0).map_err(|e| e.to_string())?;
    lsns.into_iter()
        .map(|lsn| {
            let f = storage
                .open(&blob::blob_name(lsn), OpenMode::Existing)
                .map_err(|e| e.to_string())?;
            Ok((lsn, f.len().map_err(|e| e.to_string())?))
        })
        .collect()
}

/// What `inspect` prints.
struct View<'a> {
    dir: &'a Path,
    o: &'a Opened,
    /// What a strict recovery reported, if anything.
    damage: Option<String>,
    file_len: u64,
    tip: Lsn,
    messages: usize,
    table: &'a table::Found,
    segs: &'a [Seg],
    blobs: &'a [(Lsn, u64)],
    snaps: &'a [SnapLine],
}

impl View<'_> {
    fn mode(&self) -> &'static str {
        match self.o.config.segment_mode {
            SegmentMode::Gc => "gc",
            SegmentMode::Linear => "linear",
        }
    }

    fn table_line(&self) -> String {
        match self.table {
            table::Found::Missing => "none".to_string(),
            table::Found::Damaged(e) => format!("damaged: {e}"),
            table::Found::Table(t) => format!(
                "{} segments listed, frontier lsn {}",
                t.segments.len(),
                t.frontier
            ),
        }
    }

    /// The live share of a segment, in percent (Gc mode; a Linear log keeps all).
    fn live_pct(&self, s: &Seg) -> Option<u64> {
        let gc = self.o.config.segment_mode == SegmentMode::Gc;
        (gc && s.fragments > 0).then(|| s.live * 100 / s.fragments)
    }

    fn text(&self) -> String {
        let size = self.o.config.segment_size_bytes;
        let damage = match &self.damage {
            Some(e) => format!(
                "DAMAGED        {e}\n               (shown as TolerateCorruptTail recovers it)\n"
            ),
            None => String::new(),
        };
        let mut out = format!(
            "directory      {}\nkind           {}\nsettings       segment {} B, {} (from {})\nlog file       {} B, {}\n{damage}recovered      tip lsn {}, {} messages\nsegment table  {}\n",
            self.dir.display(),
            if self.o.page_cache {
                "page cache"
            } else {
                "log"
            },
            size,
            self.mode(),
            self.o.source,
            self.file_len,
            plural(self.file_len.div_ceil(size), "slot"),
            self.tip,
            self.messages,
            self.table_line()
        );
        out += &format!("\nsegments ({} in the recovered log)\n", self.segs.len());
        out += &format!(
            "{:>6} {:>14} {:>10} {:>6}  messages by kind\n",
            "slot", "lsn", "live/frag", "live%"
        );
        for s in self.segs {
            let kinds: Vec<String> = s.counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let pct = self
                .live_pct(s)
                .map_or("-".to_string(), |p| format!("{p}%"));
            out += &format!(
                "{:>6} {:>14} {:>10} {:>6}  {}\n",
                s.slot,
                s.lsn,
                format!("{}/{}", s.live, s.fragments),
                pct,
                kinds.join(", ")
            );
        }
        let total: u64 = self.blobs.iter().map(|b| b.1).sum();
        out += &format!("\nblobs ({} files, {} B)\n", self.blobs.len(), total);
        for (lsn, len) in self.blobs {
            out += &format!("{:>14} {:>12} B  {}\n", lsn, len, blob::blob_name(*lsn));
        }
        if !self.o.page_cache && self.snaps.is_empty() {
            return out;
        }
        out += &format!("\nsnapshots ({} files, newest first)\n", self.snaps.len());
        out += &format!(
            "{:<25} {:>14} {:>12}   {:>7}  status\n",
            "file", "lsn", "bytes", "pages"
        );
        for s in self.snaps {
            let pages = s.pages.map_or("-".to_string(), |p| p.to_string());
            let name = snapshot::file_name(s.lsn);
            out += &format!(
                "{name:<25} {:>14} {:>12} B {:>7}  {}\n",
                s.lsn, s.bytes, pages, s.status
            );
        }
        out
    }

    fn json(&self) -> String {
        let segs: Vec<String> = self
            .segs
            .iter()
            .map(|s| {
                let kinds: Vec<String> =
                    s.counts.iter().map(|(k, n)| format!("{}:{n}", quote(k))).collect();
                let pct = self.live_pct(s).map_or("null".to_string(), |p| p.to_string());
                format!(
                    "{{\"slot\":{},\"lsn\":{},\"fragments\":{},\"live\":{},\"live_pct\":{},\"kinds\":{{{}}}}}",
                    s.slot,
                    s.lsn,
                    s.fragments,
                    s.live,
                    pct,
                    kinds.join(",")
                )
            })
            .collect();
        let blobs: Vec<String> = self
            .blobs
            .iter()
            .map(|(lsn, len)| format!("{{\"lsn\":{lsn},\"bytes\":{len}}}"))
            .collect();
        let snaps: Vec<String> = self
            .snaps
            .iter()
            .map(|s| {
                let pages = s.pages.map_or("null".to_string(), |p| p.to_string());
                format!(
                    "{{\"file\":{},\"lsn\":{},\"bytes\":{},\"pages\":{pages},\"status\":{}}}",
                    quote(&snapshot::file_name(s.lsn)),
                    s.lsn,
                    s.bytes,
                    quote(&s.status)
                )
            })
            .collect();
        format!(
            "{{\"dir\":{},\"damage\":{},\"page_cache\":{},\"segment_size\":{},\"mode\":{},\"settings_from\":{},\"file_bytes\":{},\"tip\":{},\"messages\":{},\"segment_table\":{},\"segments\":[{}],\"blobs\":[{}],\"snapshots\":[{}]}}\n",
            quote(&self.dir.display().to_string()),
            self.damage.as_deref().map_or("null".to_string(), quote),
            self.o.page_cache,
            self.o.config.segment_size_bytes,
            quote(self.mode()),
            quote(&self.o.source),
            self.file_len,
            self.tip,
            self.messages,
            quote(&self.table_line()),
            segs.join(","),
            blobs.join(","),
            snaps.join(",")
        )
    }
}

/// Pages as raw bytes: `verify` checks that every fragment reads back and decodes to
/// something, not what the user's Materializer would make of it.
use pagelog::AppendBytes as Raw;

/// Runs `verify`: exit 0 if nothing is damaged, 1 on damage, 2 if the directory
/// could not be read at all (missing, in use, IO error).
pub fn verify(args: &VerifyArgs) -> ExitCode {
    let o = match open_dir(&args.dir) {
        Ok(o) => o,
        Err(e) if e.starts_with(DAMAGE_PREFIX) => {
            say(&e);
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("pagelog-sim verify: {e}");
            return ExitCode::from(2);
        }
    };
    say(&format!(
        "verifying {} (segment {} B, {}; settings from {})",
        args.dir.dir.display(),
        o.config.segment_size_bytes,
        if o.config.segment_mode == SegmentMode::Gc {
            "gc"
        } else {
            "linear"
        },
        o.source
    ));
    let mut result = check_all(&o);
    if let Some(why) = &o.missing_conf {
        let e = Error::corruption(conf::CONF_FILE, 0, why.clone());
        result = match result {
            Ok(lines) => Err(Found::Report {
                lines,
                damage: vec![e],
            }),
            Err(Found::Report { lines, mut damage }) => {
                damage.push(e);
                Err(Found::Report { lines, damage })
            }
            other => other,
        };
    }
    match result {
        Ok(lines) => {
            for l in lines {
                say(&l);
            }
            say("ok: nothing damaged");
            ExitCode::SUCCESS
        }
        Err(Found::Damaged(e)) => {
            say(&format!("{DAMAGE_PREFIX}{e}"));
            ExitCode::FAILURE
        }
        Err(Found::Report { lines, damage }) => {
            for l in lines {
                say(&l);
            }
            for e in damage {
                say(&format!("{DAMAGE_PREFIX}{e}"));
            }
            ExitCode::FAILURE
        }
        Err(Found::Unreadable(e)) => {
            eprintln!("pagelog-sim verify: {e}");
            ExitCode::from(2)
        }
    }
}

/// Why `verify` stopped.
enum Found {
    Damaged(Error),
    Unreadable(Error),
    /// Everything was checked; these lines passed, and this damage was found (in
    /// snapshots, which the page cache opens without).
    Report {
        lines: Vec<String>,
        damage: Vec<Error>,
    },
}

impl From<Error> for Found {
    fn from(e: Error) -> Found {
        if e.is_corruption() {
            Found::Damaged(e)
        } else {
            Found::Unreadable(e)
        }
    }
}

/// Recovery, every message and blob, then every page: what was checked, or the
/// first damage found.
fn check_all(o: &Opened) -> Result<Vec<String>, Found> {
    let log = Log::open(o.config.clone(), Arc::clone(&o.storage))?;
    let info = log.recovery();
    // Recovery reads the segment table only when a gap needs it; verify checks it
    // whenever it is there.
    let log_len = o
        .storage
        .open(LOG_FILE, OpenMode::Existing)
        .and_then(|f| f.len())?;
    let size = o.config.segment_size_bytes;
    if let table::Found::Damaged(e) = table::read(o.storage.as_ref(), size, log_len)? {
        return Err(Found::Damaged(e));
    }
    let mut lines = vec![format!(
        "recovery: ok, tip lsn {}, {} messages",
        info.tip, info.messages
    )];
    let mut messages = 0u64;
    for m in log.iter_from(0)? {
        m?;
        messages += 1;
    }
    lines.push(format!(
        "messages: {messages} read back, every checksum (and blob file) checked"
    ));
    drop(log);
    let mut damage = Vec::new();
    if o.page_cache {
        let pc = PageCache::open(o.config.clone(), Arc::clone(&o.storage), Raw)?;
        let (checked, found) = check_snapshots(&pc, o.storage.as_ref())?;
        lines.extend(checked);
        damage = found;
        let ids = pc.page_ids();
        for &pid in &ids {
            pc.get(pid)?;
        }
        lines.push(format!("pages: {} read back whole", ids.len()));
    }
    match damage.is_empty() {
        true => Ok(lines),
        false => Err(Found::Report { lines, damage }),
    }
}

/// Every snapshot file decodes, and the state the open restored (the newest usable
/// snapshot and the log's tail) is the one a replay of the whole log gives. A stale
/// snapshot (past the tip, inside a cut) is not damage: an open skips it and the next
/// writable open removes it.
fn check_snapshots(
    pc: &PageCache<Raw>,
    storage: &dyn Storage,
) -> Result<(Vec<String>, Vec<Error>), Found> {
    let log = pc.log();
    let size = log.config().segment_size_bytes;
    let mut lines = Vec::new();
    let mut damage = Vec::new();
    let all = snapshot::list(storage)?;
    for &lsn in &all {
        match snapshot::read(storage, lsn, size, FIRST_PAGE) {
            Err(e) if e.is_corruption() => damage.push(e),
            Err(Error::Unsupported(why)) => lines.push(format!("note: skipped, {why}")),
            Err(e) => return Err(Found::Unreadable(e)),
            Ok(_) => {
                if let Some(why) = snapshot::stale(log, lsn) {
                    lines.push(format!(
                        "note: {} is stale ({why})",
                        snapshot::file_name(lsn)
                    ));
                }
            }
        }
    }
    let (restored, how) = checkpoint::restore(log, FIRST_PAGE)?;
    for (lsn, why) in &how.skipped {
        let name = snapshot::file_name(*lsn);
        let listed = damage.iter().any(|e| e.to_string().contains(&name));
        let outdated = how.outdated.contains(lsn);
        if !listed && !outdated && snapshot::stale(log, *lsn).is_none() {
            damage.push(Error::corruption(name, 0, why.clone()));
        }
    }
    let same = restored.same_state(&PageReplay::whole(log, FIRST_PAGE)?);
    if let (false, Some(lsn)) = (same, how.snapshot) {
        let name = snapshot::file_name(lsn);
        let why = "with the log's tail it gives another state than a replay of the whole log";
        damage.push(Error::corruption(name, 0, why));
    }
    let from = how
        .snapshot
        .map_or("no snapshot".to_string(), snapshot::file_name);
    lines.push(match same {
        true => format!(
            "snapshots: {} checked; the open's state (from {from}) equals a replay of the whole log",
            all.len()
        ),
        false => format!("snapshots: {} checked", all.len()),
    });
    Ok((lines, damage))
}
