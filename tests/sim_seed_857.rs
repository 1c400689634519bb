//! Regression test for a false alarm found by `pagelog-sim run --seeds 0..1000` when
//! scenarios drew up to 20,000 steps (shrunk from 1,343 steps to 192). Gc mode, 512 B
//! segments, five injected fsync errors. The last incarnation completed a message at
//! lsn 932904 (page 11) in a segment that never reached the disk. The final open then
//! failed three times (two directory-sync errors, one fsync error), each attempt
//! recovering the same log and writing one more empty jump segment; the first cut
//! the log at 932864, a segment boundary, so its void `(932864, 966656)` explained the
//! lost message. The third attempt reclaimed that first jump segment (nothing in it
//! was live, and a cut on a boundary needs no segment kept to explain it) before its
//! fsync failed. The open that finally succeeded recovered tip 1035304: every message
//! up to the cut, then empty jump segments. That is a legal state (the model's state
//! at cut 932864 >= the acknowledged lsn), but the oracle demanded every completed
//! message below the *tip* and reported page 11's lost, unacknowledged message as I2.
//! The oracle now finds the cut from what came back (`Model::recovered_cut`), as
//! DESIGN.md's "some cut C" says.
//!
//! The cut rule's own tests (it still catches a gap, a lost acknowledged message and
//! a split batch) are unit tests in `src/simulation/oracle.rs`.

use pagelog::simulation::{Pins, Scenario, parse_plan, run};

#[test]
fn sim_seed_857_a_cut_named_by_a_reclaimed_jump_segment_is_legal() {
    let pins: Pins =
        "faults=read_eio+write_eio+sync_eio+short_read+short_write+misdirected+bit_flip+enospc"
            .parse()
            .expect("pins");
    let scenario = Scenario::draw(857, &pins);
    let plan = parse_plan("W3.8.16.r F4 G170 R1.3.78 A1 F4 W0.10.62.a W4.5.250.a W2.12.22.a M2 O O O I Y21 W0.1.40.a F0 O W3.12.58.a F1 W1.12.276.r I W3.14.55.a F0 O O R4.3.55 F2 O W0.2.41.a W4.8.49.a B2 I W2.5.298.r F0 O I W0.11.275.a B1 W4.0.231.r I W0.6.253.r O W2.5.18.a F2 I O W0.3.110.a W2.4.4.r W3.5.62.a R1.2.186 R4.10.32 W2.9.23.a R2.4.56 G449 I F3 R3.11.40 Y2 G616 G151 W0.6.282.a W0.7.43.a F4 R2.2.196 F1 W4.5.56.a I W1.9.62.a I I C2 R0.1.37 W1.4.3.a G338 W0.6.8.r F3 G408 I O W1.5.552.a W2.8.31.r W1.10.743.a F2 O W2.8.39.a M2 Y20 W0.14.230.a W3.3.51.a W4.7.22.r W2.11.4.a O O I X W1.10.27.a R1.13.48 W4.13.63.a I F4 W0.5.28.r W3.14.52.a R4.6.44 W0.15.41.a I O B1 b1.9 W0.10.40.a F4 W3.4.218.a W3.10.6.r S1 W3.3.61.r W4.7.4.r G398 B3 R3.0.196 W0.0.85.r F4 G19 O W1.8.219.r F2 W2.11.268.a W4.10.118.r F4 I G80 W3.5.38.a F1 G60 I O W3.0.29.r B2 W0.10.58.a I W4.4.62.a W2.12.11.r W1.12.25.r M4 R2.1.87 I X W3.15.15.a F2 I G92 W4.12.634.a I W2.2.54.r F0 W0.15.44.r F2 R4.5.252 A4 W4.11.8.a W1.15.6.a W4.9.15.a B1 W2.6.51.r W4.4.4.a B3 W1.2.12.a W4.14.64.r R3.14.54 I C3 F1 I I G76 O I O O W3.2.57.a F0 X W4.4.351.r I R0.14.142 F2 W0.9.27.a W4.11.248.a C0 I G281 G458 W0.11.147.a").expect("plan");
    let faults_at: &[u64] = &[1997, 2680, 3096, 3160, 3236];
    let report = run(&scenario, &plan, Some(faults_at), false);
    if let Some(v) = report.violation() {
        panic!("seed 857: {v}");
    }
}
