//! Shrinking a failing page run, and the page regression test it becomes: the same
//! delta debugging as the log's (`simulation::shrink`), first over the plan's steps
//! with faults free to fire where their draws put them, then, with the steps fixed,
//! over the sites at which faults fire. A candidate fails when it breaks the same
//! invariant as the original; every candidate is a deterministic run.

use super::plan::{PageStep, page_plan_text};
use super::run::run_page_plan;
use super::scenario::PageScenario;
use crate::io::FaultSite;
use crate::simulation::oracle::Invariant;
use crate::simulation::shrink::{SITES_STILL_FIRE, Shrunk, ddmin, slug};

/// Shrinks `plan`, which must fail under `s`, within `budget` runs. None if it does
/// not fail.
pub fn shrink_pages(s: &PageScenario, plan: &[PageStep], budget: u32) -> Option<Shrunk<PageStep>> {
    let breaks = |p: &[PageStep], sites: Option<&[FaultSite]>| -> Option<Invariant> {
        run_page_plan(s, p, sites).violation().map(|v| v.invariant)
    };
    let invariant = breaks(plan, None)?;
    let mut runs = 1;
    let plan = ddmin(plan.to_vec(), budget / 2, &mut runs, |p, runs| {
        *runs += 1;
        breaks(p, None) == Some(invariant)
    });
    let mut sites = run_page_plan(s, &plan, None).injected_sites;
    runs += 1;
    sites.dedup();
    let sites = ddmin(sites, budget / 2, &mut runs, |m, runs| {
        *runs += 1;
        breaks(&plan, Some(m)) == Some(invariant)
    });
    let last = run_page_plan(s, &plan, Some(&sites));
    let detail = last
        .violation()
        .map(|v| v.detail.clone())
        .unwrap_or_default();
    Some(Shrunk {
        plan,
        mask: sites,
        invariant,
        detail,
        runs: runs + 1,
    })
}

/// The source of a regression test that replays `shrunk` under `s`: it fails while
/// the bug is there and passes once it is fixed. It holds the page scenario written
/// out in full, the plan and the fault sites.
pub fn page_regression_test(s: &PageScenario, shrunk: &Shrunk<PageStep>) -> String {
    let seed = s.seed;
    let sites: Vec<String> = shrunk.mask.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        r#"//! Page regression test written by `pagelog-sim shrink --pages` (page seed {seed}).
//! It broke {inv}: {detail}
//! Scenario: {describe}.
//! The page scenario is written out in full, so a change to how page seeds draw
//! cannot turn this into a different run.

use pagelog::simulation::pages::{{PageScenario, parse_page_plan, run_page_plan}};
use pagelog::simulation::parse_sites;

#[test]
fn sim_page_seed_{seed}_{slug}() {{
    let scenario: PageScenario = "{text}".parse().expect("page scenario");
    let plan = parse_page_plan("{plan}").expect("plan");
    // Where faults fire, by operation, file and occurrence.
    let faults_at = parse_sites(&[{sites}]).expect("sites");
    let report = run_page_plan(&scenario, &plan, Some(&faults_at));
    if let Some(v) = report.violation() {{
        panic!("page seed {seed}: {{v}}");
    }}
{tail}"#,
        inv = shrunk.invariant.name(),
        detail = shrunk.detail.replace('\n', " "),
        tail = SITES_STILL_FIRE,
        describe = s.describe(),
        slug = slug(shrunk.invariant),
        text = s,
        plan = page_plan_text(&shrunk.plan),
        sites = sites.join(", "),
    )
}
