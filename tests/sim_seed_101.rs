//! Regression test written by `pagelog-sim shrink` (seed 101, pins: mode=gc,faults=header+misdirected+bit_flip).
//! It broke I1 acknowledged-lost: message 241220 lost without a reported corruption after durable damage, though an intact later write vouches it was durable (vouched floor 275496)
//! Scenario: segment 512 B, 3 x 512 B buffers, blob > 115 B, gc, cleanup 73%, 4 clients, 1354 steps, crash rate 0.026, faults [header+misdirected].
//! The defect: a misdirected 40-byte write (an open's jump header) landed on a live Gc
//! segment's header, and the log iterator skipped that segment as if reclaimed; the
//! same class as recovery's freed-gap mistake the segment table closed. Now
//! Corruption. The scenario is written out in full, so a change to how seeds draw scenarios
//! cannot turn this into a different run.

use pagelog::simulation::{Scenario, parse_plan, run};

#[test]
fn sim_seed_101_i1_acknowledged_lost() {
    let scenario: Scenario = "seed=101,segment=512,buf=512,bufs=3,blob=115,mode=gc,cleanup=73,recovery=absolute,clients=4,ops=1354,crash=0.025534214258563028,faults=header+misdirected,read_eio=0,write_eio=0,sync_eio=0,short_read=0,short_write=0,misdirected=0.0033234859675036928,bit_flip=0,header_damage=0.015509601181683902,quota=none,headroom=none,sector=512,max_file=1073741824,persist=0,vanish=3,tear=3,tearing=sector,filler=garbage,set_len_persist=0.8386724421708349,dir_op_persist=0.25955903940116887,liar=none".parse().expect("scenario");
    let plan = parse_plan("Y2 R0.1.47 F0 C0 W1.3.25.r F3 O W2.2.7.r F1 W1.11.62.a G186 B3 G910 Q W2.12.110.r B2 G251 Y0 G212 R2.2.19 R0.0.20 W1.7.11.r F3 W3.7.11.r W3.10.22.a R3.0.64 W0.14.10.r F0 C3 R1.2.33 X I W3.0.36.r W0.6.10.a W1.2.6.a M1 W2.2.24.a W0.6.34.a W1.13.47.a W3.10.34.a F2 B0 F3 G245 R0.0.36 G81 F2 R1.14.32 G669 F1 C0 G214 A1 I Y10 G581 S0 W2.11.114.r M2 O R0.0.144 X W3.2.26.a F0 W3.3.54.r R0.1.64 W0.10.202.a A0 R3.14.15 W2.10.194.a C3 W3.14.42.r W0.12.153.a F2 G437 I I Y19 I X W2.4.8.r Q W2.6.312.a I X").expect("plan");
    let faults_at: &[u64] = &[116, 868];
    let report = run(&scenario, &plan, Some(faults_at), false);
    if let Some(v) = report.violation() {
        panic!("seed 101: {v}");
    }
}
