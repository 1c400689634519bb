//! Risk: a simulated disk that is kinder than the fault model (never tears, keeps order,
//! never loses a name) would let every crash test pass against a broken engine. Each
//! test here would fail on such a weaker disk.

mod common;

use common::{Seen, create_durable, payload, seen, sim};
use pagelog::io::{CrashModel, Filler, OpenMode, SimConfig, SimStorage, Storage, Tearing};

const WRITES_PER_SEED: u32 = 30;
const SEEDS: u64 = 100;

/// Writes `WRITES_PER_SEED` unsynced, non-overlapping 2 KiB writes (4 sectors each) to a
/// pre-sized, synced file, crashes, and counts how each write came through.
fn crash_outcomes(model: CrashModel) -> [u32; 3] {
    let mut counts = [0_u32; 3];
    for seed in 0..SEEDS {
        let config = SimConfig {
            crash: model.clone(),
            ..SimConfig::default()
        };
        let disk = sim(seed, config);
        let f = create_durable(&disk, "f");
        let len = 2048_usize;
        f.set_len(u64::from(WRITES_PER_SEED) * len as u64)
            .expect("set_len");
        f.sync().expect("sync");
        for w in 0..WRITES_PER_SEED {
            f.write_at(&payload(w, len), u64::from(w) * len as u64)
                .expect("write");
        }
        let image = disk
            .crash()
            .read_file("f")
            .expect("file survives: it was synced");
        for w in 0..WRITES_PER_SEED {
            let at = w as usize * len;
            let which = match seen(&image, at, &payload(w, len)) {
                Seen::Intact => 0,
                Seen::Vanished => 1,
                Seen::Torn => 2,
            };
            counts[which] += 1;
        }
    }
    counts
}

fn fraction(n: u32) -> f64 {
    f64::from(n) / f64::from(WRITES_PER_SEED * SEEDS as u32)
}

#[test]
fn unsynced_writes_persist_vanish_and_tear_sector_wise_at_stated_rates() {
    // Weights 1:1:1. A sector tear of a 4-sector write keeps all 4 sectors with p 1/16
    // (looks intact) and none with p 1/16 (looks vanished). Expected: intact and
    // vanished 1/3 + 1/48 = 0.354 each, torn 1/3 * 7/8 = 0.292. 3,000 writes give a
    // standard deviation under 0.009; the bounds are about 4.5 of them.
    let model = CrashModel {
        tearing: Tearing::Sector,
        ..CrashModel::default()
    };
    let [intact, vanished, torn] = crash_outcomes(model);
    let (i, v, t) = (fraction(intact), fraction(vanished), fraction(torn));
    assert!((0.314..0.394).contains(&i), "intact {i}");
    assert!((0.314..0.394).contains(&v), "vanished {v}");
    assert!((0.252..0.332).contains(&t), "torn {t}");
}

#[test]
fn unsynced_writes_tear_byte_wise_into_a_prefix_and_zero_filler() {
    // Byte tears split at a uniform byte; with zero filler the tail reads as zeros.
    // Expected: intact 1/3, vanished 1/3 (+1/3 * 1/2048 for a split at 0), torn 1/3.
    let model = CrashModel {
        tearing: Tearing::Byte,
        filler: Filler::Zeros,
        ..CrashModel::default()
    };
    let [intact, vanished, torn] = crash_outcomes(model);
    for (name, n) in [("intact", intact), ("vanished", vanished), ("torn", torn)] {
        let f = fraction(n);
        assert!((0.293..0.373).contains(&f), "{name} {f}");
    }
}

#[test]
fn byte_tears_leave_exactly_prefix_then_reported_filler() {
    for seed in 0..50 {
        let model = CrashModel {
            tearing: Tearing::Byte,
            tear_weight: 1,
            persist_weight: 0,
            vanish_weight: 0,
            ..CrashModel::default()
        };
        let disk = sim(
            seed,
            SimConfig {
                crash: model,
                ..SimConfig::default()
            },
        );
        let f = create_durable(&disk, "f");
        let data = payload(seed as u32, 3000);
        f.write_at(&data, 100).expect("write");
        let after = disk.crash();
        let report = after.last_crash_report();
        assert_eq!(report.filler.len(), 1, "one write, one tear");
        let torn = &report.filler[0];
        assert_eq!(torn.end, 3100, "filler runs to the write's end");
        assert!((100..3100).contains(&torn.start));
        let image = after.read_file("f").expect("synced name");
        let split = torn.start as usize;
        assert!(
            image[100..split] == data[..split - 100],
            "prefix is the written bytes"
        );
        if torn.filler == Filler::Zeros {
            assert!(image[split..3100].iter().all(|&b| b == 0), "zero filler");
        }
    }
}

#[test]
fn synced_bytes_always_survive_a_crash() {
    for seed in 0..200 {
        let disk = SimStorage::new(seed);
        let f = create_durable(&disk, "f");
        let synced = payload(seed as u32, 5000);
        f.write_at(&synced, 0).expect("write");
        f.sync().expect("sync");
        // Unsynced noise elsewhere, in the same file and in a new one.
        f.write_at(&payload(7, 3000), 6000).expect("write");
        disk.open("g", OpenMode::Create)
            .expect("create")
            .write_at(&[1; 700], 0)
            .expect("write");
        let image = disk.crash().read_file("f").expect("synced name survives");
        assert!(
            image[..5000] == synced[..],
            "seed {seed}: synced bytes changed"
        );
    }
}

#[test]
fn unsynced_writes_reach_the_medium_in_no_particular_order() {
    // Two unsynced writes to the same place: a disk that kept write order could never
    // end up with the older one. Ours must, for some seeds.
    let model = CrashModel {
        persist_weight: 1,
        vanish_weight: 0,
        tear_weight: 0,
        ..CrashModel::default()
    };
    let mut older_won = 0;
    for seed in 0..100 {
        let disk = sim(
            seed,
            SimConfig {
                crash: model.clone(),
                ..SimConfig::default()
            },
        );
        let f = create_durable(&disk, "f");
        f.write_at(&[1; 512], 0).expect("write");
        f.write_at(&[2; 512], 0).expect("write");
        let image = disk.crash().read_file("f").expect("file");
        assert!(image == [1; 512] || image == [2; 512]);
        older_won += u32::from(image[0] == 1);
    }
    assert!(
        (20..80).contains(&older_won),
        "older write won {older_won}/100"
    );
}

#[test]
fn a_create_without_directory_sync_can_vanish() {
    let (mut vanished, mut kept) = (0, 0);
    for seed in 0..100 {
        let disk = SimStorage::new(seed);
        let f = disk.open("new", OpenMode::Create).expect("create");
        f.write_at(b"data", 0).expect("write");
        f.sync().expect("file sync does not sync the name");
        let after = disk.crash();
        if after.read_file("new").is_some() {
            kept += 1
        } else {
            vanished += 1
        }
    }
    assert!(
        vanished > 20 && kept > 20,
        "vanished {vanished}, kept {kept}"
    );
    for seed in 0..100 {
        let disk = SimStorage::new(seed);
        disk.open("new", OpenMode::Create).expect("create");
        disk.sync_dir().expect("sync_dir");
        assert!(
            disk.crash().read_file("new").is_some(),
            "seed {seed}: synced create lost"
        );
    }
}

#[test]
fn a_rename_without_directory_sync_can_revert() {
    let (mut reverted, mut kept) = (0, 0);
    for seed in 0..100 {
        let disk = SimStorage::new(seed);
        let f = create_durable(&disk, "snap.tmp");
        f.write_at(b"snapshot", 0).expect("write");
        f.sync().expect("sync");
        disk.rename("snap.tmp", "snap").expect("rename");
        let names = disk.crash().names();
        match names.as_slice() {
            [n] if n == "snap" => kept += 1,
            [n] if n == "snap.tmp" => reverted += 1,
            other => panic!("seed {seed}: a rename is atomic, got {other:?}"),
        }
    }
    assert!(
        reverted > 20 && kept > 20,
        "reverted {reverted}, kept {kept}"
    );
    for seed in 0..50 {
        let disk = SimStorage::new(seed);
        create_durable(&disk, "a");
        disk.rename("a", "b").expect("rename");
        disk.sync_dir().expect("sync_dir");
        assert_eq!(disk.crash().names(), ["b"], "seed {seed}");
    }
}

#[test]
fn an_unsynced_remove_can_be_undone_by_a_crash() {
    let mut undone = 0;
    for seed in 0..100 {
        let disk = SimStorage::new(seed);
        let f = create_durable(&disk, "old");
        f.write_at(b"x", 0).expect("write");
        f.sync().expect("sync");
        disk.remove("old").expect("remove");
        undone += u32::from(disk.crash().read_file("old").as_deref() == Some(b"x"));
    }
    assert!((20..80).contains(&undone), "undone {undone}/100");
}

#[test]
fn crash_after_n_fails_exactly_the_next_call_after_n() {
    let disk = SimStorage::new(9);
    let f = create_durable(&disk, "f"); // two calls: open, sync_dir
    disk.crash_after(3);
    f.write_at(b"one", 0).expect("call 1");
    f.sync().expect("call 2");
    f.write_at(b"two", 3).expect("call 3");
    assert!(!disk.is_crashed());
    let err = f.write_at(b"three", 6).expect_err("call 4 must fail");
    assert!(err.to_string().contains("power loss"), "{err}");
    assert!(disk.is_crashed());
    assert!(f.len().is_err(), "every later call fails too");
    assert!(disk.list().is_err());
    let after = disk.crash();
    let image = after.read_file("f").expect("synced name");
    assert_eq!(&image[..3], b"one", "synced before the cut");
    assert!(
        after.open("f", OpenMode::Existing).is_ok(),
        "the new storage serves calls"
    );
    assert!(
        f.read_at(&mut [0; 3], 0).is_err(),
        "handles from before the crash stay dead"
    );
}

#[test]
fn crash_after_zero_fails_the_very_next_call() {
    let disk = SimStorage::new(1);
    disk.crash_after(0);
    assert!(disk.open("f", OpenMode::Create).is_err());
    assert_eq!(disk.stats().crashed_calls, 1);
}

#[test]
fn unsynced_length_changes_may_or_may_not_persist() {
    let (mut truncated, mut kept) = (0, 0);
    for seed in 0..100 {
        let disk = SimStorage::new(seed);
        let f = create_durable(&disk, "f");
        f.write_at(&[5; 4096], 0).expect("write");
        f.sync().expect("sync");
        f.set_len(1000).expect("set_len");
        match disk.crash().read_file("f").expect("file").len() {
            1000 => truncated += 1,
            4096 => kept += 1,
            other => panic!("length {other}"),
        }
    }
    assert!(
        truncated > 20 && kept > 20,
        "truncated {truncated}, kept {kept}"
    );
}

#[test]
fn shrinking_then_growing_a_file_reads_zeros_not_old_bytes() {
    use pagelog::io::{OpenMode, Storage};
    let disk = pagelog::io::SimStorage::new(5);
    let f = disk.open("f", OpenMode::Create).expect("create");
    f.write_at(&[9; 100], 0).expect("write");
    f.sync().expect("sync");
    f.set_len(50).expect("shrink");
    f.sync().expect("sync");
    f.write_at(&[1], 200).expect("grow");
    let mut back = [7; 50];
    f.read_at(&mut back, 50).expect("read");
    assert_eq!(back, [0; 50], "volatile view");
    f.sync().expect("sync");
    disk.sync_dir().expect("sync_dir");
    let after = disk.crash();
    let image = after.read_file("f").expect("file");
    assert!(
        image[50..100].iter().all(|&b| b == 0),
        "durable view: {:?}",
        &image[50..60]
    );
}
