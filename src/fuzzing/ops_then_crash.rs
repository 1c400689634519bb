//! Fuzz body `ops_then_crash`: the input is a simulation run. Its first 8 bytes are
//! the seed (engine config, and every persistence choice the simulated disk makes at
//! a power cut); every following 3 bytes are one step of the plan: writes, open
//! reservations completed or aborted, batches, flushes, make_stables, reads, scans,
//! reopens, power cuts between steps and power cuts inside the next storage calls.
//! The simulator runs it without runtime faults, ends with a last power cut, and its
//! oracle checks every recovery (I1, I2, I5, I6). Any violation panics with the plan
//! in the text form `pagelog-sim replay --plan` accepts.

use crate::simulation::{Pins, Scenario, Step, plan_text, run};

/// Steps taken from one input at most, so an input's cost stays bounded.
pub const MAX_STEPS: usize = 400;

/// Runs one input. Panics on any oracle violation.
pub fn ops_then_crash(data: &[u8]) {
    let Some((seed, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let mut pins = Pins::default();
    for (key, value) in [("faults", "none"), ("clients", "3"), ("crash", "0")] {
        pins.set(key, value).expect("valid pin");
    }
    let seed = u64::from_le_bytes(*seed);
    let mut scenario = Scenario::draw(seed, &pins);
    let plan: Vec<Step> = rest.chunks_exact(3).take(MAX_STEPS).map(step).collect();
    scenario.ops = plan.len() as u32;
    let report = run(&scenario, &plan, None, false);
    if let Some(v) = report.violation() {
        panic!(
            "{v}\nseed {seed}, pins faults=none,clients=3,crash=0, plan {}",
            plan_text(&plan)
        );
    }
}

/// One step from three bytes.
fn step(b: &[u8]) -> Step {
    let (op, a, c) = (b[0], b[1], b[2]);
    let client = a % 3;
    let len = u16::from_le_bytes([a, c]) % 1500;
    match op % 16 {
        0..=3 => Step::Write {
            client,
            pid: c % 8,
            len,
            replace: op & 16 != 0,
        },
        4 => Step::Reserve {
            client,
            pid: c % 8,
            len,
        },
        5 => Step::Complete { client },
        6 => Step::Abort { client },
        7 => Step::Flush { client },
        8 => Step::MakeStable { client },
        9 => Step::BatchOpen { client },
        10 => Step::BatchAdd { client, len },
        11 => Step::BatchSeal { client },
        12 => Step::Read {
            pick: u16::from_le_bytes([a, c]),
        },
        13 => Step::Scan,
        14 if a & 1 == 0 => Step::Reopen,
        14 => Step::Crash,
        _ => Step::CrashInside { calls: a % 32 },
    }
}
