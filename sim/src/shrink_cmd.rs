//! `pagelog-sim shrink`: a failing seed down to a minimal run, written as a test.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use pagelog::simulation::plan::generate;
use pagelog::simulation::{Scenario, plan_text, regression_test, shrink};

use crate::args::ScenarioArgs;

/// Flags of `pagelog-sim shrink`.
#[derive(Args, Debug)]
pub struct ShrinkArgs {
    /// The failing seed.
    #[arg(long)]
    pub seed: u64,
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
    let scenario = Scenario::draw(args.seed, &pins);
    let plan = generate(&scenario);
    let Some(shrunk) = shrink(&scenario, &plan, args.budget) else {
        println!("seed {} does not fail: nothing to shrink", args.seed);
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
        "replay: cargo run --release -p pagelog-sim -- replay --seed {} --pins '{}' --plan '{}' --faults-at '{}' --verbose",
        args.seed,
        pins,
        plan_text(&shrunk.plan),
        mask.join(",")
    );
    let test = regression_test(&scenario, &shrunk);
    if args.print {
        print!("{test}");
        return ExitCode::SUCCESS;
    }
    let path = args.out.join(format!("sim_seed_{}.rs", args.seed));
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
