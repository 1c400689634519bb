//! `pagelog-sim shrink`: a failing seed down to a minimal run, written as a test.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use pagelog::simulation::plan::generate;
use pagelog::simulation::{Pins, Scenario, Step, parse_plan, plan_text, regression_test, shrink};

use crate::args::ScenarioArgs;

/// Flags of `pagelog-sim shrink`.
#[derive(Args, Debug)]
pub struct ShrinkArgs {
    /// The failing seed.
    #[arg(long, required_unless_present = "scenario_text")]
    pub seed: Option<u64>,
    /// With --plan: shrink this run, its scenario written out in full (what a fuzz
    /// target or `replay` prints), instead of the one --seed and --pins draw.
    #[arg(long = "scenario", requires = "plan")]
    pub scenario_text: Option<String>,
    /// The failing plan (with --scenario): shrink it instead of the seed's own.
    #[arg(long)]
    pub plan: Option<String>,
    /// Most runs to spend.
    #[arg(long, default_value_t = 4000)]
    pub budget: u32,
    /// Directory to write the regression test into (as sim_seed_N.rs).
    #[arg(long, default_value = "tests")]
    pub out: PathBuf,
    /// Print the test instead of writing it.
    #[arg(long)]
    pub print: bool,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

/// The `shrink` subcommand.
pub fn main(args: &ShrinkArgs) -> ExitCode {
    let pins = match args.scenario.pins_or_usage() {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (scenario, plan) = match given(args, &pins) {
        Ok(both) => both,
        Err(e) => {
            eprintln!("pagelog-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(shrunk) = shrink(&scenario, &plan, args.budget) else {
        println!("seed {} does not fail: nothing to shrink", scenario.seed);
        return ExitCode::SUCCESS;
    };
    eprintln!(
        "shrunk {} steps to {} and {} fault points in {} runs: {}: {}",
        plan.len(),
        shrunk.plan.len(),
        shrunk.mask.len(),
        shrunk.runs,
        shrunk.invariant.name(),
        shrunk.detail
    );
    let mask: Vec<String> = shrunk.mask.iter().map(|c| c.to_string()).collect();
    eprintln!(
        "replay: cargo run --release -p pagelog-sim -- replay --scenario '{}' --plan '{}' --faults-at '{}' --verbose",
        scenario,
        plan_text(&shrunk.plan),
        mask.join(",")
    );
    let test = regression_test(&scenario, &shrunk);
    if args.print {
        print!("{test}");
        return ExitCode::SUCCESS;
    }
    let path = args.out.join(format!("sim_seed_{}.rs", scenario.seed));
    match std::fs::write(&path, test) {
        Ok(()) => {
            println!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pagelog-sim: writing {}: {e}", path.display());
            ExitCode::from(2)
        }
    }
}

/// The scenario and plan to shrink: written out (`--scenario` with `--plan`), or drawn
/// from `--seed` and the pins (with the seed's own plan unless `--plan` replaces it).
fn given(args: &ShrinkArgs, pins: &Pins) -> Result<(Scenario, Vec<Step>), String> {
    let scenario = match (&args.scenario_text, args.seed) {
        (Some(text), _) => text.parse()?,
        (None, Some(seed)) => Scenario::draw(seed, pins),
        (None, None) => return Err("give --seed or --scenario".into()),
    };
    let plan = match &args.plan {
        Some(text) => parse_plan(text)?,
        None => generate(&scenario),
    };
    Ok((scenario, plan))
}
