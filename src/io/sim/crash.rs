//! Crash resolution: from a storage's durable state and its unsynced changes, draw the
//! image a power cut leaves behind.
//!
//! 1. Directory: pending creates, renames and removes are taken in order, each
//!    persisting with probability `dir_op_persist` if its precondition still holds in
//!    the image being built.
//! 2. For each surviving name (in name order), its file's pending changes are shuffled
//!    (no order is kept between unsynced writes) and each decides its fate: a write
//!    persists, vanishes or tears by the model's weights; a length change persists with
//!    probability `set_len_persist`.
//! 3. Each surviving file with bytes may get one flipped bit (`bit_flip`), and may
//!    have the first bytes of one of its durable writes damaged (`header_damage`).
//!
//! Every draw comes from the storage's seeded generator in a fixed order, so the result
//! is a function of (seed, calls).

use std::collections::BTreeMap;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::config::{CrashModel, DAMAGED_PREFIX_BYTES, Filler, Tearing};
use super::inode::{Pending, WriteRecord, apply_set_len, apply_write};
use super::names::{Directory, apply_dir_op};
use super::stats::SimStats;

/// A byte range a byte-granular tear filled with zeros or garbage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornRange {
    /// File name after the crash.
    pub file: String,
    /// First filler byte.
    pub start: u64,
    /// One past the last filler byte.
    pub end: u64,
    /// Zeros or garbage.
    pub filler: Filler,
}

/// What the last crash did that a checker needs to know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Filler ranges left by byte-granular tears (bytes no caller ever wrote).
    pub filler: Vec<TornRange>,
    /// Bits flipped in durable images: file, byte offset, bit index.
    pub bit_flips: Vec<(String, u64, u8)>,
    /// Header damage: file, and the byte range changed.
    pub headers_damaged: Vec<(String, u64, u64)>,
}

/// The fate of one unsynced write.
enum Fate {
    Persist,
    Vanish,
    Tear,
}

/// Draws crash outcomes; borrows the storage's generator, model and counters.
pub(super) struct Resolver<'a> {
    pub(super) rng: &'a mut ChaCha8Rng,
    pub(super) model: &'a CrashModel,
    pub(super) sector_size: u64,
    pub(super) stats: &'a mut SimStats,
    pub(super) report: &'a mut CrashReport,
}

impl Resolver<'_> {
    /// The names that survive.
    pub(super) fn directory(&mut self, dir: &Directory) -> BTreeMap<String, u64> {
        let mut names = dir.durable.clone();
        for op in &dir.pending {
            let persists = self.rng.random_bool(self.model.dir_op_persist);
            if persists && apply_dir_op(&mut names, op) {
                self.stats.dir_ops_persisted += 1;
            } else {
                self.stats.dir_ops_lost += 1;
            }
        }
        names
    }

    /// The bytes file `name` holds after the crash.
    pub(super) fn file(&mut self, name: &str, durable: &[u8], pending: &[Pending]) -> Vec<u8> {
        let mut image = durable.to_vec();
        let mut order: Vec<&Pending> = pending.iter().collect();
        shuffle(self.rng, &mut order);
        for op in order {
            match op {
                Pending::Write { offset, data } => self.write(name, &mut image, *offset, data),
                Pending::SetLen(len) => {
                    if self.rng.random_bool(self.model.set_len_persist) {
                        apply_set_len(&mut image, *len);
                        self.stats.set_lens_persisted += 1;
                    } else {
                        self.stats.set_lens_lost += 1;
                    }
                }
            }
        }
        image
    }

    /// Maybe flips one bit of `image`.
    /// Flips one bit of `image` with probability `rate`, if `allowed` (the draws
    /// happen either way). Returns whether it flipped.
    pub(super) fn rot(&mut self, name: &str, image: &mut [u8], rate: f64, allowed: bool) -> bool {
        if image.is_empty() || rate == 0.0 || !self.rng.random_bool(rate) {
            return false;
        }
        let byte = self.rng.random_range(0..image.len());
        let bit: u8 = self.rng.random_range(0..8);
        if !allowed {
            return false;
        }
        image[byte] ^= 1 << bit;
        self.stats.bit_flips += 1;
        self.report
            .bit_flips
            .push((name.to_string(), byte as u64, bit));
        true
    }

    /// With probability `rate`, if `allowed` (the draws happen either way), damages
    /// the first [`DAMAGED_PREFIX_BYTES`] bytes of one of the durable `writes` still
    /// inside `image`: zeroes them, flips one bit, or copies another write's first
    /// bytes over them. Returns the byte range it changed.
    pub(super) fn damage_header(
        &mut self,
        name: &str,
        image: &mut [u8],
        writes: &[WriteRecord],
        rate: f64,
        allowed: bool,
    ) -> Option<(u64, u64)> {
        let inside: Vec<&WriteRecord> = writes
            .iter()
            .filter(|w| w.synced && w.offset < image.len() as u64)
            .collect();
        if inside.is_empty() || rate == 0.0 || !self.rng.random_bool(rate) {
            return None;
        }
        let target = inside[self.rng.random_range(0..inside.len())];
        let source = inside[self.rng.random_range(0..inside.len())];
        let how = self.rng.random_range(0..3u8);
        let bit = self.rng.random_range(0..DAMAGED_PREFIX_BYTES * 8);
        if !allowed {
            return None;
        }
        let prefix = |w: &WriteRecord| {
            let start = w.offset as usize;
            let len = (w.len as usize)
                .min(DAMAGED_PREFIX_BYTES)
                .min(image.len() - start);
            (start, len)
        };
        let (at, len) = prefix(target);
        match how {
            0 => image[at..at + len].fill(0),
            1 => image[at + (bit / 8) % len] ^= 1 << (bit % 8),
            _ => {
                let (from, from_len) = prefix(source);
                let n = len.min(from_len);
                image.copy_within(from..from + n, at);
            }
        }
        self.stats.header_damage += 1;
        let range = (at as u64, (at + len) as u64);
        self.report
            .headers_damaged
            .push((name.to_string(), range.0, range.1));
        Some(range)
    }

    fn fate(&mut self) -> Fate {
        let m = self.model;
        let total = m.persist_weight + m.vanish_weight + m.tear_weight;
        let pick = self.rng.random_range(0..total);
        if pick < m.persist_weight {
            Fate::Persist
        } else if pick < m.persist_weight + m.vanish_weight {
            Fate::Vanish
        } else {
            Fate::Tear
        }
    }

    fn write(&mut self, name: &str, image: &mut Vec<u8>, offset: u64, data: &[u8]) {
        match self.fate() {
            Fate::Persist => {
                apply_write(image, offset, data);
                self.stats.writes_persisted += 1;
            }
            Fate::Vanish => self.stats.writes_vanished += 1,
            Fate::Tear => {
                self.stats.writes_torn += 1;
                let by_sector = match self.model.tearing {
                    Tearing::Sector => true,
                    Tearing::Byte => false,
                    Tearing::Both => self.rng.random_bool(0.5),
                };
                if by_sector {
                    self.tear_sectors(image, offset, data);
                } else {
                    self.tear_bytes(name, image, offset, data);
                }
            }
        }
    }

    /// Each sector-aligned piece of the write persists or not.
    fn tear_sectors(&mut self, image: &mut Vec<u8>, offset: u64, data: &[u8]) {
        let mut at = 0_usize;
        while at < data.len() {
            let pos = offset + at as u64;
            let to_boundary = self.sector_size - pos % self.sector_size;
            let piece = (data.len() - at).min(usize::try_from(to_boundary).unwrap_or(usize::MAX));
            if self.rng.random_bool(0.5) {
                apply_write(image, pos, &data[at..at + piece]);
            }
            at += piece;
        }
    }

    /// A prefix persists; filler covers the rest of the write's range.
    fn tear_bytes(&mut self, name: &str, image: &mut Vec<u8>, offset: u64, data: &[u8]) {
        let split = self.rng.random_range(0..data.len());
        let filler = match self.model.filler {
            Filler::Either if self.rng.random_bool(0.5) => Filler::Zeros,
            Filler::Either => Filler::Garbage,
            fixed => fixed,
        };
        let mut bytes = data[..split].to_vec();
        let tail = data.len() - split;
        match filler {
            Filler::Garbage => bytes.extend((0..tail).map(|_| self.rng.random::<u8>())),
            _ => bytes.resize(data.len(), 0),
        }
        apply_write(image, offset, &bytes);
        self.report.filler.push(TornRange {
            file: name.to_string(),
            start: offset + split as u64,
            end: offset + data.len() as u64,
            filler,
        });
    }
}

/// Fisher-Yates with the seeded generator.
fn shuffle<T>(rng: &mut ChaCha8Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}
