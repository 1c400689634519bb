//! The page cache's persisted configuration: the file `pagecache.conf` beside the log,
//! holding what must not change between opens.
//!
//! Only settings that change how existing bytes are read are kept: the segment mode (a
//! Gc log has freed segments a Linear open would report as damage, and a Linear log's
//! history a Gc open would start reclaiming) and the segment size (also in every
//! segment header; kept here so the error names the setting). Everything else
//! (buffers, thresholds, cache capacity) may change from one open to the next.
//!
//! The check runs at open under the directory lock, before recovery reads or writes
//! anything: a mismatch is [`Error::InvalidConfig`] naming the setting, and nothing is
//! written. A new page cache writes the file before its log exists, whole under
//! another name and renamed into place (write, sync, rename, sync the directory), so
//! a page cache's log never exists without it. So a log with no `pagecache.conf` is
//! not a page cache's (a log written through the `Log` API, or a removed file): also
//! `InvalidConfig`, and nothing is written.
//!
//! The file is text, so a person can read it, and untrusted input like every byte
//! read back: a file that does not parse is [`Error::Corruption`] naming it and the
//! line; a newer format is [`Error::Unsupported`]. Its last line is a checksum
//! (CRC-32C of every byte before that line, 8 hex digits): a flipped bit that left
//! the text parseable (`2048` read as `2040`) failed the open as a settings mismatch
//! the user never made; it is `Corruption` now. A file without the line (written
//! before it was added) is still read.

use crate::config::{Config, SegmentMode};
use crate::error::{Error, Result};
use crate::io::{Storage, small_file};

/// The file holding the persisted configuration.
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// let dir = tempfile::tempdir().expect("a temporary directory");
/// PageCache::open_dir(dir.path(), Bytes)?.close()?;
/// let text = std::fs::read_to_string(dir.path().join(pagelog::pagecache::CONF_FILE)).unwrap();
/// assert!(text.contains("segment_mode = gc"));
/// # Ok::<(), pagelog::Error>(())
/// ```
pub const CONF_FILE: &str = crate::log::handle::PAGE_CACHE_CONF;

/// The name it is written under before the rename.
const NEW_CONF_FILE: &str = "pagecache.conf.new";

/// The format this code writes and reads.
const FORMAT: u64 = 1;

/// Longest file accepted (a real one is under 200 bytes).
const MAX_LEN: u64 = 4096;

/// What is persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Persisted {
    segment_mode: SegmentMode,
    segment_size_bytes: u64,
}

impl Persisted {
    fn of(config: &Config) -> Persisted {
        Persisted {
            segment_mode: config.segment_mode,
            segment_size_bytes: config.segment_size_bytes,
        }
    }

    fn text(&self) -> String {
        let body = format!(
            "# pagelog page cache settings, checked at every open; do not edit.\n\
             format = {FORMAT}\n\
             segment_mode = {}\n\
             segment_size_bytes = {}\n",
            mode_name(self.segment_mode),
            self.segment_size_bytes
        );
        let sum = crc32c::crc32c(body.as_bytes());
        format!("{body}checksum = {sum:08x}\n")
    }
}

fn mode_name(mode: SegmentMode) -> &'static str {
    match mode {
        SegmentMode::Gc => "gc",
        SegmentMode::Linear => "linear",
    }
}

/// Checks `config` against the persisted file, or writes the file for a new page
/// cache (`log_exists`: the directory already holds a log file). See the module doc.
pub fn check_or_write(storage: &dyn Storage, config: &Config, log_exists: bool) -> Result<()> {
    match read(storage)? {
        Some(text) => check(&parse(&text)?, config),
        // Nothing to check and nothing may be written; the log's open reports a
        // missing log.
        None if config.read_only && !log_exists => Ok(()),
        None if log_exists => Err(Error::InvalidConfig(format!(
            "this directory holds a log but no {CONF_FILE}: it is not a page cache's (a log \
             written through the Log API, or its {CONF_FILE} was removed)"
        ))),
        None => write(storage, &Persisted::of(config)),
    }
}

/// The segment mode and size a page cache's settings file records, if the directory
/// has one (for tools that open a directory without knowing its settings).
pub fn read_settings(storage: &dyn Storage) -> Result<Option<(SegmentMode, u64)>> {
    let Some(text) = read(storage)? else {
        return Ok(None);
    };
    let p = parse(&text)?;
    Ok(Some((p.segment_mode, p.segment_size_bytes)))
}

fn read(storage: &dyn Storage) -> Result<Option<String>> {
    let Some(bytes) = small_file::read(storage, CONF_FILE, MAX_LEN)? else {
        return Ok(None);
    };
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| Error::corruption(CONF_FILE, e.utf8_error().valid_up_to() as u64, "not text"))
}

fn parse(text: &str) -> Result<Persisted> {
    let (mut format, mut mode, mut size) = (None, None, None);
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let at = offset;
        offset += line.len() as u64;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| Error::corruption(CONF_FILE, at, format!("{line:?}: {why}"));
        let (key, value) = line.split_once('=').ok_or_else(|| bad("not key = value"))?;
        let value = value.trim();
        // Numbers as this code writes them: digits, no sign, no leading zero.
        let canonical = !value.is_empty()
            && value.bytes().all(|b| b.is_ascii_digit())
            && (value == "0" || !value.starts_with('0'));
        let number = || {
            value
                .parse::<u64>()
                .ok()
                .filter(|_| canonical)
                .ok_or_else(|| bad("not a number as this file writes them"))
        };
        let slot_taken = match key.trim() {
            "checksum" => {
                let sum = crc32c::crc32c(&text.as_bytes()[..at as usize]);
                if value != format!("{sum:08x}") {
                    return Err(bad("the checksum does not match: the file was damaged"));
                }
                let rest = &text[offset as usize..];
                if !rest.trim().is_empty() {
                    return Err(bad("text after the checksum line"));
                }
                false
            }
            "format" => format.replace(number()?).is_some(),
            "segment_size_bytes" => size.replace(number()?).is_some(),
            "segment_mode" => mode
                .replace(match value {
                    "gc" => SegmentMode::Gc,
                    "linear" => SegmentMode::Linear,
                    _ => return Err(bad("not gc or linear")),
                })
                .is_some(),
            _ => return Err(bad("unknown setting")),
        };
        if slot_taken {
            return Err(bad("a setting given twice"));
        }
    }
    let missing = |what: &str| Error::corruption(CONF_FILE, 0, format!("no {what} setting"));
    let format = format.ok_or_else(|| missing("format"))?;
    if format != FORMAT {
        return Err(Error::Unsupported(format!(
            "{CONF_FILE} has format {format}; this build reads format {FORMAT}"
        )));
    }
    Ok(Persisted {
        segment_mode: mode.ok_or_else(|| missing("segment_mode"))?,
        segment_size_bytes: size.ok_or_else(|| missing("segment_size_bytes"))?,
    })
}

fn check(stored: &Persisted, config: &Config) -> Result<()> {
    let given = Persisted::of(config);
    if given.segment_mode != stored.segment_mode {
        return Err(Error::InvalidConfig(format!(
            "segment_mode = {}, but this page cache was created with segment_mode = {} ({CONF_FILE})",
            mode_name(given.segment_mode),
            mode_name(stored.segment_mode)
        )));
    }
    if given.segment_size_bytes != stored.segment_size_bytes {
        return Err(Error::InvalidConfig(format!(
            "segment_size_bytes = {}, but this page cache was created with segment_size_bytes = {} ({CONF_FILE})",
            given.segment_size_bytes, stored.segment_size_bytes
        )));
    }
    Ok(())
}

fn write(storage: &dyn Storage, p: &Persisted) -> Result<()> {
    small_file::replace(storage, CONF_FILE, NEW_CONF_FILE, p.text().as_bytes())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_flipped_bit_anywhere_is_damage_never_other_settings() {
        let p = Persisted {
            segment_mode: SegmentMode::Gc,
            segment_size_bytes: 2048,
        };
        let text = p.text().into_bytes();
        for at in 0..text.len() {
            for bit in 0..8 {
                let mut b = text.clone();
                b[at] ^= 1 << bit;
                let Ok(s) = String::from_utf8(b) else {
                    continue;
                };
                match parse(&s) {
                    Ok(q) => assert_eq!(q, p, "byte {at} bit {bit}: {s:?}"),
                    Err(e) => assert!(e.is_corruption(), "byte {at} bit {bit}: {e}"),
                }
            }
        }
    }

    #[test]
    fn a_file_without_a_checksum_line_is_still_read() {
        let old = "format = 1\nsegment_mode = linear\nsegment_size_bytes = 4096\n";
        let p = parse(old).expect("parse");
        assert_eq!(
            (p.segment_mode, p.segment_size_bytes),
            (SegmentMode::Linear, 4096)
        );
    }

    #[test]
    fn what_is_written_parses_back() {
        let p = Persisted {
            segment_mode: SegmentMode::Linear,
            segment_size_bytes: 1 << 20,
        };
        assert_eq!(parse(&p.text()).expect("parses"), p);
    }

    #[test]
    fn malformed_files_are_corruption_naming_the_line_and_newer_ones_unsupported() {
        let good = Persisted::of(&Config::default()).text();
        let cases = [
            good.replace("= gc", "= fast"),
            good.replace("segment_size_bytes = ", "segment_size_bytes = x"),
            good.replace("format = 1\n", ""),
            good.replace("format", "colour"),
            good.replace(" = ", " "),
            good.replace("= 8388608", "= +8388608"),
            good.replace("= 8388608", "= 08388608"),
            format!("{good}segment_mode = linear\n"),
        ];
        for text in &cases {
            let e = parse(text).expect_err(text);
            assert!(e.is_corruption(), "{text:?}: {e}");
        }
        // A newer format is told apart whatever its other lines (no checksum here).
        let unsummed: String = good
            .split_inclusive('\n')
            .filter(|l| !l.starts_with("checksum"))
            .collect();
        let newer = parse(&unsummed.replace("format = 1", "format = 2")).expect_err("newer");
        assert!(matches!(newer, Error::Unsupported(_)), "{newer}");
    }

    #[test]
    fn a_changed_setting_is_named() {
        let stored = Persisted::of(&Config::default());
        let e = check(
            &stored,
            &Config::default().segment_mode(SegmentMode::Linear),
        );
        assert!(
            e.expect_err("mode")
                .to_string()
                .contains("segment_mode = linear")
        );
        let e = check(&stored, &Config::default().segment_size(1 << 20));
        assert!(
            e.expect_err("size")
                .to_string()
                .contains("segment_size_bytes = 1048576")
        );
        check(&stored, &Config::default().cache_capacity(1)).expect("capacity may change");
    }
}
