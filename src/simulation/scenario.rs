//! What a seed decides before the first step: swarm testing draws a different engine
//! configuration, set of fault classes and workload shape per seed, so a campaign
//! covers combinations no hand-written test would pick. [`Pins`] fix any of it.

use std::fmt;
use std::str::FromStr;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Config, SegmentMode};
use crate::io::{CrashModel, FaultRates, Filler, SimConfig, Tearing};

/// A class of runtime storage fault (see `pagelog::io::sim` for each one's semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultClass {
    /// A sector goes bad: reads of it fail until it is rewritten.
    ReadEio,
    /// A write fails, part of it possibly landed.
    WriteEio,
    /// A sync fails and drops the dirty data (fsyncgate).
    SyncEio,
    /// A read transfer comes back short.
    ShortRead,
    /// A write transfer goes through short.
    ShortWrite,
    /// A write lands at a wrong place and reports Ok (durable corruption).
    Misdirected,
    /// A bit of a durable image flips at a crash (durable corruption).
    BitFlip,
    /// At a crash, a durable write's first bytes (a segment or message header) are
    /// zeroed, get a bit flipped, or are overwritten by another write's (durable
    /// corruption aimed at headers, which random bit flips rarely hit).
    HeaderDamage,
    /// The disk fills up.
    Enospc,
}

impl FaultClass {
    /// Every class.
    pub const ALL: [FaultClass; 9] = [
        FaultClass::ReadEio,
        FaultClass::WriteEio,
        FaultClass::SyncEio,
        FaultClass::ShortRead,
        FaultClass::ShortWrite,
        FaultClass::Misdirected,
        FaultClass::BitFlip,
        FaultClass::HeaderDamage,
        FaultClass::Enospc,
    ];

    /// The class's name on the command line and in summaries.
    pub fn name(self) -> &'static str {
        match self {
            FaultClass::ReadEio => "read_eio",
            FaultClass::WriteEio => "write_eio",
            FaultClass::SyncEio => "sync_eio",
            FaultClass::ShortRead => "short_read",
            FaultClass::ShortWrite => "short_write",
            FaultClass::Misdirected => "misdirected",
            FaultClass::BitFlip => "bit_flip",
            FaultClass::HeaderDamage => "header",
            FaultClass::Enospc => "enospc",
        }
    }

    /// The unit of the class's drawn rate (a scenario draws 1 to 20 of them). A sticky
    /// bad sector or a flipped bit usually ends its seed with a reported corruption
    /// (the engine finds the damage and says so), so those two classes draw a
    /// twentieth of the rate of the others: most seeds still run to their end. Header
    /// damage draws ten times a bit flip's rate: it is the class that tests whether
    /// recovery tells damage from a torn tail, so it must fire often enough to bite. A misdirected
    /// write damages bytes too, but rarely ones that are read again.
    pub fn rate_step(self) -> f64 {
        match self {
            FaultClass::ReadEio | FaultClass::BitFlip => 0.00005,
            FaultClass::HeaderDamage => 0.0005,
            _ => 0.001,
        }
    }

    /// The class named `name`.
    pub fn parse(name: &str) -> Option<FaultClass> {
        FaultClass::ALL.into_iter().find(|c| c.name() == name)
    }

    /// True for classes that damage durable bytes without an error: after one fired,
    /// recovery may lose acknowledged data (it must say Corruption or return a prefix
    /// of true data, never wrong data).
    pub fn corrupts_durably(self) -> bool {
        matches!(
            self,
            FaultClass::Misdirected | FaultClass::BitFlip | FaultClass::HeaderDamage
        )
    }

    /// Parses `all`, `none` or a comma- or plus-separated list of class names.
    pub fn parse_set(text: &str) -> Result<Vec<FaultClass>, String> {
        match text {
            "all" => Ok(FaultClass::ALL.to_vec()),
            "none" => Ok(Vec::new()),
            "" => Err("an empty list of fault classes: say all or none".to_string()),
            list => list
                .split([',', '+'])
                .map(|n| FaultClass::parse(n.trim()).ok_or_else(|| unknown_class(n)))
                .collect(),
        }
    }
}

fn unknown_class(name: &str) -> String {
    let known: Vec<&str> = FaultClass::ALL.iter().map(|c| c.name()).collect();
    format!(
        "unknown fault class {name:?}; known: {} (or all, none)",
        known.join(", ")
    )
}

/// A misbehaviour outside the legal fault model, for proving that the oracle catches
/// what it must. Never on unless asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Liar {
    /// An honest disk.
    #[default]
    None,
    /// `sync` returns Ok and persists nothing: acknowledged data is lost (I1).
    Sync,
    /// After each crash the disk returns an aborted message's original bytes where
    /// its Cancelled record was (I2).
    Resurrect,
}

/// Values that override what the seed would draw. The text form (`key=value` pairs
/// joined by commas) is what replay commands and regression tests carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pins {
    /// Segment size in bytes (a power of two, 256 B to 64 KiB in campaigns).
    pub segment: Option<u64>,
    /// IO buffers (2 to 8 in campaigns).
    pub bufs: Option<usize>,
    /// Blob threshold in bytes.
    pub blob: Option<usize>,
    /// Segment mode.
    pub mode: Option<SegmentMode>,
    /// Cleanup threshold percent.
    pub cleanup: Option<u8>,
    /// The fault classes a seed may turn on (None: all of them).
    pub faults: Option<Vec<FaultClass>>,
    /// Every enabled class at exactly this rate.
    pub rate: Option<f64>,
    /// Logical clients (1 to 16).
    pub clients: Option<u8>,
    /// Steps in the plan.
    pub ops: Option<u32>,
    /// Probability per step of a crash.
    pub crash: Option<f64>,
    /// A lying disk (outside the model).
    pub liar: Liar,
    /// Page seeds: a deliberately wrong Materializer (`materializer=wrong`), for the
    /// self-check that the page oracle catches one.
    pub wrong_materializer: bool,
}

impl fmt::Display for Pins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        };
        put("segment", self.segment.map(|v| v.to_string()));
        put("bufs", self.bufs.map(|v| v.to_string()));
        put("blob", self.blob.map(|v| v.to_string()));
        put("mode", self.mode.map(|m| mode_name(m).to_string()));
        put("cleanup", self.cleanup.map(|v| v.to_string()));
        put("faults", self.faults.as_ref().map(|c| class_list(c)));
        put("rate", self.rate.map(|v| v.to_string()));
        put("clients", self.clients.map(|v| v.to_string()));
        put("ops", self.ops.map(|v| v.to_string()));
        put("crash", self.crash.map(|v| v.to_string()));
        let liar = match self.liar {
            Liar::None => None,
            Liar::Sync => Some("sync".to_string()),
            Liar::Resurrect => Some("resurrect".to_string()),
        };
        put("liar", liar);
        put(
            "materializer",
            self.wrong_materializer.then(|| "wrong".to_string()),
        );
        f.write_str(&parts.join(","))
    }
}

pub(crate) fn class_list(classes: &[FaultClass]) -> String {
    if classes.is_empty() {
        return "none".into();
    }
    let names: Vec<&str> = classes.iter().map(|c| c.name()).collect();
    names.join("+")
}

pub(crate) fn mode_name(m: SegmentMode) -> &'static str {
    match m {
        SegmentMode::Linear => "linear",
        SegmentMode::Gc => "gc",
    }
}

impl FromStr for Pins {
    type Err = String;

    fn from_str(text: &str) -> Result<Pins, String> {
        let mut p = Pins::default();
        for pair in text.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("pin {pair:?} is not key=value"))?;
            p.set(k.trim(), v.trim())?;
        }
        Ok(p)
    }
}

/// A whole number from `lo` to `hi`: "not a number" only when it is not one.
fn whole<T: TryFrom<u64>>(k: &str, v: &str, lo: u64, hi: u64) -> Result<Option<T>, String> {
    let n: u64 = v
        .parse()
        .map_err(|_| format!("pin {k}={v}: not a whole number"))?;
    if !(lo..=hi).contains(&n) {
        return Err(format!("pin {k}={v}: out of range ({lo} to {hi})"));
    }
    T::try_from(n)
        .map(Some)
        .map_err(|_| format!("pin {k}={v}: out of range ({lo} to {hi})"))
}

/// A probability: a finite number from 0 to 1.
fn probability(k: &str, v: &str) -> Result<Option<f64>, String> {
    let p: f64 = v
        .parse()
        .map_err(|_| format!("pin {k}={v}: not a number"))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("pin {k}={v}: out of range (a probability, 0 to 1)"));
    }
    Ok(Some(p))
}

/// The largest segment a simulated seed may pin (the simulated disk holds its files
/// in memory).
pub const MAX_PINNED_SEGMENT: u64 = 16 << 20;

impl Pins {
    /// Checks the pins against each other: a pinned blob threshold must fit an inline
    /// message in the smallest segment and IO buffer a seed may draw with them (so no
    /// seed's config is invalid, which the campaign would report as a failure).
    pub fn validate(&self) -> Result<(), String> {
        if let Some(blob) = self.blob {
            let (segment, buf) = smallest_drawn(self.segment);
            let most = crate::config::max_inline_bytes(segment, buf);
            if blob > most {
                let with = self.segment.map_or(
                    "the smallest segment a seed draws (256 B)".to_string(),
                    |s| format!("segment={s}"),
                );
                return Err(format!(
                    "pin blob={blob}: out of range (1 to {most}, the largest inline value with {with})"
                ));
            }
        }
        Ok(())
    }

    /// Sets pin `k` from its text `v`.
    pub fn set(&mut self, k: &str, v: &str) -> Result<(), String> {
        match k {
            "segment" => {
                self.segment = whole(k, v, 256, MAX_PINNED_SEGMENT)?;
                if self.segment.is_some_and(|s| !s.is_power_of_two()) {
                    return Err(format!("pin segment={v}: not a power of two"));
                }
            }
            "bufs" => self.bufs = whole(k, v, 2, 64)?,
            "blob" => self.blob = whole(k, v, 1, MAX_PINNED_SEGMENT)?,
            "cleanup" => self.cleanup = whole(k, v, 1, 99)?,
            "rate" => self.rate = probability(k, v)?,
            "clients" => self.clients = whole(k, v, 1, 16)?,
            "ops" => self.ops = whole(k, v, 1, 10_000_000)?,
            "crash" => self.crash = probability(k, v)?,
            "faults" => {
                let set = FaultClass::parse_set(v).map_err(|e| format!("faults={v}: {e}"))?;
                self.faults = Some(set);
            }
            "mode" => {
                self.mode = Some(match v {
                    "linear" => SegmentMode::Linear,
                    "gc" => SegmentMode::Gc,
                    _ => return Err(format!("mode={v}: use linear or gc")),
                })
            }
            "liar" => {
                self.liar = match v {
                    "none" => Liar::None,
                    "sync" => Liar::Sync,
                    "resurrect" => Liar::Resurrect,
                    _ => return Err(format!("liar={v}: use none, sync or resurrect")),
                }
            }
            "materializer" => {
                self.wrong_materializer = match v {
                    "right" => false,
                    "wrong" => true,
                    _ => return Err(format!("materializer={v}: use right or wrong")),
                }
            }
            _ => return Err(format!("unknown pin {k:?}")),
        }
        Ok(())
    }
}

/// Everything one seeded run is made of, besides its plan.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The seed.
    pub seed: u64,
    /// The pins it was drawn under.
    pub pins: Pins,
    /// The engine's configuration.
    pub config: Config,
    /// The simulated disk's configuration (crash model, fault rates).
    pub sim: SimConfig,
    /// Fault classes on in this run.
    pub faults: Vec<FaultClass>,
    /// For ENOSPC: bytes of headroom granted above the disk's use at each open.
    pub headroom: Option<u64>,
    /// Logical clients.
    pub clients: u8,
    /// Steps in the plan.
    pub ops: u32,
    /// Probability per step of a crash.
    pub crash_rate: f64,
    /// An extra directory listing after every open of the log file, made by the
    /// simulated disk: it stands for an engine change that adds a storage call, to
    /// show that a regression test's fault sites survive one. Tests only: always
    /// false when drawn or parsed, and not part of the scenario's text.
    pub extra_list: bool,
}

impl Scenario {
    /// Draws the scenario of `seed`, pinned by `pins`.
    pub fn draw(seed: u64, pins: &Pins) -> Scenario {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5ce7_a410_0000_0001);
        let config = draw_config(&mut rng, pins);
        let allowed = pins
            .faults
            .clone()
            .unwrap_or_else(|| FaultClass::ALL.to_vec());
        let faults: Vec<FaultClass> = allowed
            .into_iter()
            .filter(|_| rng.random_bool(0.5))
            .collect();
        let (rates, headroom) = draw_rates(&mut rng, &faults, pins.rate);
        let mut sim = SimConfig {
            crash: draw_crash_model(&mut rng),
            faults: rates,
            lying_sync: pins.liar == Liar::Sync,
            ..SimConfig::default()
        };
        let clients = pins.clients.unwrap_or_else(|| rng.random_range(1..=16));
        let ops = pins.ops.unwrap_or_else(|| draw_ops(&mut rng));
        if pins.rate.is_none() {
            scale_damage(&mut sim.faults, ops);
        }
        let crash_rate = pins.crash.unwrap_or_else(|| {
            let crashes = rng.random_range(0.0..MAX_DRAWN_CRASHES);
            (crashes / f64::from(ops)).min(MAX_CRASH_RATE)
        });
        Scenario {
            seed,
            pins: pins.clone(),
            config,
            sim,
            faults,
            headroom,
            clients,
            ops,
            crash_rate,
            extra_list: false,
        }
    }

    /// True if a class that damages durable bytes silently is on.
    pub fn corrupts_durably(&self) -> bool {
        self.faults.iter().any(|c| c.corrupts_durably())
    }

    /// A one-line description for traces and failure reports.
    pub fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "segment {} B, {} x {} B buffers, blob > {} B, {}, cleanup {}%, {} clients, {} steps, crash rate {:.3}, faults [{}]{}",
            c.segment_size_bytes,
            c.io_bufs,
            c.io_buf_size_bytes,
            c.blob_threshold_bytes,
            mode_name(c.segment_mode),
            c.cleanup_threshold_pct,
            self.clients,
            self.ops,
            self.crash_rate,
            class_list(&self.faults),
            match self.pins.liar {
                Liar::None => "",
                Liar::Sync => ", LYING SYNC",
                Liar::Resurrect => ", RESURRECTING DISK",
            }
        )
    }
}

/// The smallest segment and IO buffer a seed draws under a pinned `segment` (or none).
fn smallest_drawn(segment: Option<u64>) -> (u64, usize) {
    let segment = segment.unwrap_or(256);
    (segment, segment.min(4096) as usize)
}

fn draw_config(rng: &mut ChaCha8Rng, pins: &Pins) -> Config {
    let segment = pins
        .segment
        .unwrap_or_else(|| 256 << rng.random_range(0..=8u32));
    let buf = if segment <= 4096 {
        segment as usize
    } else {
        let max_shift = (segment / 4096).trailing_zeros();
        4096 << rng.random_range(0..=max_shift.min(2))
    };
    let inline_max = crate::config::max_inline_bytes(segment, buf);
    let blob = pins
        .blob
        .unwrap_or_else(|| rng.random_range(16..=inline_max.min(1024)));
    Config {
        segment_size_bytes: segment,
        io_buf_size_bytes: buf,
        io_bufs: pins.bufs.unwrap_or_else(|| rng.random_range(2..=8)),
        blob_threshold_bytes: blob,
        segment_mode: pins.mode.unwrap_or_else(|| {
            if rng.random_bool(0.5) {
                SegmentMode::Linear
            } else {
                SegmentMode::Gc
            }
        }),
        cleanup_threshold_pct: pins.cleanup.unwrap_or_else(|| rng.random_range(10..=90)),
        ..Config::default()
    }
}

/// Fewest and most steps a drawn scenario has.
pub const OPS_RANGE: (u32, u32) = (50, 20_000);

/// A drawn scenario expects 0 to this many crashes whatever its length (every
/// recovery reads the whole log, so a crash costs more the longer the log), at a rate
/// of at most [`MAX_CRASH_RATE`] per step.
const MAX_DRAWN_CRASHES: f64 = 40.0;
const MAX_CRASH_RATE: f64 = 0.1;

/// The length at which drawn damage rates apply as drawn; a longer scenario gets them
/// scaled down so that it expects as many damage events as one this long (damage
/// usually ends a seed with a reported corruption).
const DAMAGE_REFERENCE_OPS: u32 = 300;

fn scale_damage(r: &mut FaultRates, ops: u32) {
    let k = f64::from(DAMAGE_REFERENCE_OPS) / f64::from(ops.max(DAMAGE_REFERENCE_OPS));
    r.read_eio *= k;
    r.bit_flip *= k;
    r.header_damage *= k;
    r.misdirected_write *= k;
}

/// The step count, log-uniform over [`OPS_RANGE`]: as many short seeds (cheap, varied
/// configurations, quick to shrink) as long ones (deep state: many segments, Gc
/// cycles, grown files), per factor of length.
fn draw_ops(rng: &mut ChaCha8Rng) -> u32 {
    let (lo, hi) = (f64::from(OPS_RANGE.0), f64::from(OPS_RANGE.1));
    let x = rng.random_range(lo.ln()..=hi.ln()).exp();
    (x.round() as u32).clamp(OPS_RANGE.0, OPS_RANGE.1)
}

fn draw_rates(
    rng: &mut ChaCha8Rng,
    on: &[FaultClass],
    pinned: Option<f64>,
) -> (FaultRates, Option<u64>) {
    let mut r = FaultRates::default();
    let mut headroom = None;
    for &class in on {
        let step = class.rate_step();
        let rate = pinned.unwrap_or_else(|| step * f64::from(rng.random_range(1..=20u32)));
        match class {
            FaultClass::ReadEio => r.read_eio = rate,
            FaultClass::WriteEio => r.write_eio = rate,
            FaultClass::SyncEio => r.sync_eio = rate,
            FaultClass::ShortRead => r.short_read = rate,
            FaultClass::ShortWrite => r.short_write = rate,
            FaultClass::Misdirected => r.misdirected_write = rate,
            FaultClass::BitFlip => r.bit_flip = (rate * 20.0).min(1.0),
            FaultClass::HeaderDamage => r.header_damage = (rate * 20.0).min(1.0),
            FaultClass::Enospc => headroom = Some(rng.random_range(4u64..=256) * 1024),
        }
    }
    (r, headroom)
}

fn draw_crash_model(rng: &mut ChaCha8Rng) -> CrashModel {
    let tearing = [Tearing::Sector, Tearing::Byte, Tearing::Both][rng.random_range(0..3)];
    let filler = [Filler::Zeros, Filler::Garbage, Filler::Either][rng.random_range(0..3)];
    CrashModel {
        persist_weight: rng.random_range(0..=3),
        vanish_weight: rng.random_range(1..=3),
        tear_weight: rng.random_range(0..=3),
        tearing,
        filler,
        set_len_persist: rng.random_range(0.0..=1.0),
        dir_op_persist: rng.random_range(0.0..=1.0),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn every_drawn_config_is_valid_and_pins_hold() {
        for seed in 0..2000 {
            let s = Scenario::draw(seed, &Pins::default());
            s.config.validate().expect("drawn config");
            s.sim.validate().expect("drawn sim config");
            assert!((256..=65536).contains(&s.config.segment_size_bytes));
            assert!((2..=8).contains(&s.config.io_bufs));
            assert!((1..=16).contains(&s.clients));
        }
        let pins: Pins = "segment=1024,mode=gc,clients=3,ops=77,faults=sync_eio+enospc,liar=sync"
            .parse()
            .expect("pins");
        let s = Scenario::draw(5, &pins);
        assert_eq!(s.config.segment_size_bytes, 1024);
        assert_eq!(s.config.segment_mode, SegmentMode::Gc);
        assert_eq!((s.clients, s.ops), (3, 77));
        assert!(s.sim.lying_sync);
        assert!(
            s.faults
                .iter()
                .all(|c| matches!(c, FaultClass::SyncEio | FaultClass::Enospc))
        );
        assert_eq!(pins.to_string().parse::<Pins>(), Ok(pins));
    }

    #[test]
    fn bad_pins_are_named() {
        for bad in [
            "segment=x",
            "mode=fast",
            "faults=lightning",
            "colour=red",
            "ops",
        ] {
            let err = bad.parse::<Pins>().expect_err(bad);
            let key = bad.split('=').next().unwrap_or(bad);
            assert!(err.contains(key), "{bad}: {err}");
        }
    }
}
