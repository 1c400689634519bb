//! `pagelog-sim run`: many seeds in parallel, one summary.

use std::ops::Range;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use pagelog::simulation::plan::generate;
use pagelog::simulation::{Pins, Report, Scenario, run};

use crate::args::ScenarioArgs;
use crate::summary::Summary;

/// Flags of `pagelog-sim run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Seeds to run, as START..END (END excluded), e.g. 0..1000.
    #[arg(long, value_parser = parse_range)]
    pub seeds: Range<u64>,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Print the summary as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 if an enabled fault class never fired, a crash point was never hit or a
    /// recovery branch every crashing campaign reaches was never taken (for CI).
    #[arg(long)]
    pub require_coverage: bool,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

/// Parses `A..B`.
pub fn parse_range(text: &str) -> Result<Range<u64>, String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("{text:?}: expected START..END, e.g. 0..1000"))?;
    let start: u64 = a.parse().map_err(|_| format!("{a:?} is not a seed"))?;
    let end: u64 = b.parse().map_err(|_| format!("{b:?} is not a seed"))?;
    if end <= start {
        return Err(format!("{text:?}: END must be above START"));
    }
    Ok(start..end)
}

/// Runs one seed under `pins`.
pub fn run_seed(seed: u64, pins: &Pins, verbose: bool) -> (Scenario, Report) {
    let scenario = Scenario::draw(seed, pins);
    let plan = generate(&scenario);
    let report = run(&scenario, &plan, None, verbose);
    (scenario, report)
}

/// The `run` subcommand.
pub fn main(args: &RunArgs) -> ExitCode {
    let pins = match args.scenario.pins_or_usage() {
        Ok(p) => p,
        Err(code) => return code,
    };
    if args.jobs == Some(0) {
        eprintln!("pagelog-sim: --jobs 0: at least one worker thread");
        return ExitCode::from(2);
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // The wall clock only times the campaign for its speed figures; no run sees it.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let mut reports = campaign(&args.seeds, jobs, &pins);
    reports.sort_by_key(|r| r.seed);
    let mut summary = Summary {
        jobs,
        ..Summary::default()
    };
    for r in &reports {
        summary.add(r);
    }
    summary.seconds = started.elapsed().as_secs_f64();
    if args.json {
        println!("{}", summary.json(&pins));
    } else {
        println!(
            "pagelog-sim run --seeds {}..{}",
            args.seeds.start, args.seeds.end
        );
        print!("{}", summary.table(&pins));
    }
    let uncovered = summary.uncovered(&pins);
    if args.require_coverage && !uncovered.is_empty() {
        eprintln!("coverage: never reached: {}", uncovered.join(", "));
        return ExitCode::FAILURE;
    }
    if summary.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn campaign(seeds: &Range<u64>, jobs: usize, pins: &Pins) -> Vec<Report> {
    let next = AtomicU64::new(seeds.start);
    let bar = ProgressBar::new(seeds.end - seeds.start);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds {per_sec} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (tx, rx) = mpsc::channel::<Report>();
    let mut reports = Vec::new();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= seeds.end {
                        break;
                    }
                    let (_, report) = run_seed(seed, pins, false);
                    if tx.send(report).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut failed = 0;
        for report in rx {
            if report.violation().is_some() {
                failed += 1;
                bar.set_message(format!("{failed} FAILED"));
            }
            bar.inc(1);
            reports.push(report);
        }
    });
    bar.finish_and_clear();
    reports
}
