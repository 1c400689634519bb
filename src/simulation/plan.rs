//! The operation sequence of a run, drawn from the scenario's seed, and its text form
//! (one token per step) that replays and regression tests carry.
//!
//! Steps address logical clients. A client holds at most one open reservation and one
//! open batch; a step that does not apply to its client's state (complete with nothing
//! held, say) does nothing, so any subsequence of a plan is a valid plan: that is what
//! lets the shrinker delete steps freely.

use std::fmt;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::scenario::Scenario;

/// One scheduler step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Reserve and complete at once: `W{client}.{pid}.{len}.{r|a}` (replace or append).
    Write {
        /// Client.
        client: u8,
        /// Page id.
        pid: u8,
        /// Value length.
        len: u16,
        /// Replace (else append).
        replace: bool,
    },
    /// Reserve and hold open: `R{client}.{pid}.{len}`.
    Reserve {
        /// Client.
        client: u8,
        /// Page id.
        pid: u8,
        /// Value length.
        len: u16,
    },
    /// Complete the held reservation: `C{client}`.
    Complete {
        /// Client.
        client: u8,
    },
    /// Abort the held reservation: `A{client}`.
    Abort {
        /// Client.
        client: u8,
    },
    /// One non-blocking flush attempt: `F{client}`.
    Flush {
        /// Client.
        client: u8,
    },
    /// One non-blocking make_stable of the client's last completed lsn: `M{client}`.
    MakeStable {
        /// Client.
        client: u8,
    },
    /// Open a batch: `B{client}`.
    BatchOpen {
        /// Client.
        client: u8,
    },
    /// Add a completed message to the open batch: `b{client}.{len}`.
    BatchAdd {
        /// Client.
        client: u8,
        /// Value length.
        len: u16,
    },
    /// Seal the open batch: `S{client}`.
    BatchSeal {
        /// Client.
        client: u8,
    },
    /// Read back a stable message of this incarnation by its pointer: `G{pick}`.
    Read {
        /// Which one (modulo the readable set).
        pick: u16,
    },
    /// Truncate the log before a completed message's lsn (`try_truncate_before`;
    /// Linear mode, refused in Gc mode): `T{pick}`.
    Truncate {
        /// Which completed message (modulo the completed set).
        pick: u16,
    },
    /// Iterate the log and compare with the model: `I`.
    Scan,
    /// Drop the log without its closing flush (open reservations abort) and reopen
    /// without a power cut, as a killed process restarts: `O`.
    Reopen,
    /// Close the log cleanly (open reservations abort; `Log::close` flushes and ends
    /// the log with its Closed record) and reopen, which resumes the same segment: `Q`.
    Close,
    /// Power cut between steps: `X`.
    Crash,
    /// Power cut after this many more storage calls, inside whatever runs next:
    /// `Y{calls}`.
    CrashInside {
        /// Storage calls until the cut.
        calls: u8,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Step::Write {
                client,
                pid,
                len,
                replace,
            } => {
                let r = if replace { 'r' } else { 'a' };
                write!(f, "W{client}.{pid}.{len}.{r}")
            }
            Step::Reserve { client, pid, len } => write!(f, "R{client}.{pid}.{len}"),
            Step::Complete { client } => write!(f, "C{client}"),
            Step::Abort { client } => write!(f, "A{client}"),
            Step::Flush { client } => write!(f, "F{client}"),
            Step::MakeStable { client } => write!(f, "M{client}"),
            Step::BatchOpen { client } => write!(f, "B{client}"),
            Step::BatchAdd { client, len } => write!(f, "b{client}.{len}"),
            Step::BatchSeal { client } => write!(f, "S{client}"),
            Step::Read { pick } => write!(f, "G{pick}"),
            Step::Truncate { pick } => write!(f, "T{pick}"),
            Step::Scan => f.write_str("I"),
            Step::Reopen => f.write_str("O"),
            Step::Close => f.write_str("Q"),
            Step::Crash => f.write_str("X"),
            Step::CrashInside { calls } => write!(f, "Y{calls}"),
        }
    }
}

/// The text form of a plan: its steps separated by spaces.
pub fn plan_text(plan: &[Step]) -> String {
    let tokens: Vec<String> = plan.iter().map(|s| s.to_string()).collect();
    tokens.join(" ")
}

/// Parses the text form of a plan.
pub fn parse_plan(text: &str) -> Result<Vec<Step>, String> {
    text.split_whitespace().map(parse_step).collect()
}

fn parse_step(token: &str) -> Result<Step, String> {
    let bad = || format!("bad step {token:?}");
    let mut chars = token.chars();
    let tag = chars.next().ok_or_else(bad)?;
    let rest = chars.as_str();
    let fields: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('.').collect()
    };
    let n = |i: usize| -> Result<u16, String> {
        fields.get(i).and_then(|v| v.parse().ok()).ok_or_else(bad)
    };
    let client = || n(0).and_then(|v| u8::try_from(v).map_err(|_| bad()));
    let byte = |i: usize| n(i).and_then(|v| u8::try_from(v).map_err(|_| bad()));
    let want = |k: usize| {
        if fields.len() == k {
            Ok(())
        } else {
            Err(bad())
        }
    };
    let step = match tag {
        'W' => {
            want(4)?;
            let replace = match fields[3] {
                "r" => true,
                "a" => false,
                _ => return Err(bad()),
            };
            Step::Write {
                client: client()?,
                pid: byte(1)?,
                len: n(2)?,
                replace,
            }
        }
        'R' => {
            want(3)?;
            Step::Reserve {
                client: client()?,
                pid: byte(1)?,
                len: n(2)?,
            }
        }
        'b' => {
            want(2)?;
            Step::BatchAdd {
                client: client()?,
                len: n(1)?,
            }
        }
        'I' | 'O' | 'Q' | 'X' => {
            want(0)?;
            match tag {
                'I' => Step::Scan,
                'O' => Step::Reopen,
                'Q' => Step::Close,
                _ => Step::Crash,
            }
        }
        'G' => {
            want(1)?;
            Step::Read { pick: n(0)? }
        }
        'T' => {
            want(1)?;
            Step::Truncate { pick: n(0)? }
        }
        'Y' => {
            want(1)?;
            Step::CrashInside { calls: byte(0)? }
        }
        _ => {
            want(1)?;
            let client = client()?;
            match tag {
                'C' => Step::Complete { client },
                'A' => Step::Abort { client },
                'F' => Step::Flush { client },
                'M' => Step::MakeStable { client },
                'B' => Step::BatchOpen { client },
                'S' => Step::BatchSeal { client },
                _ => return Err(bad()),
            }
        }
    };
    Ok(step)
}

/// Draws the plan of `scenario` from its seed.
pub fn generate(scenario: &Scenario) -> Vec<Step> {
    let mut rng = ChaCha8Rng::seed_from_u64(scenario.seed ^ 0x91a4_0000_0000_0002);
    (0..scenario.ops)
        .map(|_| draw_step(&mut rng, scenario))
        .collect()
}

fn draw_len(rng: &mut ChaCha8Rng, blob: usize) -> u16 {
    let blob = blob as u32;
    let len = match rng.random_range(0..100) {
        0..=69 => rng.random_range(0..=64u32.min(blob)),
        70..=94 => rng.random_range(0..=blob),
        _ => rng.random_range(blob + 1..=2 * blob + 100),
    };
    len.min(u32::from(u16::MAX)) as u16
}

fn draw_step(rng: &mut ChaCha8Rng, s: &Scenario) -> Step {
    if rng.random_bool(s.crash_rate) {
        return if rng.random_bool(0.5) {
            Step::Crash
        } else {
            Step::CrashInside {
                calls: rng.random_range(0..24),
            }
        };
    }
    let client = rng.random_range(0..s.clients);
    let blob = s.config.blob_threshold_bytes;
    let pid = rng.random_range(0..16);
    match rng.random_range(0..100) {
        0..=29 => Step::Write {
            client,
            pid,
            len: draw_len(rng, blob),
            replace: rng.random_bool(0.4),
        },
        30..=39 => Step::Reserve {
            client,
            pid,
            len: draw_len(rng, blob),
        },
        40..=49 => Step::Complete { client },
        50..=54 => Step::Abort { client },
        55..=64 => Step::Flush { client },
        65..=69 => Step::MakeStable { client },
        70..=72 => Step::BatchOpen { client },
        73..=78 => Step::BatchAdd {
            client,
            len: draw_len(rng, blob).min(200),
        },
        79..=82 => Step::BatchSeal { client },
        83..=91 => Step::Read {
            pick: rng.random_range(0..1000),
        },
        92 => Step::Truncate {
            pick: rng.random_range(0..1000),
        },
        93..=96 => Step::Scan,
        97 => Step::Close,
        _ => Step::Reopen,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::scenario::Pins;
    use super::*;

    #[test]
    fn plans_round_trip_through_their_text() {
        for seed in 0..200 {
            let plan = generate(&Scenario::draw(seed, &Pins::default()));
            let text = plan_text(&plan);
            assert_eq!(parse_plan(&text), Ok(plan), "seed {seed}");
        }
    }

    #[test]
    fn malformed_steps_are_refused() {
        for bad in [
            "W1.2.3",
            "W1.2.3.q",
            "Q1",
            "C",
            "C1.2",
            "G",
            "Y300",
            "X1",
            "R1.2.70000",
        ] {
            assert!(parse_plan(bad).is_err(), "{bad}");
        }
    }
}
