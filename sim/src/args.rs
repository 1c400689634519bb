//! Flags shared by the subcommands: which scenario a seed draws.

use clap::Args;
use pagelog::simulation::pages::{PageScenario, PageStep, generate_pages, parse_page_plan};
use pagelog::simulation::{FaultClass, Liar, Pins};

/// How a seed's scenario is drawn: pins over the seed's own choices.
#[derive(Args, Debug, Clone, Default)]
pub struct ScenarioArgs {
    /// Steps per seed, at least 1 (default: drawn, 50 to 20,000).
    #[arg(long)]
    pub ops: Option<u32>,
    /// Fault classes a seed may turn on: all, none, or a list (read_eio, write_eio,
    /// sync_eio, short_read, short_write, misdirected, bit_flip, header, enospc).
    #[arg(long, default_value = "all")]
    pub faults: String,
    /// A disk outside the legal model, to prove the oracle bites: sync or resurrect.
    #[arg(long)]
    pub liar: Option<String>,
    /// More pins as key=value pairs joined by commas (segment, bufs, blob, mode,
    /// cleanup, rate, clients, ops, crash, faults, liar, materializer); a replay
    /// command carries them all. Pinning one value can change what a seed draws for
    /// the others.
    #[arg(long, default_value = "")]
    pub pins: String,
}

impl ScenarioArgs {
    /// The pins these flags ask for, or the usage error's exit code after saying why.
    pub fn pins_or_usage(&self) -> Result<Pins, std::process::ExitCode> {
        self.pins().map_err(|e| {
            eprintln!("pagelog-sim: {e}");
            std::process::ExitCode::from(2)
        })
    }

    /// The pins these flags ask for.
    pub fn pins(&self) -> Result<Pins, String> {
        let mut pins: Pins = self.pins.parse()?;
        if pins.faults.is_none() {
            pins.faults = Some(FaultClass::parse_set(&self.faults)?);
        }
        if let Some(ops) = self.ops {
            pins.ops = Some(ops);
        }
        if let Some(liar) = &self.liar {
            pins.set("liar", liar)?;
        }
        if self.ops == Some(0) {
            return Err("--ops 0: a seed needs at least one step".into());
        }
        pins.validate()?;
        if pins.liar != Liar::None && pins.faults.as_ref().is_some_and(|f| !f.is_empty()) {
            // A lying disk is the only misbehaviour: faults would blur what it shows.
            pins.faults = Some(Vec::new());
        }
        Ok(pins)
    }
}

/// The command that replays page seed `seed` under `pins`.
pub fn page_replay_command(seed: u64, pins: &Pins) -> String {
    replay_command(seed, pins).replacen(" replay ", " replay --pages ", 1)
}

/// The command that replays `seed` under `pins`.
pub fn replay_command(seed: u64, pins: &Pins) -> String {
    let pins = pins.to_string();
    if pins.is_empty() {
        format!("cargo run --release -p pagelog-sim -- replay --seed {seed}")
    } else {
        format!("cargo run --release -p pagelog-sim -- replay --seed {seed} --pins '{pins}'")
    }
}

/// The page run `replay --pages` and `shrink --pages` were given: a page scenario's
/// text (`scenario`) or the page seed `seed` drawn under `pins`, and the `plan` text
/// or that scenario's own plan.
pub fn page_run_given(
    scenario: Option<&str>,
    seed: Option<u64>,
    plan: Option<&str>,
    pins: &Pins,
) -> Result<(PageScenario, Vec<PageStep>), String> {
    let scenario: PageScenario = match (scenario, seed) {
        (Some(text), _) => text.parse()?,
        (None, Some(seed)) => PageScenario::draw(seed, pins),
        (None, None) => return Err("give --seed or --scenario".into()),
    };
    let plan = match plan {
        Some(text) => parse_page_plan(text)?,
        None => generate_pages(&scenario),
    };
    Ok((scenario, plan))
}
