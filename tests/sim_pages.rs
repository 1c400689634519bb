//! Page seeds (`pagelog::simulation::pages`): the page cache under crashes and every
//! fault class, checked by the page oracle. The campaign runs them by the thousand
//! (`pagelog-sim run`); this runs a few hundred and the self-checks.

use pagelog::simulation::pages::{PageScenario, run_pages};
use pagelog::simulation::{Outcome, Pins};

fn campaign(seeds: std::ops::Range<u64>, pins: &Pins) -> (Vec<String>, u64) {
    let mut failures = Vec::new();
    let mut passed = 0;
    let mut total = pagelog::simulation::pages::PageCounts::default();
    for seed in seeds {
        let s = PageScenario::draw(seed, pins);
        let r = run_pages(&s);
        total.add(&r.counts);
        match r.outcome {
            Outcome::Violation { step, violation } => {
                failures.push(format!(
                    "seed {seed} step {step}: {violation} [{}]",
                    s.describe()
                ));
            }
            _ => passed += 1,
        }
    }
    eprintln!("{total:?}");
    (failures, passed)
}

#[test]
fn a_wrong_materializer_fails_page_seeds() {
    let mut pins = Pins::default();
    pins.set("materializer", "wrong").expect("pin");
    let (failures, _) = campaign(0..40, &pins);
    eprintln!("{}", failures[..3.min(failures.len())].join("\n"));
    assert!(failures.len() > 10, "{failures:?}");
}

#[test]
fn a_lying_sync_fails_page_seeds() {
    let mut pins = Pins::default();
    pins.set("liar", "sync").expect("pin");
    pins.set("faults", "none").expect("pin");
    let (failures, _) = campaign(0..40, &pins);
    eprintln!("{}", failures[..3.min(failures.len())].join("\n"));
    assert!(failures.len() > 5, "{failures:?}");
}

/// In a one-threaded page seed a page update finds its reference stale before it
/// reserves, so the cancelled messages the page cache writes are the filler
/// `compact` aborts to finish a segment; brought back, they are messages the page
/// cache never wrote, and its open must refuse them.
#[test]
fn a_disk_resurrecting_aborted_messages_fails_page_seeds() {
    let mut pins = Pins::default();
    pins.set("liar", "resurrect").expect("pin");
    pins.set("faults", "none").expect("pin");
    let (failures, _) = campaign(0..60, &pins);
    eprintln!("{}", failures[..3.min(failures.len())].join("\n"));
    assert!(failures.len() > 3, "{failures:?}");
    assert!(
        failures.iter().all(|f| f.contains("open-failed")),
        "{failures:?}"
    );
}

#[test]
fn page_seeds_pass_with_every_fault_class() {
    let (failures, passed) = campaign(0..300, &Pins::default());
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(passed, 300);
}
