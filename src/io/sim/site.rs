//! Fault sites: where a runtime fault fires, named by what the call does rather than
//! by its number in the run.
//!
//! A call's site is its operation, its file, and how many calls of that operation
//! on that file came before it in the disk's life (across crashes): `write:log#17`
//! is the eighteenth write to `log`. The faults a call may get are drawn from a
//! generator seeded by the disk's seed and the call's site, so a call added or
//! removed elsewhere (an extra directory sync at open) leaves every other site's
//! draws, and a regression test's list of sites, as they were. Crash-time faults
//! (bit rot, header damage while a power cut resolves) have the site `crash:#n`, the
//! n-th crash.
//!
//! The older form, a list of call numbers, is still read
//! ([`super::SimStorage::set_fault_mask`]): it keys the draws by call number as
//! before, so regression tests written with it replay as they were written.

use std::collections::BTreeSet;

use crate::error::IoOp;
use std::fmt;
use std::str::FromStr;

/// Where a call lands; see the module doc.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FaultSite {
    /// The operation (`open`, `read`, `write`, `sync`, ..., or `crash`).
    pub op: String,
    /// The file (empty for the directory and for crashes).
    pub file: String,
    /// Calls of this operation on this file before this one.
    pub nth: u64,
}

impl fmt::Display for FaultSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}#{}", self.op, self.file, self.nth)
    }
}

/// Every storage operation a site can name.
const OPS: [IoOp; 12] = [
    IoOp::Open,
    IoOp::Read,
    IoOp::Write,
    IoOp::Sync,
    IoOp::Len,
    IoOp::SetLen,
    IoOp::Remove,
    IoOp::Rename,
    IoOp::List,
    IoOp::SyncDir,
    IoOp::CreateDir,
    IoOp::Lock,
];

impl FromStr for FaultSite {
    type Err = String;

    fn from_str(s: &str) -> Result<FaultSite, String> {
        let bad = || format!("{s:?}: not a fault site (op:file#n, as in write:log#17)");
        let (head, nth) = s.rsplit_once('#').ok_or_else(bad)?;
        let (op, file) = head.split_once(':').ok_or_else(bad)?;
        let nth = nth.parse().map_err(|_| bad())?;
        if op != "crash" && !OPS.iter().any(|o| o.name() == op) {
            let names: Vec<&str> = OPS.iter().map(|o| o.name()).collect();
            return Err(format!(
                "{}; the operations are {} and crash",
                bad(),
                names.join(", ")
            ));
        }
        // `.` for the directory's calls, empty for crashes.
        let valid_file = file
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b':' | b'#' | b'/' | b','));
        if !valid_file {
            return Err(bad());
        }
        Ok(FaultSite {
            op: op.to_string(),
            file: file.to_string(),
            nth,
        })
    }
}

impl FaultSite {
    /// 64 bits that depend on the site alone (FNV-1a over its text), for seeding the
    /// draws of the call at it.
    pub(super) fn key(&self) -> u64 {
        let mut h: u64 = 0xCBF2_9CE4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01B3);
            }
        };
        // The bytes of `op:file#nth`, without formatting them into a string.
        eat(self.op.as_bytes());
        eat(b":");
        eat(self.file.as_bytes());
        eat(b"#");
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut n = self.nth;
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        eat(&digits[at..]);
        h
    }
}

/// Which calls runtime faults may fire at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultMask {
    /// By call number (the older form; draws keyed by call number).
    Calls(BTreeSet<u64>),
    /// By site (draws keyed by site).
    Sites(BTreeSet<FaultSite>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_read_back_as_written_and_bad_ones_are_refused() {
        for text in [
            "write:log#17",
            "sync_dir:#0",
            "crash:#3",
            "open:blob-0000000000000100#2",
        ] {
            let site: FaultSite = text.parse().expect(text);
            assert_eq!(site.to_string(), text);
        }
        for bad in [
            "write:log",
            "log#1",
            ":log#1",
            "Write:log#1",
            "write:log#x",
            "frob:nosuch#3",
            "write:log:x#1",
            "write:log#1 write:log#2",
            "write:log#1;write:log#2",
        ] {
            assert!(bad.parse::<FaultSite>().is_err(), "{bad}");
        }
        // The key is FNV-1a over the site's text, whatever the digits.
        for text in [
            "write:log#0",
            "read:log#9",
            "sync:#10",
            "open:blob#18446744073709551615",
        ] {
            let site: FaultSite = text.parse().expect(text);
            let mut h: u64 = 0xCBF2_9CE4_8422_2325;
            for b in text.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
            }
            assert_eq!(site.key(), h, "{text}");
        }
        let a: FaultSite = "write:log#1".parse().expect("site");
        let b: FaultSite = "write:log#2".parse().expect("site");
        assert_ne!(a.key(), b.key());
    }
}
