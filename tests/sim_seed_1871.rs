//! Regression test written by `pagelog-sim shrink --seed 1871`.
//! It broke I6 lsn-reused: lsn 40 handed out after a recovery, but 40 was before
//! Scenario: segment 256 B, 7 x 256 B buffers, blob > 113 B, gc, cleanup 80%, 5 clients, 227 steps, crash rate 0.018, faults [none].

use pagelog::simulation::{Pins, Scenario, parse_plan, run};

#[test]
fn sim_seed_1871_i6_lsn_reused() {
    let pins: Pins = "faults=none".parse().expect("pins");
    let scenario = Scenario::draw(1871, &pins);
    let plan = parse_plan("W1.3.61.r Y1 F1 W0.6.22.a").expect("plan");
    let faults_at: &[u64] = &[];
    let report = run(&scenario, &plan, Some(faults_at), false);
    if let Some(v) = report.violation() {
        panic!("seed 1871: {v}");
    }
}
