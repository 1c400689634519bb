//! Risk: regression tests that silently stop testing. A shrunk regression test names
//! the storage calls where its faults fire; named by their number in the run, every
//! engine change that adds or removes a storage call (an extra directory sync at
//! open, a snapshot file read) moves them, and the test goes on passing without its
//! faults. Named by site (operation, file, occurrence: `write:log#17`), with the
//! faults drawn per site, a call added elsewhere leaves them where they were.
//!
//! The simulated disk stands in for the engine change: with `Scenario::extra_list`
//! it adds a directory listing after every open of the log, a call that changes
//! nothing. (An added directory sync is not such a call: it changes what a power cut
//! keeps, so the run after the next crash is another run, whatever names its
//! faults; a fault on a call of the same operation and file as the added one moves
//! with it too.)

use pagelog::io::{FaultRates, FaultSite, OpenMode, SimConfig, SimStorage, Storage};
use pagelog::simulation::plan::generate;
use pagelog::simulation::{Pins, Report, Scenario, parse_sites, run, run_at_sites};

/// A seeded run whose faults fired at several sites, none of them a directory
/// listing (the call the perturbation adds; a fault there would move with it).
fn faulty_run() -> (Scenario, Vec<pagelog::simulation::Step>, Report) {
    let pins: Pins = "faults=all".parse().expect("pins");
    for seed in 0..200 {
        let scenario = Scenario::draw(seed, &pins);
        let plan = generate(&scenario);
        let report = run(&scenario, &plan, None, false);
        let sites = &report.injected_sites;
        if sites.len() >= 3 && sites.iter().all(|s| s.op != "list") {
            return (scenario, plan, report);
        }
    }
    panic!("no seed in 0..200 injected three faults off the directory listings");
}

#[test]
fn faults_named_by_site_fire_at_the_same_sites_after_an_extra_storage_call() {
    let (scenario, plan, original) = faulty_run();
    let sites = original.injected_sites.clone();
    // The written form round-trips.
    let texts: Vec<String> = sites.iter().map(FaultSite::to_string).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    assert_eq!(parse_sites(&refs).expect("sites"), sites);
    let same = run_at_sites(&scenario, &plan, &sites, false);
    assert_eq!(
        same.injected_sites, sites,
        "masked to its own sites, the run differs"
    );
    let perturbed = Scenario {
        extra_list: true,
        ..scenario.clone()
    };
    let moved = run_at_sites(&perturbed, &plan, &sites, false);
    assert!(
        moved.sim.calls > original.sim.calls,
        "the perturbation added no storage call"
    );
    assert_eq!(
        moved.injected_sites, sites,
        "seed {}: an extra directory listing moved the faults",
        scenario.seed
    );
    assert_eq!(
        format!("{:?}", moved.outcome),
        format!("{:?}", original.outcome)
    );
    // The older form, call numbers, does not survive it: the same calls by number
    // are other calls now, and the faults land elsewhere or not at all.
    let calls = original.injected.clone();
    let by_number = run(&perturbed, &plan, Some(&calls), false);
    let fired_same = by_number.injected_sites == sites;
    assert!(
        !fired_same,
        "call numbers survived an extra call: the test above proves nothing"
    );
}

#[test]
fn a_disk_draws_the_same_faults_at_a_site_whatever_runs_elsewhere() {
    let faults = FaultRates {
        write_eio: 0.3,
        sync_eio: 0.3,
        ..FaultRates::default()
    };
    let config = SimConfig {
        faults,
        ..SimConfig::default()
    };
    // The same writes and syncs to `log`, with and without other calls in between:
    // each (operation, file, occurrence) gets the same outcome.
    let outcomes = |extra: bool| -> Vec<(String, bool)> {
        let disk = SimStorage::with_config(9, config.clone()).expect("disk");
        let log = disk.open("log", OpenMode::Create).expect("open");
        let mut out = Vec::new();
        for i in 0..64u64 {
            if extra {
                let _ = disk.list();
                let _ = disk.open("other", OpenMode::Create);
            }
            let w = log.write_at(&[i as u8; 16], i * 16).is_ok();
            out.push((format!("write#{i}"), w));
            let s = log.sync().is_ok();
            out.push((format!("sync#{i}"), s));
        }
        out
    };
    let plain = outcomes(false);
    assert!(plain.iter().any(|(_, ok)| !ok), "no fault fired at 30%");
    assert_eq!(outcomes(true), plain);
}
