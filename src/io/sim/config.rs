//! What a [`super::SimStorage`] may do: the crash model and the runtime fault rates.

use crate::error::{Error, Result};

/// How an unsynced write may tear at a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tearing {
    /// Each sector the write touches persists or not, independently.
    Sector,
    /// The write persists up to a random byte; after it comes filler.
    Byte,
    /// Either of the above, chosen per torn write.
    Both,
}

/// What a byte-granular tear leaves after its split point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filler {
    /// Zero bytes.
    Zeros,
    /// Random bytes from the seeded generator.
    Garbage,
    /// Either, chosen per torn write.
    Either,
}

/// What a crash (power cut) does to state that was not synced.
#[derive(Debug, Clone, PartialEq)]
pub struct CrashModel {
    /// Relative weight of "an unsynced write persists whole".
    pub persist_weight: u32,
    /// Relative weight of "an unsynced write vanishes".
    pub vanish_weight: u32,
    /// Relative weight of "an unsynced write tears".
    pub tear_weight: u32,
    /// How a torn write tears.
    pub tearing: Tearing,
    /// Filler after a byte-granular split.
    pub filler: Filler,
    /// Probability that an unsynced length change persists.
    pub set_len_persist: f64,
    /// Probability that an unsynced create, rename or remove persists.
    pub dir_op_persist: f64,
}

impl Default for CrashModel {
    fn default() -> CrashModel {
        CrashModel {
            persist_weight: 1,
            vanish_weight: 1,
            tear_weight: 1,
            tearing: Tearing::Both,
            filler: Filler::Either,
            set_len_persist: 0.5,
            dir_op_persist: 0.5,
        }
    }
}

/// Runtime fault rates. Each is the probability per eligible call; 0 turns the class
/// off. All are off by default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultRates {
    /// Per `read_at`: one sector in the range goes bad (sticky EIO until rewritten).
    pub read_eio: f64,
    /// Per `write_at`: EIO, with a random prefix of the bytes possibly written.
    pub write_eio: f64,
    /// Per `sync`/`sync_dir`: EIO with fsyncgate semantics (dirty state dropped).
    pub sync_eio: f64,
    /// Per transfer inside `read_at`: the transfer is short.
    pub short_read: f64,
    /// Per transfer inside `write_at`: the transfer is short.
    pub short_write: f64,
    /// Per `write_at`: the bytes land at a wrong offset or in another file; Ok returned.
    pub misdirected_write: f64,
    /// Per file per crash: one bit of its durable image flips.
    pub bit_flip: f64,
    /// Per file per crash: the first 40 bytes of one of its
    /// durable writes (for a log: a segment header or a message header) are zeroed,
    /// get one bit flipped, or are overwritten by another write's first bytes (a stale
    /// header in the wrong place).
    pub header_damage: f64,
    /// Total bytes all files may hold; a write or extension past it is ENOSPC.
    pub enospc_quota_bytes: Option<u64>,
}

impl FaultRates {
    /// Every runtime class on at `rate` (and no quota).
    pub fn all(rate: f64) -> FaultRates {
        FaultRates {
            read_eio: rate,
            write_eio: rate,
            sync_eio: rate,
            short_read: rate,
            short_write: rate,
            misdirected_write: rate,
            bit_flip: rate,
            header_damage: rate,
            enospc_quota_bytes: None,
        }
    }

    fn named(&self) -> [(&'static str, f64); 8] {
        [
            ("read_eio", self.read_eio),
            ("write_eio", self.write_eio),
            ("sync_eio", self.sync_eio),
            ("short_read", self.short_read),
            ("short_write", self.short_write),
            ("misdirected_write", self.misdirected_write),
            ("bit_flip", self.bit_flip),
            ("header_damage", self.header_damage),
        ]
    }
}

/// How many first bytes of a write header damage hits: a pagelog segment header is 40
/// bytes, a message header 28.
pub const DAMAGED_PREFIX_BYTES: usize = 40;

/// Everything a [`super::SimStorage`] is built from, besides its seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Sector size in bytes (a power of two): the unit of sector tearing, of sticky read
    /// errors and of misdirected-write shifts.
    pub sector_size: u64,
    /// Largest file the simulated disk holds; beyond it writes fail with `FileTooLarge`.
    /// It keeps a stray huge offset from allocating without bound.
    pub max_file_bytes: u64,
    /// What a crash does.
    pub crash: CrashModel,
    /// Runtime faults.
    pub faults: FaultRates,
    /// A disk that lies, outside the legal fault model: `sync` and `sync_dir` return
    /// Ok and persist nothing; at a crash every unsynced change is lost. For proving
    /// that a checker catches lost acknowledged data, never for testing an engine.
    pub lying_sync: bool,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            sector_size: 512,
            max_file_bytes: 1 << 30,
            crash: CrashModel::default(),
            faults: FaultRates::default(),
            lying_sync: false,
        }
    }
}

impl SimConfig {
    /// Checks every value; the message names the one out of range.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::InvalidConfig(what));
        if !self.sector_size.is_power_of_two() {
            return bad(format!(
                "sector_size {} is not a power of two",
                self.sector_size
            ));
        }
        if self.max_file_bytes == 0 || self.max_file_bytes > (1 << 40) {
            return bad(format!(
                "max_file_bytes {} not in 1..=2^40",
                self.max_file_bytes
            ));
        }
        let c = &self.crash;
        if c.persist_weight as u64 + c.vanish_weight as u64 + c.tear_weight as u64 == 0 {
            return bad("crash weights are all zero".into());
        }
        let probabilities = self.faults.named().into_iter().chain([
            ("set_len_persist", c.set_len_persist),
            ("dir_op_persist", c.dir_op_persist),
        ]);
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return bad(format!("{name} = {p} is not a probability in [0, 1]"));
            }
        }
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_named_in_the_error() {
        let mut c = SimConfig::default();
        assert!(c.validate().is_ok());
        c.faults.sync_eio = 1.5;
        let msg = c.validate().expect_err("rate 1.5").to_string();
        assert!(msg.contains("sync_eio"), "{msg}");
        let c = SimConfig {
            sector_size: 500,
            ..SimConfig::default()
        };
        assert!(
            c.validate()
                .expect_err("sector")
                .to_string()
                .contains("sector_size")
        );
    }
}
