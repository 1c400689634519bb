//! Shrinking a failing run to a minimal one, and writing it as a regression test.
//!
//! Delta debugging (ddmin) in two phases: first the steps (with faults free to fire
//! wherever the per-call draws put them), then, with the steps fixed, the set of
//! fault sites (operation, file, occurrence: `SimStorage::set_fault_sites`) at which
//! faults fire. A candidate
//! counts as failing when it breaks the same invariant as the original. Every
//! candidate is a deterministic run, so the result replays.

use super::oracle::Invariant;
use super::plan::{Step, plan_text};
use super::runner::{run, run_at_sites};
use super::scenario::Scenario;
use crate::io::FaultSite;

/// A minimal failing run (of log steps, or of page steps:
/// [`crate::simulation::pages::shrink_pages`]).
#[derive(Debug, Clone)]
pub struct Shrunk<S = Step> {
    /// The steps left.
    pub plan: Vec<S>,
    /// The sites (`op:file#n`) at which faults may fire.
    pub mask: Vec<FaultSite>,
    /// The invariant it breaks.
    pub invariant: Invariant,
    /// The violation's text in the shrunk run.
    pub detail: String,
    /// Runs the shrinking took.
    pub runs: u32,
}

/// Shrinks `plan`, which must fail under `scenario`, within `budget` runs. None if it
/// does not fail.
pub fn shrink(scenario: &Scenario, plan: &[Step], budget: u32) -> Option<Shrunk> {
    let first = run(scenario, plan, None, false);
    let invariant = first.violation()?.invariant;
    let mut runs = 1;
    let fails_steps = |p: &[Step], runs: &mut u32| {
        *runs += 1;
        let r = run(scenario, p, None, false);
        r.violation().map(|v| v.invariant) == Some(invariant)
    };
    let plan = ddmin(plan.to_vec(), budget / 2, &mut runs, fails_steps);
    let injected = run(scenario, &plan, None, false).injected_sites;
    runs += 1;
    let fails_mask = |m: &[FaultSite], runs: &mut u32| {
        *runs += 1;
        let r = run_at_sites(scenario, &plan, m, false);
        r.violation().map(|v| v.invariant) == Some(invariant)
    };
    let mut mask = injected;
    mask.dedup();
    let mask = ddmin(mask, budget / 2, &mut runs, fails_mask);
    let last = run_at_sites(scenario, &plan, &mask, false);
    let detail = last
        .violation()
        .map(|v| v.detail.clone())
        .unwrap_or_default();
    Some(Shrunk {
        plan,
        mask,
        invariant,
        detail,
        runs: runs + 1,
    })
}

/// Classic ddmin: removes chunks of `items` while `fails` holds, halving the chunk
/// size when no chunk can go, until single items cannot be removed or the budget is
/// spent.
pub(crate) fn ddmin<T: Clone>(
    mut items: Vec<T>,
    budget: u32,
    runs: &mut u32,
    mut fails: impl FnMut(&[T], &mut u32) -> bool,
) -> Vec<T> {
    let start = *runs;
    let mut n = 2;
    while items.len() >= 2 && *runs - start < budget {
        let chunk = items.len().div_ceil(n);
        let mut removed = false;
        let mut i = 0;
        while i < items.len() && *runs - start < budget {
            let mut candidate = items[..i].to_vec();
            candidate.extend_from_slice(&items[(i + chunk).min(items.len())..]);
            if fails(&candidate, runs) {
                items = candidate;
                removed = true;
            } else {
                i += chunk;
            }
        }
        if removed {
            n = (n - 1).max(2);
        } else if chunk == 1 {
            break;
        } else {
            n = (n * 2).min(items.len());
        }
    }
    if items.len() == 1 && *runs - start < budget && fails(&[], runs) {
        items.clear();
    }
    items
}

/// The source of a regression test that replays `shrunk` under `scenario`: it fails
/// while the bug is there and passes once it is fixed.
pub fn regression_test(scenario: &Scenario, shrunk: &Shrunk) -> String {
    let seed = scenario.seed;
    let slug = slug(shrunk.invariant);
    let mask: Vec<String> = shrunk.mask.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        r#"//! Regression test written by `pagelog-sim shrink` (seed {seed}, pins: {pins_or_none}).
//! It broke {inv}: {detail}
//! Scenario: {describe}.
//! The scenario is written out in full, so a change to how seeds draw scenarios
//! cannot turn this into a different run.

use pagelog::simulation::{{Scenario, parse_plan, parse_sites, run_at_sites}};

#[test]
fn sim_seed_{seed}_{slug}() {{
    let scenario: Scenario = "{text}".parse().expect("scenario");
    let plan = parse_plan("{plan}").expect("plan");
    // Where faults fire, by operation, file and occurrence: a storage call added or
    // removed elsewhere in the engine leaves these where they are.
    let faults_at = parse_sites(&[{mask}]).expect("sites");
    let report = run_at_sites(&scenario, &plan, &faults_at, false);
    if let Some(v) = report.violation() {{
        panic!("seed {seed}: {{v}}");
    }}
{tail}"#,
        inv = shrunk.invariant.name(),
        detail = shrunk.detail.replace('\n', " "),
        tail = SITES_STILL_FIRE,
        describe = scenario.describe(),
        pins_or_none = if scenario.pins.to_string().is_empty() {
            "none".to_string()
        } else {
            scenario.pins.to_string()
        },
        text = scenario,
        plan = plan_text(&shrunk.plan),
        mask = mask.join(", "),
    )
}

/// The end of a written regression test: every fault site it holds must still fire.
pub(crate) const SITES_STILL_FIRE: &str = r#"    // A site that no longer fires means the engine's calls on that file changed:
    // the test would pass without its fault. Shrink the seed again.
    let missing: Vec<_> = faults_at.iter().filter(|s| !report.injected_sites.contains(s)).collect();
    assert!(missing.is_empty(), "fault sites that no longer fire: {missing:?}");
}
"#;

/// An invariant's name as part of a test function's name.
pub(crate) fn slug(invariant: Invariant) -> String {
    invariant
        .name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn ddmin_finds_the_two_items_that_matter() {
        let items: Vec<u32> = (0..100).collect();
        let mut runs = 0;
        let fails = |c: &[u32], _: &mut u32| c.contains(&17) && c.contains(&83);
        let min = ddmin(items, 10_000, &mut runs, fails);
        assert_eq!(min, [17, 83]);
    }

    #[test]
    fn ddmin_respects_its_budget() {
        let items: Vec<u32> = (0..1000).collect();
        let mut runs = 0;
        let fails = |c: &[u32], runs: &mut u32| {
            *runs += 1;
            c.iter().any(|&x| x % 7 == 3)
        };
        ddmin(items, 50, &mut runs, fails);
        assert!(runs <= 50, "{runs}");
    }
}
