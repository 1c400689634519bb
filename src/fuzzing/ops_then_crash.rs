//! Fuzz body `ops_then_crash`: the input is a simulation run. Its first 8 bytes are
//! the seed (engine config, and every persistence choice the simulated disk makes at
//! a power cut); every following 3 bytes are one step of the plan: writes, open
//! reservations completed or aborted, batches, flushes, make_stables, reads, scans,
//! reopens, power cuts between steps and power cuts inside the next storage calls.
//! When the seed's top bit is clear the simulator runs without runtime faults; when it
//! is set, the seed draws which fault classes are on and at what rates, as a campaign
//! seed does (EIO on read, write and sync, short transfers, misdirected writes, bit
//! flips, ENOSPC), so the fuzzer reaches the error and poisoning paths too. The run
//! ends with a last power cut, and the oracle checks every recovery (I1, I2, I5, I6);
//! a reported corruption after durable damage is an accepted outcome. Any violation
//! panics with the scenario and plan in the text forms `pagelog-sim replay --scenario
//! TEXT --plan PLAN` accepts.

use crate::simulation::{Pins, Scenario, Step, plan_text, run};

/// Steps taken from one input at most, so an input's cost stays bounded.
pub const MAX_STEPS: usize = 400;

/// Runs one input. Panics on any oracle violation.
pub fn ops_then_crash(data: &[u8]) {
    let Some((seed, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let seed = u64::from_le_bytes(*seed);
    let faults = if seed >> 63 == 1 { "all" } else { "none" };
    let mut pins = Pins::default();
    for (key, value) in [("faults", faults), ("clients", "3"), ("crash", "0")] {
        pins.set(key, value).expect("valid pin");
    }
    let mut scenario = Scenario::draw(seed, &pins);
    let plan: Vec<Step> = rest.chunks_exact(3).take(MAX_STEPS).map(step).collect();
    scenario.ops = plan.len() as u32;
    let report = run(&scenario, &plan, None, false);
    if let Some(v) = report.violation() {
        panic!(
            "{v}\nscenario {scenario}\nplan {}\nfaults at {:?}",
            plan_text(&plan),
            report.injected
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
