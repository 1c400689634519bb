//! A scenario written out in full: every value `Scenario::draw` decides, as
//! `key=value` pairs joined by commas. A regression test holds this text rather than
//! a seed and pins, so a later change to how seeds draw scenarios cannot silently turn
//! it into a different run: the run depends only on the text, the plan, the fault
//! mask and the engine.
//!
//! Every key is required and none may repeat; an unknown key, a missing one or a bad
//! value is an error naming it. The one exception is `header_damage`, added after
//! regression tests were first written: a text without it means 0. Engine settings a scenario never draws
//! (`flush_every_ms`, off) take `Config::default()`; the recovery policy is written
//! out. Floating-point values print in Rust's shortest round-trip form, so
//! `text.parse::<Scenario>()?.to_string() == text`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::scenario::{FaultClass, Liar, Pins, Scenario, class_list, mode_name};
use crate::config::{Config, RecoveryMode, SegmentMode};
use crate::io::{CrashModel, FaultRates, Filler, SimConfig, Tearing};

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = pairs(self)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Every key of a scenario's text, in its written order (`pairs`).
pub(crate) const SCENARIO_KEYS: [&str; 32] = [
    "seed",
    "segment",
    "buf",
    "bufs",
    "blob",
    "mode",
    "cleanup",
    "recovery",
    "clients",
    "ops",
    "crash",
    "faults",
    "read_eio",
    "write_eio",
    "sync_eio",
    "short_read",
    "short_write",
    "misdirected",
    "bit_flip",
    "header_damage",
    "quota",
    "headroom",
    "sector",
    "max_file",
    "persist",
    "vanish",
    "tear",
    "tearing",
    "filler",
    "set_len_persist",
    "dir_op_persist",
    "liar",
];

/// The scenario's values in their written order.
fn pairs(s: &Scenario) -> Vec<(&'static str, String)> {
    let c = &s.config;
    let r = &s.sim.faults;
    let m = &s.sim.crash;
    vec![
        ("seed", s.seed.to_string()),
        ("segment", c.segment_size_bytes.to_string()),
        ("buf", c.io_buf_size_bytes.to_string()),
        ("bufs", c.io_bufs.to_string()),
        ("blob", c.blob_threshold_bytes.to_string()),
        ("mode", mode_name(c.segment_mode).to_string()),
        ("cleanup", c.cleanup_threshold_pct.to_string()),
        ("recovery", recovery_name(c.recovery_mode).to_string()),
        ("clients", s.clients.to_string()),
        ("ops", s.ops.to_string()),
        ("crash", s.crash_rate.to_string()),
        ("faults", class_list(&s.faults)),
        ("read_eio", r.read_eio.to_string()),
        ("write_eio", r.write_eio.to_string()),
        ("sync_eio", r.sync_eio.to_string()),
        ("short_read", r.short_read.to_string()),
        ("short_write", r.short_write.to_string()),
        ("misdirected", r.misdirected_write.to_string()),
        ("bit_flip", r.bit_flip.to_string()),
        ("header_damage", r.header_damage.to_string()),
        ("quota", optional(r.enospc_quota_bytes)),
        ("headroom", optional(s.headroom)),
        ("sector", s.sim.sector_size.to_string()),
        ("max_file", s.sim.max_file_bytes.to_string()),
        ("persist", m.persist_weight.to_string()),
        ("vanish", m.vanish_weight.to_string()),
        ("tear", m.tear_weight.to_string()),
        ("tearing", tearing_name(m.tearing).to_string()),
        ("filler", filler_name(m.filler).to_string()),
        ("set_len_persist", m.set_len_persist.to_string()),
        ("dir_op_persist", m.dir_op_persist.to_string()),
        ("liar", liar_name(s.pins.liar).to_string()),
    ]
}

fn optional(v: Option<u64>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
}

fn recovery_name(m: RecoveryMode) -> &'static str {
    match m {
        RecoveryMode::AbsoluteConsistency => "absolute",
        RecoveryMode::TolerateCorruptTail => "tolerate",
    }
}

fn tearing_name(t: Tearing) -> &'static str {
    match t {
        Tearing::Sector => "sector",
        Tearing::Byte => "byte",
        Tearing::Both => "both",
    }
}

fn filler_name(f: Filler) -> &'static str {
    match f {
        Filler::Zeros => "zeros",
        Filler::Garbage => "garbage",
        Filler::Either => "either",
    }
}

fn liar_name(l: Liar) -> &'static str {
    match l {
        Liar::None => "none",
        Liar::Sync => "sync",
        Liar::Resurrect => "resurrect",
    }
}

/// The pairs of a scenario text, each key taken once.
pub(crate) struct Fields<'a>(BTreeMap<&'a str, &'a str>);

impl<'a> Fields<'a> {
    pub(crate) fn parse(text: &'a str) -> Result<Fields<'a>, String> {
        let mut map = BTreeMap::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("scenario: {pair:?} is not key=value"))?;
            if map.insert(k.trim(), v.trim()).is_some() {
                return Err(format!("scenario: key {k:?} given twice"));
            }
        }
        Ok(Fields(map))
    }

    fn text(&mut self, key: &str) -> Result<&'a str, String> {
        self.0
            .remove(key)
            .ok_or_else(|| format!("scenario: key {key:?} is missing"))
    }

    pub(crate) fn num<T: FromStr>(&mut self, key: &str) -> Result<T, String> {
        let v = self.text(key)?;
        v.parse()
            .map_err(|_| format!("scenario: {key}={v} is not a number"))
    }

    /// A number that texts written before the key existed lack: `default` then.
    fn num_or<T: FromStr>(&mut self, key: &str, default: T) -> Result<T, String> {
        if self.0.contains_key(key) {
            self.num(key)
        } else {
            Ok(default)
        }
    }

    fn optional(&mut self, key: &str) -> Result<Option<u64>, String> {
        match self.text(key)? {
            "none" => Ok(None),
            v => v
                .parse()
                .map(Some)
                .map_err(|_| format!("scenario: {key}={v} is neither a number nor none")),
        }
    }

    pub(crate) fn named<T: Copy>(&mut self, key: &str, choices: &[(&str, T)]) -> Result<T, String> {
        let v = self.text(key)?;
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        choices
            .iter()
            .find(|(n, _)| *n == v)
            .map(|(_, t)| *t)
            .ok_or_else(|| format!("scenario: {key}={v}; use one of {}", names.join(", ")))
    }

    /// An error naming the first key given that is not among `known` (a typo is
    /// named as such, not as the key it was meant to be going missing).
    pub(crate) fn only(&self, known: &[&[&str]]) -> Result<(), String> {
        let unknown = self
            .0
            .keys()
            .find(|k| !known.iter().any(|keys| keys.contains(k)));
        match unknown {
            Some(k) => Err(format!("scenario: unknown key {k:?}")),
            None => Ok(()),
        }
    }

    pub(crate) fn finish(self) -> Result<(), String> {
        match self.0.keys().next() {
            Some(k) => Err(format!("scenario: unknown key {k:?}")),
            None => Ok(()),
        }
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(text: &str) -> Result<Scenario, String> {
        let mut f = Fields::parse(text)?;
        f.only(&[&SCENARIO_KEYS])?;
        let scenario = Scenario::from_fields(&mut f)?;
        f.finish()?;
        Ok(scenario)
    }
}

impl Scenario {
    /// The scenario the pairs of `f` write out, taking its keys from `f` (a page
    /// scenario's text holds more).
    pub(crate) fn from_fields(f: &mut Fields<'_>) -> Result<Scenario, String> {
        let seed = f.num("seed")?;
        let config = parse_config(f)?;
        let clients = f.num("clients")?;
        let ops = f.num("ops")?;
        let crash_rate = f.num("crash")?;
        let faults = FaultClass::parse_set(f.text("faults")?)?;
        let liar = f.named(
            "liar",
            &[
                ("none", Liar::None),
                ("sync", Liar::Sync),
                ("resurrect", Liar::Resurrect),
            ],
        )?;
        let (sim, headroom) = parse_sim(f, liar)?;
        if !(0.0..=1.0).contains(&crash_rate) {
            return Err(format!(
                "scenario: crash={crash_rate} is not a rate (0 to 1)"
            ));
        }
        // ops=0 stays valid: a run given with its plan (a fuzz finding) may be empty.
        if clients == 0 {
            return Err("scenario: clients=0: a run needs at least one client".to_string());
        }
        let scenario = Scenario {
            seed,
            pins: Pins {
                liar,
                ..Pins::default()
            },
            config,
            sim,
            faults,
            headroom,
            clients,
            ops,
            crash_rate,
            extra_list: false,
        };
        scenario.config.validate().map_err(|e| e.to_string())?;
        scenario.sim.validate().map_err(|e| e.to_string())?;
        Ok(scenario)
    }
}

fn parse_config(f: &mut Fields<'_>) -> Result<Config, String> {
    Ok(Config {
        segment_size_bytes: f.num("segment")?,
        io_buf_size_bytes: f.num("buf")?,
        io_bufs: f.num("bufs")?,
        blob_threshold_bytes: f.num("blob")?,
        segment_mode: f.named(
            "mode",
            &[("linear", SegmentMode::Linear), ("gc", SegmentMode::Gc)],
        )?,
        cleanup_threshold_pct: f.num("cleanup")?,
        recovery_mode: f.named(
            "recovery",
            &[
                ("absolute", RecoveryMode::AbsoluteConsistency),
                ("tolerate", RecoveryMode::TolerateCorruptTail),
            ],
        )?,
        ..Config::default()
    })
}

fn parse_sim(f: &mut Fields<'_>, liar: Liar) -> Result<(SimConfig, Option<u64>), String> {
    let faults = FaultRates {
        read_eio: f.num("read_eio")?,
        write_eio: f.num("write_eio")?,
        sync_eio: f.num("sync_eio")?,
        short_read: f.num("short_read")?,
        short_write: f.num("short_write")?,
        misdirected_write: f.num("misdirected")?,
        bit_flip: f.num("bit_flip")?,
        header_damage: f.num_or("header_damage", 0.0)?,
        enospc_quota_bytes: f.optional("quota")?,
    };
    let headroom = f.optional("headroom")?;
    let sector_size = f.num("sector")?;
    let max_file_bytes = f.num("max_file")?;
    let crash = CrashModel {
        persist_weight: f.num("persist")?,
        vanish_weight: f.num("vanish")?,
        tear_weight: f.num("tear")?,
        tearing: f.named(
            "tearing",
            &[
                ("sector", Tearing::Sector),
                ("byte", Tearing::Byte),
                ("both", Tearing::Both),
            ],
        )?,
        filler: f.named(
            "filler",
            &[
                ("zeros", Filler::Zeros),
                ("garbage", Filler::Garbage),
                ("either", Filler::Either),
            ],
        )?,
        set_len_persist: f.num("set_len_persist")?,
        dir_op_persist: f.num("dir_op_persist")?,
    };
    let sim = SimConfig {
        sector_size,
        max_file_bytes,
        crash,
        faults,
        lying_sync: liar == Liar::Sync,
    };
    Ok((sim, headroom))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn every_drawn_scenario_round_trips_through_its_text() {
        let pinned: Pins = "liar=sync".parse().expect("pins");
        for seed in 0..500 {
            for pins in [Pins::default(), pinned.clone()] {
                let drawn = Scenario::draw(seed, &pins);
                let text = drawn.to_string();
                let back: Scenario = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(back.to_string(), text);
                assert_eq!(back.config, drawn.config, "{text}");
                assert_eq!(back.sim, drawn.sim, "{text}");
                assert_eq!(back.faults, drawn.faults);
                assert_eq!(
                    (back.headroom, back.clients, back.ops),
                    (drawn.headroom, drawn.clients, drawn.ops)
                );
                assert_eq!(back.crash_rate.to_bits(), drawn.crash_rate.to_bits());
                assert_eq!(back.pins.liar, drawn.pins.liar);
            }
        }
    }

    #[test]
    fn the_key_list_is_the_written_one() {
        let drawn = Scenario::draw(3, &Pins::default());
        let keys: Vec<&str> = pairs(&drawn).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, SCENARIO_KEYS);
    }

    #[test]
    fn a_bad_scenario_text_names_what_is_wrong() {
        let drawn = Scenario::draw(7, &Pins::default());
        let (good, clients) = (drawn.to_string(), drawn.clients);
        let cases = [
            (good.replace("segment=", "segmnt="), "segmnt"),
            (format!("{good},colour=red"), "colour"),
            (format!("{good},seed=1"), "twice"),
            (good.replace("mode=", "mode=x"), "mode"),
            (good.replace("sync_eio=0", "sync_eio=2"), "sync_eio"),
            (good.replacen("seed=7", "seed", 1), "key=value"),
            (good.replace("crash=", "crash=2"), "crash"),
            (
                good.replace(&format!(",clients={}", clients), ",clients=0"),
                "clients",
            ),
        ];
        for (text, named) in cases {
            let err = text.parse::<Scenario>().expect_err(named);
            assert!(err.contains(named), "{named}: {err}");
        }
    }
}
