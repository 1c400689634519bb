//! Regression test written by `pagelog-sim shrink` (seed 946, pins: faults=read_eio+write_eio+sync_eio+short_read+short_write+misdirected+bit_flip+header+enospc).
//! It broke open-failed: open failed: corruption at blob-0000000000000061@0: the blob file of the live message at lsn 97 (page 1) is missing
//! Scenario: segment 32768 B, 8 x 8192 B buffers, blob > 58 B, linear, cleanup 54%, 6 clients, 4323 steps, crash rate 0.004, faults [write_eio+sync_eio+misdirected+header].
//! The defect (older than the segment table; the table's extra storage calls moved the
//! seed onto it): two interleaved batches, the first written whole; the stable lsn
//! rose past its manifest to the second one, so a Truncate record between them took
//! effect and removed a blob file, and a kill (a drop without the closing flush)
//! before the second batch was written made recovery drop both batches, undoing the
//! truncation (`interval.rs`). The scenario is written out in full, so a change to
//! how seeds draw scenarios cannot turn this into a different run.

use pagelog::simulation::{Scenario, parse_plan, run};

#[test]
fn sim_seed_946_open_failed() {
    let scenario: Scenario = "seed=946,segment=32768,buf=8192,bufs=8,blob=58,mode=linear,cleanup=54,recovery=absolute,clients=6,ops=4323,crash=0.004372331314722337,faults=write_eio+sync_eio+misdirected+header,read_eio=0,write_eio=0.004,sync_eio=0.011,short_read=0,short_write=0,misdirected=0.0002775850104094379,bit_flip=0,header_damage=0.0131852879944483,quota=none,headroom=none,sector=512,max_file=1073741824,persist=1,vanish=1,tear=2,tearing=sector,filler=either,set_len_persist=0.4971816034680385,dir_op_persist=0.9108940766561513,liar=none".parse().expect("scenario");
    let plan =
        parse_plan("W2.10.1.r W0.1.76.a W2.11.12.a B2 T956 B1 b2.11 F2 b1.53 O").expect("plan");
    let faults_at: &[u64] = &[];
    let report = run(&scenario, &plan, Some(faults_at), false);
    if let Some(v) = report.violation() {
        panic!("seed 946: {v}");
    }
}
