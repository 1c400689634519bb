//! `pagelog-sim shrink`: a failing seed down to a minimal run, written as a test.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use pagelog::simulation::pages::{page_plan_text, page_regression_test, shrink_pages};
use pagelog::simulation::plan::generate;
use pagelog::simulation::{
    Pins, Scenario, Shrunk, Step, parse_plan, plan_text, regression_test, shrink,
};

use crate::args::{ScenarioArgs, page_run_given};

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
    /// Replace a test of the same name in --out (without it, an existing file is an
    /// error: a committed regression test is never overwritten by accident).
    #[arg(long)]
    pub force: bool,
    /// Shrink the page seed of this number (with --scenario: a page scenario's
    /// text) and write a page regression test (as sim_page_seed_N.rs).
    #[arg(long)]
    pub pages: bool,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

/// The `shrink` subcommand.
pub fn main(args: &ShrinkArgs) -> ExitCode {
    let pins = match args.scenario.pins_or_usage() {
        Ok(p) => p,
        Err(code) => return code,
    };
    if args.pages {
        return shrink_page_seed(args, &pins);
    }
    let (scenario, plan) = match given(args, &pins) {
        Ok(both) => both,
        Err(e) => {
            eprintln!("pagelog-sim: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(code) = already_written(args, &format!("sim_seed_{}.rs", scenario.seed)) {
        return code;
    }
    let Some(shrunk) = shrink(&scenario, &plan, args.budget) else {
        println!("seed {} does not fail: nothing to shrink", scenario.seed);
        return ExitCode::SUCCESS;
    };
    report(plan.len(), &shrunk);
    let mask: Vec<String> = shrunk.mask.iter().map(|c| c.to_string()).collect();
    eprintln!(
        "replay: cargo run --release -p pagelog-sim -- replay --scenario '{}' --plan '{}' --faults-at '{}' --verbose",
        scenario,
        plan_text(&shrunk.plan),
        mask.join(",")
    );
    let test = regression_test(&scenario, &shrunk);
    let name = format!("sim_seed_{}.rs", scenario.seed);
    write_test(args, &name, &test)
}

/// Exit code 2, said why, when the test `name` is already in `--out` and neither
/// `--print` nor `--force` is given: checked before shrinking, so no work is lost.
fn already_written(args: &ShrinkArgs, name: &str) -> Option<ExitCode> {
    let path = args.out.join(name);
    if args.print || args.force || !path.exists() {
        return None;
    }
    eprintln!(
        "pagelog-sim: {} exists (--force replaces it, --print prints the test)",
        path.display()
    );
    Some(ExitCode::from(2))
}

/// Prints the test (`--print`) or writes it into `--out` as `name`.
fn write_test(args: &ShrinkArgs, name: &str, test: &str) -> ExitCode {
    if args.print {
        print!("{test}");
        return ExitCode::SUCCESS;
    }
    let path = args.out.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    match args.force {
        true => options.create(true).truncate(true),
        false => options.create_new(true),
    };
    let written = options
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, test.as_bytes()));
    match written {
        Ok(()) => {
            println!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let hint = match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    " (--force replaces it, --print prints the test)"
                }
                std::io::ErrorKind::NotFound => {
                    " (--out names an existing directory; --print prints the test)"
                }
                _ => "",
            };
            eprintln!("pagelog-sim: writing {}: {e}{hint}", path.display());
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

/// `shrink --pages`: a failing page seed down to a minimal page run, written as a
/// page regression test.
fn shrink_page_seed(args: &ShrinkArgs, pins: &Pins) -> ExitCode {
    let given = page_run_given(
        args.scenario_text.as_deref(),
        args.seed,
        args.plan.as_deref(),
        pins,
    );
    let (scenario, plan) = match given {
        Ok(both) => both,
        Err(e) => {
            eprintln!("pagelog-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let name = format!("sim_page_seed_{}.rs", scenario.seed);
    if let Some(code) = already_written(args, &name) {
        return code;
    }
    let Some(shrunk) = shrink_pages(&scenario, &plan, args.budget) else {
        println!(
            "page seed {} does not fail: nothing to shrink",
            scenario.seed
        );
        return ExitCode::SUCCESS;
    };
    report(plan.len(), &shrunk);
    let sites: Vec<String> = shrunk.mask.iter().map(|c| c.to_string()).collect();
    eprintln!(
        "replay: cargo run --release -p pagelog-sim -- replay --pages --scenario '{}' --plan '{}' --faults-at '{}'",
        scenario,
        page_plan_text(&shrunk.plan),
        sites.join(",")
    );
    let test = page_regression_test(&scenario, &shrunk);
    write_test(args, &name, &test)
}

/// Says what the shrinking left.
fn report<S>(from: usize, shrunk: &Shrunk<S>) {
    eprintln!(
        "shrunk {} steps to {} and {} fault points in {} runs: {}: {}",
        from,
        shrunk.plan.len(),
        shrunk.mask.len(),
        shrunk.runs,
        shrunk.invariant.name(),
        shrunk.detail
    );
}
