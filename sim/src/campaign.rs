//! `pagelog-sim run`: many seeds in parallel, one summary.

use std::ops::Range;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use pagelog::simulation::pages::{PageReport, PageScenario, run_pages};
use pagelog::simulation::plan::generate;
use pagelog::simulation::{Outcome, Pins, Report, Scenario, run};

use crate::args::{ScenarioArgs, page_replay_command};
use crate::page_summary::PageSummary;
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
    /// When stderr is not a terminal, print a progress line this often (seconds).
    #[arg(long, default_value_t = 10)]
    pub progress_every: u64,
    /// Exit 1 if an enabled fault class never fired, a crash point was never hit or a
    /// recovery branch every crashing campaign reaches was never taken, or page seeds
    /// never reached one of their gates (for CI).
    #[arg(long)]
    pub require_coverage: bool,
    /// Which seeds each seed number runs: `both` (a log seed and a page seed, the
    /// default), `log` or `page`.
    #[arg(long, default_value = "both", value_parser = ["both", "log", "page"])]
    pub kind: String,
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

/// Runs the page seed `seed` under `pins`.
pub fn run_page_seed(seed: u64, pins: &Pins) -> (PageScenario, PageReport) {
    let scenario = PageScenario::draw(seed, pins);
    let report = run_pages(&scenario);
    (scenario, report)
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
    let kinds = Kinds::of(&args.kind);
    let (mut reports, mut pages) = campaign(&args.seeds, jobs, &pins, args.progress_every, kinds);
    reports.sort_by_key(|r| r.seed);
    pages.sort_by_key(|(r, _)| r.seed);
    let mut summary = Summary {
        jobs,
        ..Summary::default()
    };
    for r in &reports {
        summary.add(r);
    }
    let mut page_summary = PageSummary::default();
    for (r, secs) in &pages {
        page_summary.add(r, *secs);
    }
    summary.seconds = started.elapsed().as_secs_f64();
    let flags = flags(args, jobs, &pins);
    let command = command_line(&flags);
    if args.json {
        let log = summary.json(&pins, &command, &flags);
        println!("{}", with_pages(&log, &page_summary, &pins));
    } else if kinds.log {
        print!("{}", summary.table(&pins, &command));
        print!("{}", page_table(&page_summary, &pins));
    } else {
        // Page seeds only: the log seeds' sections would be all zeros.
        let mut out = format!("{command}\n");
        let row = |k: &str, label: &str, v: f64| (k.to_string(), label.to_string(), v);
        crate::summary::push_rows(
            &mut out,
            &[
                row("wall_seconds", "wall time, seconds", summary.seconds),
                row("jobs", "worker threads", jobs as f64),
            ],
        );
        print!("{out}{}", page_table(&page_summary, &pins));
    }
    let mut uncovered = match kinds.log {
        true => summary.uncovered(&pins),
        false => Vec::new(),
    };
    uncovered.extend(page_summary.uncovered(&pins));
    if args.require_coverage && !uncovered.is_empty() {
        eprintln!("coverage: never reached: {}", uncovered.join(", "));
        return ExitCode::FAILURE;
    }
    if summary.failures.is_empty() && page_summary.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Which kinds of seed a campaign runs.
#[derive(Debug, Clone, Copy)]
pub struct Kinds {
    /// Log seeds.
    pub log: bool,
    /// Page seeds.
    pub page: bool,
}

impl Kinds {
    /// From `--kind`.
    pub fn of(kind: &str) -> Kinds {
        Kinds {
            log: kind != "page",
            page: kind != "log",
        }
    }
}

/// The page seeds' section of the table, and their failures.
fn page_table(p: &PageSummary, pins: &Pins) -> String {
    if p.seeds == 0 {
        return String::new();
    }
    // The section is named as its JSON object is.
    let mut out = String::from("pages\n");
    crate::summary::push_rows(&mut out, &p.rows());
    for f in &p.failures {
        out.push_str(&format!(
            "\nFAIL page seed {} at step {}: {}: {}\n  replay: {}\n  shrink: {}\n",
            f.seed,
            f.step,
            f.invariant,
            f.detail,
            page_replay_command(f.seed, pins),
            page_replay_command(f.seed, pins).replacen(" replay ", " shrink ", 1),
        ));
    }
    out
}

/// The log summary's JSON object with a `pages` object and `page_failures` added.
fn with_pages(log: &str, p: &PageSummary, pins: &Pins) -> String {
    let rows: Vec<String> = p
        .rows()
        .iter()
        .map(|(k, _, v)| {
            format!(
                "{}:{}",
                crate::summary::quote(k),
                crate::summary::json_number(*v)
            )
        })
        .collect();
    let failures: Vec<String> = p
        .failures
        .iter()
        .map(|f| crate::summary::failure_json(f, &page_replay_command(f.seed, pins)))
        .collect();
    let body = log.strip_suffix('}').unwrap_or(log);
    format!(
        "{body},\"pages\":{{{}}},\"page_failures\":[{}]}}",
        rows.join(","),
        failures.join(",")
    )
}

/// Every flag of this run with its value in effect (defaults included), in
/// command-line order. The fault classes are in the pins (`faults=`), which is where
/// `--faults` and any `faults=` pin end up.
fn flags(args: &RunArgs, jobs: usize, pins: &Pins) -> Vec<(&'static str, String)> {
    let a = &args.scenario;
    let mut f = vec![
        ("seeds", format!("{}..{}", args.seeds.start, args.seeds.end)),
        ("jobs", jobs.to_string()),
    ];
    f.extend(a.ops.map(|o| ("ops", o.to_string())));
    f.extend(a.liar.clone().map(|l| ("liar", l)));
    f.push(("pins", pins.to_string()));
    f.push(("kind", args.kind.clone()));
    f.push(("progress-every", args.progress_every.to_string()));
    f.push(("require-coverage", args.require_coverage.to_string()));
    f.push(("json", args.json.to_string()));
    f
}

/// The command line `flags` stand for, as the summary's header.
fn command_line(flags: &[(&str, String)]) -> String {
    let mut line = String::from("pagelog-sim run");
    for (k, v) in flags {
        match (*k, v.as_str()) {
            (_, "false") | ("pins", "") => {}
            (_, "true") => line.push_str(&format!(" --{k}")),
            ("pins", v) => line.push_str(&format!(" --pins '{v}'")),
            (k, v) => line.push_str(&format!(" --{k} {v}")),
        }
    }
    line
}

/// Progress for logs: when stderr is not a terminal the bar is hidden, and a line
/// every `every` seconds (10 by default) says how far the campaign is.
struct Progress {
    bar: ProgressBar,
    plain: bool,
    every: u64,
    total: u64,
    done: u64,
    failed: u64,
    started: Instant,
    last: Instant,
}

impl Progress {
    // The wall clock only paces progress lines; no run sees it.
    #[allow(clippy::disallowed_methods)]
    fn new(total: u64, every: u64) -> Progress {
        use std::io::IsTerminal;
        let plain = !std::io::stderr().is_terminal();
        let bar = if plain {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total)
        };
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} seeds {per_sec} eta {eta} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let now = Instant::now();
        Progress {
            bar,
            plain,
            every,
            total,
            done: 0,
            failed: 0,
            started: now,
            last: now,
        }
    }

    #[allow(clippy::disallowed_methods)]
    fn seed_done(&mut self, failed: bool) {
        self.done += 1;
        if failed {
            self.failed += 1;
            self.bar.set_message(format!("{} FAILED", self.failed));
        }
        self.bar.inc(1);
        let now = Instant::now();
        if self.plain && now.duration_since(self.last).as_secs() >= self.every {
            self.last = now;
            let secs = now.duration_since(self.started).as_secs_f64().max(1e-9);
            let rate = self.done as f64 / secs;
            let eta = self.total.saturating_sub(self.done) as f64 / rate.max(1e-9);
            eprintln!(
                "pagelog-sim: {}/{} seeds, {} failed, {rate:.1} seeds/s, eta {eta:.0} s",
                self.done, self.total, self.failed
            );
        }
    }
}

/// One seed's results: its log report and its page report with the seconds it took.
type SeedResult = (Option<Report>, Option<(PageReport, f64)>);

fn campaign(
    seeds: &Range<u64>,
    jobs: usize,
    pins: &Pins,
    every: u64,
    kinds: Kinds,
) -> (Vec<Report>, Vec<(PageReport, f64)>) {
    let next = AtomicU64::new(seeds.start);
    let mut progress = Progress::new(seeds.end - seeds.start, every);
    let (tx, rx) = mpsc::channel::<SeedResult>();
    let mut reports = Vec::new();
    let mut pages = Vec::new();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || {
                loop {
                    // fetch_add wraps at the end of the seed space: a wrapped seed
                    // is below the range's start and ends the worker too.
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= seeds.end || seed < seeds.start {
                        break;
                    }
                    let log = kinds.log.then(|| run_seed(seed, pins, false).1);
                    let page = kinds.page.then(|| timed_page_seed(seed, pins));
                    if tx.send((log, page)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (log, page) in rx {
            let log_failed = log.as_ref().is_some_and(|r| r.violation().is_some());
            let page_failed = page
                .as_ref()
                .is_some_and(|(r, _)| matches!(r.outcome, Outcome::Violation { .. }));
            progress.seed_done(log_failed || page_failed);
            reports.extend(log);
            pages.extend(page);
        }
    });
    progress.bar.finish_and_clear();
    (reports, pages)
}

/// Runs page seed `seed` and times it (the summary's page ops/s/core; no run sees
/// the clock).
#[allow(clippy::disallowed_methods)]
fn timed_page_seed(seed: u64, pins: &Pins) -> (PageReport, f64) {
    let started = Instant::now();
    let (_, report) = run_page_seed(seed, pins);
    (report, started.elapsed().as_secs_f64())
}
