//! `pagelog-sim replay`: one seed again, with its trace.

use std::process::ExitCode;

use clap::Args;
use pagelog::simulation::pages::{PageReport, PageScenario, run_page_plan_traced};
use pagelog::simulation::{
    Outcome, Pins, Report, Scenario, parse_plan, parse_sites, run, run_at_sites,
};

use crate::args::ScenarioArgs;
use crate::campaign::run_seed;

/// Flags of `pagelog-sim replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The seed.
    #[arg(long, required_unless_present = "scenario_text")]
    pub seed: Option<u64>,
    /// With --plan: run under this scenario, written out in full (the text a
    /// regression test holds), instead of the one --seed and --pins draw.
    #[arg(long = "scenario", requires = "plan")]
    pub scenario_text: Option<String>,
    /// Print the step-by-step trace.
    #[arg(long)]
    pub verbose: bool,
    /// Replay the page seed of this number (the page cache under the page oracle)
    /// instead of its log seed; with --scenario, a page scenario's text.
    #[arg(long)]
    pub pages: bool,
    /// Replay this plan (the text a shrink printed) instead of the seed's own.
    #[arg(long)]
    pub plan: Option<String>,
    /// With --plan: where faults may fire, comma-separated: sites (`write:log#17`, as
    /// `shrink` prints them) or, the older form, storage call numbers (log seeds
    /// only).
    #[arg(long, requires = "plan")]
    pub faults_at: Option<String>,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

/// The `replay` subcommand.
pub fn main(args: &ReplayArgs) -> ExitCode {
    let pins = match args.scenario.pins_or_usage() {
        Ok(p) => p,
        Err(code) => return code,
    };
    if args.pages {
        return match replay_pages(args, &pins) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("pagelog-sim: {e}");
                ExitCode::from(2)
            }
        };
    }
    let (scenario, report) = match replay_given(args, &pins) {
        Ok(Some(both)) => both,
        Ok(None) => run_seed(args.seed.unwrap_or_default(), &pins, args.verbose),
        Err(e) => {
            eprintln!("pagelog-sim: {e}");
            return ExitCode::from(2);
        }
    };
    println!("seed {}: {}", scenario.seed, scenario.describe());
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

/// The run of an explicit `--plan` (and `--faults-at`), if one was given.
fn replay_given(args: &ReplayArgs, pins: &Pins) -> Result<Option<(Scenario, Report)>, String> {
    let Some(text) = &args.plan else {
        return Ok(None);
    };
    let plan = parse_plan(text)?;
    let items: Option<Vec<&str>> = args.faults_at.as_deref().map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    });
    let sites = match &items {
        Some(items) if items.iter().any(|s| s.contains(':')) => Some(parse_sites(items)?),
        _ => None,
    };
    let mask: Option<Vec<u64>> = match (&items, &sites) {
        (Some(items), None) => Some(
            items
                .iter()
                .map(|s| {
                    s.parse()
                        .map_err(|_| format!("{s:?} is neither a fault site nor a call number"))
                })
                .collect::<Result<_, _>>()?,
        ),
        _ => None,
    };
    let scenario = match (&args.scenario_text, args.seed) {
        (Some(text), _) => text.parse()?,
        (None, Some(seed)) => Scenario::draw(seed, pins),
        (None, None) => return Err("give --seed or --scenario".into()),
    };
    let report = match &sites {
        Some(sites) => run_at_sites(&scenario, &plan, sites, args.verbose),
        None => run(&scenario, &plan, mask.as_deref(), args.verbose),
    };
    Ok(Some((scenario, report)))
}

/// `replay --pages`: the page seed again (or a page scenario's text with a plan and
/// fault sites, as `shrink --pages` prints them), with what it counted and how it
/// ended.
fn replay_pages(args: &ReplayArgs, pins: &Pins) -> Result<ExitCode, String> {
    let (scenario, plan) = crate::args::page_run_given(
        args.scenario_text.as_deref(),
        args.seed,
        args.plan.as_deref(),
        pins,
    )?;
    let sites = match args.faults_at.as_deref() {
        Some(list) => {
            let items: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            Some(parse_sites(&items)?)
        }
        None => None,
    };
    let report = run_page_plan_traced(&scenario, &plan, sites.as_deref(), args.verbose);
    for line in &report.trace {
        println!("{line}");
    }
    let unfired: Vec<String> = sites
        .iter()
        .flatten()
        .filter(|s| !report.injected_sites.contains(s))
        .map(|s| s.to_string())
        .collect();
    if !unfired.is_empty() {
        println!(
            "fault sites given that did not fire: {} (a regression test holding them fails)",
            unfired.join(", ")
        );
    }
    Ok(page_outcome(&scenario, &report))
}

/// Prints a page run's counts and outcome; its exit code.
fn page_outcome(scenario: &PageScenario, report: &PageReport) -> ExitCode {
    println!("page seed {}: {}", scenario.seed, scenario.describe());
    println!("{:?}", report.counts);
    println!("trace hash {:016x}", report.trace_hash);
    match &report.outcome {
        Outcome::Violation { step, violation } => {
            println!("FAIL at step {step}: {violation}");
            ExitCode::FAILURE
        }
        Outcome::CorruptionReported(why) => {
            println!("corruption reported (after durable damage): {why}");
            ExitCode::SUCCESS
        }
        Outcome::Pass => {
            println!("pass");
            ExitCode::SUCCESS
        }
    }
}
