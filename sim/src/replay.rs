//! `pagelog-sim replay`: one seed again, with its trace.

use std::process::ExitCode;

use clap::Args;
use pagelog::simulation::Outcome;

use crate::args::ScenarioArgs;
use crate::campaign::run_seed;

/// Flags of `pagelog-sim replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The seed.
    #[arg(long)]
    pub seed: u64,
    /// Print the step-by-step trace.
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

/// The `replay` subcommand.
pub fn main(args: &ReplayArgs) -> ExitCode {
    let pins = match args.scenario.pins() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pagelog-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let (scenario, report) = run_seed(args.seed, &pins, args.verbose);
    println!("seed {}: {}", args.seed, scenario.describe());
    for line in &report.trace {
        println!("{line}");
    }
    let c = &report.counts;
    println!(
        "{} steps, {} crashes, {} recoveries, {} poisonings, {} faults injected",
        c.steps,
        c.crashes(),
        c.recoveries,
        c.poisonings,
        report.injected.len()
    );
    println!("trace hash {:016x}", report.trace_hash);
    match &report.outcome {
        Outcome::Pass => {
            println!("outcome: pass");
            ExitCode::SUCCESS
        }
        Outcome::CorruptionReported(e) => {
            println!("outcome: corruption reported (counted, not a violation): {e}");
            ExitCode::SUCCESS
        }
        Outcome::Violation { step, violation } => {
            println!("outcome: VIOLATION at step {step}: {violation}");
            ExitCode::FAILURE
        }
    }
}
