//! Regression test written by `pagelog-sim shrink` (seed 18375652033131708163, pins: none).
//! It broke I1 acknowledged-lost: message 1236036 lost without a reported corruption after durable damage, though an intact later write vouches it was durable (vouched floor 1236783)
//! Scenario: segment 1024 B, 5 x 1024 B buffers, blob > 889 B, gc, cleanup 36%, 3 clients, 196 steps, crash rate 0.000, faults [sync_eio+misdirected+enospc].
//! Found by the `ops_then_crash` fuzz smoke and shrunk with `--scenario`/`--plan`.
//! Cause: a misdirected write of a Gc segment header (call 413) left the segment's
//! start holding older bytes, so the segment read as freed: the known Gc limit until
//! the durable segment table. The simulator recorded only where the bytes landed, not
//! the place they missed, so the oracle held the run to a vouched floor the limit
//! excuses. Fixed in the simulator (`damaged_ranges` holds both ends); the class is
//! `sim_runtime_faults::every_byte_silent_damage_changed_is_in_a_recorded_range`.
//! (The Gc limit itself is gone since format version 4's segment table: the run now
//! ends with the damage reported.)
//! The scenario is written out in full, so a change to how seeds draw scenarios
//! cannot turn this into a different run.

use pagelog::simulation::{Scenario, parse_plan, run};

#[test]
fn sim_seed_18375652033131708163_i1_acknowledged_lost() {
    let scenario: Scenario = "seed=18375652033131708163,segment=1024,buf=1024,bufs=5,blob=889,mode=gc,cleanup=36,recovery=absolute,clients=3,ops=196,crash=0,faults=sync_eio+misdirected+enospc,read_eio=0,write_eio=0,sync_eio=0.007,short_read=0,short_write=0,misdirected=0.011,bit_flip=0,header_damage=0,quota=none,headroom=236544,sector=512,max_file=1073741824,persist=3,vanish=3,tear=1,tearing=both,filler=garbage,set_len_persist=0.13729153081865753,dir_op_persist=0.4275203134978107,liar=none".parse().expect("scenario");
    let plan = parse_plan("W1.1.1265.r O X O O O O O O X O O O X W0.3.768.a W0.7.1035.a W0.0.336.r W0.0.336.r W0.5.520.r W2.2.1186.a G111 O O W2.4.746.a W0.0.336.r W0.3.1364.r Y31 O W1.3.719.a F0 W1.4.421.a W0.3.615.a W0.3.615.a").expect("plan");
    let faults_at: &[u64] = &[76, 330, 413];
    let report = run(&scenario, &plan, Some(faults_at), false);
    if let Some(v) = report.violation() {
        panic!("seed 18375652033131708163: {v}");
    }
}
