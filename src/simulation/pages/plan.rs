//! A page seed's steps, drawn from its seed up front, and their text form (one token
//! per step) that replays, the shrinker and regression tests carry.
//!
//! A step is abstract: an operation, the logical client running it, and `pick`, the
//! seed of every choice the operation makes at run time (which page, which stale
//! reference, the bytes written, the root swapped). A choice is taken from what the
//! run holds then (a page among the live ones, a reference among the client's), so
//! any subsequence of a plan is a valid plan: an update with no page to update does
//! nothing. That is what lets the shrinker delete steps freely.

use std::fmt;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::scenario::PageScenario;

/// An operation a client runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageOp {
    /// `try_allocate` of a fresh value: `a`.
    Allocate,
    /// `try_link` of a delta through a (maybe stale) reference: `l`.
    Link,
    /// `try_replace` through a (maybe stale) reference: `r`.
    Replace,
    /// `try_free` through a (maybe stale) reference: `f`.
    Free,
    /// `get` of a page any client saw, compared with the model: `g`.
    Get,
    /// `try_cas_root`, from the model's current value or a wrong guess: `c`.
    CasRoot,
    /// `try_generate_id`: `i`.
    GenerateId,
    /// `try_apply` of a link and a replace to two pages as one batch: `b`.
    Batch,
    /// `flush`, an acknowledgement: `F`.
    Flush,
    /// `maintenance`, one garbage-collection round: `m`.
    Maintenance,
    /// `snapshot`: `s`.
    Snapshot,
    /// `compact`: `k`.
    Compact,
    /// A clean close and reopen: `Q`.
    Close,
}

/// Every operation with its tag, in the order of their codes in the trace hash.
const TAGS: [(PageOp, char); 13] = [
    (PageOp::Allocate, 'a'),
    (PageOp::Link, 'l'),
    (PageOp::Replace, 'r'),
    (PageOp::Free, 'f'),
    (PageOp::Get, 'g'),
    (PageOp::CasRoot, 'c'),
    (PageOp::GenerateId, 'i'),
    (PageOp::Batch, 'b'),
    (PageOp::Flush, 'F'),
    (PageOp::Maintenance, 'm'),
    (PageOp::Snapshot, 's'),
    (PageOp::Compact, 'k'),
    (PageOp::Close, 'Q'),
];

impl PageOp {
    /// Draws an operation; in a thousand: compact 3 (it rewrites every segment with
    /// a dead fragment, several rounds) and close 10 (each close is an open and a
    /// full check).
    fn draw(rng: &mut ChaCha8Rng) -> PageOp {
        match rng.random_range(0..1000) {
            0..=119 => PageOp::Allocate,
            120..=339 => PageOp::Link,
            340..=439 => PageOp::Replace,
            440..=489 => PageOp::Free,
            490..=639 => PageOp::Get,
            640..=679 => PageOp::CasRoot,
            680..=719 => PageOp::GenerateId,
            720..=779 => PageOp::Batch,
            780..=899 => PageOp::Flush,
            900..=949 => PageOp::Maintenance,
            950..=986 => PageOp::Snapshot,
            987..=989 => PageOp::Compact,
            _ => PageOp::Close,
        }
    }

    /// The operation's number in the trace hash.
    pub(super) fn code(self) -> u64 {
        self as u64
    }

    fn tag(self) -> char {
        TAGS[self as usize].1
    }

    fn from_tag(tag: char) -> Option<PageOp> {
        TAGS.iter().find(|(_, t)| *t == tag).map(|(op, _)| *op)
    }
}

/// One step of a page plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStep {
    /// `client` runs `op`, its choices drawn from `pick`: `{tag}{client}.{pick}`.
    /// A client number past the scenario's clients wraps around.
    Op {
        /// The operation.
        op: PageOp,
        /// The logical client.
        client: u8,
        /// The seed of the operation's choices.
        pick: u32,
    },
    /// A power cut between steps: `X`.
    Crash,
    /// A power cut after this many more storage calls, inside whatever runs next
    /// (an update, a snapshot, a garbage-collection round, a close or the next
    /// open's recovery): `Y{calls}`.
    CrashInside {
        /// Storage calls until the cut.
        calls: u8,
    },
}

impl fmt::Display for PageStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PageStep::Op { op, client, pick } => write!(f, "{}{client}.{pick}", op.tag()),
            PageStep::Crash => f.write_str("X"),
            PageStep::CrashInside { calls } => write!(f, "Y{calls}"),
        }
    }
}

/// The text form of a page plan: its steps separated by spaces.
pub fn page_plan_text(plan: &[PageStep]) -> String {
    let tokens: Vec<String> = plan.iter().map(|s| s.to_string()).collect();
    tokens.join(" ")
}

/// Parses the text form of a page plan.
pub fn parse_page_plan(text: &str) -> Result<Vec<PageStep>, String> {
    text.split_whitespace().map(parse_step).collect()
}

fn parse_step(token: &str) -> Result<PageStep, String> {
    let bad = || format!("bad page step {token:?}");
    let mut chars = token.chars();
    let tag = chars.next().ok_or_else(bad)?;
    let rest = chars.as_str();
    match tag {
        'X' if rest.is_empty() => Ok(PageStep::Crash),
        'Y' => rest
            .parse()
            .map(|calls| PageStep::CrashInside { calls })
            .map_err(|_| bad()),
        _ => {
            let op = PageOp::from_tag(tag).ok_or_else(bad)?;
            let (client, pick) = rest.split_once('.').ok_or_else(bad)?;
            Ok(PageStep::Op {
                op,
                client: client.parse().map_err(|_| bad())?,
                pick: pick.parse().map_err(|_| bad())?,
            })
        }
    }
}

/// Most storage calls a power cut armed inside a step waits for.
const MOST_CALLS_BEFORE_CUT: u8 = 40;

/// Draws the plan of page scenario `s` from its seed: `s.ops` operations, with a
/// power cut between steps at the crash rate and one armed inside the next
/// operation at half of it.
pub fn generate_pages(s: &PageScenario) -> Vec<PageStep> {
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed ^ 0x9a6e_c11e_0000_0003);
    let crash = s.base.crash_rate.min(1.0);
    let clients = s.clients.max(1);
    let mut plan = Vec::with_capacity(s.ops as usize + 8);
    for _ in 0..s.ops {
        if rng.random_bool(crash) {
            plan.push(PageStep::Crash);
            continue;
        }
        if rng.random_bool(crash / 2.0) {
            let calls = rng.random_range(0..MOST_CALLS_BEFORE_CUT);
            plan.push(PageStep::CrashInside { calls });
        }
        plan.push(PageStep::Op {
            client: rng.random_range(0..clients),
            op: PageOp::draw(&mut rng),
            pick: rng.random(),
        });
    }
    plan
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::simulation::scenario::Pins;

    #[test]
    fn page_plans_round_trip_through_their_text() {
        for seed in 0..200 {
            let plan = generate_pages(&PageScenario::draw(seed, &Pins::default()));
            let text = page_plan_text(&plan);
            assert_eq!(parse_page_plan(&text), Ok(plan), "seed {seed}");
        }
    }

    #[test]
    fn every_operation_has_its_own_tag() {
        for (i, (op, tag)) in TAGS.iter().enumerate() {
            assert_eq!(*op as usize, i, "{op:?}");
            assert_eq!(PageOp::from_tag(*tag), Some(*op));
        }
        let mut tags: Vec<char> = TAGS.iter().map(|(_, t)| *t).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), TAGS.len());
    }

    #[test]
    fn malformed_page_steps_are_refused() {
        for bad in [
            "l", "l1", "l1.", "l.5", "z1.2", "X1", "Y", "Y300", "l1.2.3", "a300.1",
        ] {
            assert!(parse_page_plan(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_page_plan(""), Ok(Vec::new()));
    }
}
