//! Regression test written by `pagelog-sim shrink --seed 2455`.
//! It broke I2 not-a-prefix: lsn 40 holds Replace pid 13 48 B; the model has Append pid 8 52 B
//! Scenario: segment 8192 B, 5 x 8192 B buffers, blob > 61 B, gc, cleanup 63%, 16 clients, 85 steps, crash rate 0.013, faults [read_eio+sync_eio+misdirected+enospc].

use pagelog::simulation::{Pins, Scenario, parse_plan, run};

#[test]
fn sim_seed_2455_i2_not_a_prefix() {
    // Everything that matters is pinned, so the test does not depend on what
    // `Scenario::draw` makes of the seed: one misdirected write, at storage call 6.
    let pins: Pins = "segment=8192,bufs=5,mode=gc,faults=misdirected,rate=1"
        .parse()
        .expect("pins");
    let scenario = Scenario::draw(2455, &pins);
    let plan = parse_plan("W8.13.48.r F1 O W4.8.52.a").expect("plan");
    let faults_at: &[u64] = &[6];
    let report = run(&scenario, &plan, Some(faults_at), false);
    if let Some(v) = report.violation() {
        panic!("seed 2455: {v}");
    }
}
