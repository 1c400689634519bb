//! Risk: the README's key-value example (`examples/kv`) loses or invents keys: a split
//! that leaves a key in two leaves or in none (in memory, or after a crash between
//! its pages' updates), a lost race that drops an insert, a scan that skips a leaf.
//! The store is checked against a `BTreeMap`, an independent reference.

#[path = "../examples/kv/store.rs"]
#[allow(dead_code)]
mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

use pagelog::Config;
use pagelog::io::SimStorage;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use store::Store;

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

fn open(disk: &SimStorage) -> Store {
    let config = Config {
        cache_capacity_bytes: 16 << 10,
        ..Config::for_simulation()
    };
    Store::open(config, Arc::new(disk.clone())).expect("open")
}

fn everything(store: &Store) -> Map {
    store.scan(b"", None).expect("scan").into_iter().collect()
}

#[test]
fn the_store_equals_a_btreemap_across_splits_and_crashes() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut disk = SimStorage::new(11);
    let mut store = open(&disk);
    // The model after each change since the last flush (first: at it).
    let mut states: Vec<Map> = vec![Map::new()];
    let mut crashes = 0;
    for step in 0..6_000_u32 {
        let key = format!("k{:05}", rng.random_range(0..3_000)).into_bytes();
        let mut next = states.last().expect("a state").clone();
        match rng.random_range(0..100) {
            0..=59 => {
                let value = vec![b'v'; rng.random_range(1..80)];
                store.insert(&key, &value).expect("insert");
                next.insert(key, value);
            }
            60..=74 => {
                store.remove(&key).expect("remove");
                next.remove(&key);
            }
            75..=89 => {
                let want = states.last().expect("a state").get(&key).cloned();
                assert_eq!(store.get(&key).expect("get"), want, "step {step}");
                continue;
            }
            90..=95 => {
                let from = key.clone();
                let to = format!("k{:05}", rng.random_range(0..3_000)).into_bytes();
                let got = store.scan(&from, Some(&to)).expect("scan");
                let model = states.last().expect("a state");
                let want: Vec<_> = model
                    .iter()
                    .filter(|(k, _)| **k >= from && **k < to)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(got, want, "step {step}: scan");
                continue;
            }
            96..=98 => {
                store.flush().expect("flush");
                states = vec![states.pop().expect("a state")];
                continue;
            }
            _ => {
                store.abandon();
                disk = disk.crash();
                store = open(&disk);
                let got = everything(&store);
                let Some(cut) = states.iter().position(|s| *s == got) else {
                    panic!(
                        "step {step}: recovered {} keys, which is no state since the last flush",
                        got.len()
                    );
                };
                states = vec![states.swap_remove(cut)];
                crashes += 1;
                continue;
            }
        }
        states.push(next);
    }
    let leaves = store.leaves().expect("leaves");
    assert!(
        leaves > 20 && crashes > 20,
        "{leaves} leaves, {crashes} crashes"
    );
    assert_eq!(everything(&store), *states.last().expect("a state"));
}

#[test]
fn concurrent_writers_lose_no_insert_across_racing_splits() {
    let disk = SimStorage::new(12);
    let store = open(&disk);
    std::thread::scope(|s| {
        for t in 0..4_u32 {
            let store = &store;
            s.spawn(move || {
                for i in 0..600_u32 {
                    // Interleaved key ranges, so the threads split the same leaves.
                    let key = format!("k{:06}", i * 4 + t);
                    store
                        .insert(key.as_bytes(), &[t as u8; 40])
                        .expect("insert");
                }
            });
        }
    });
    let all = everything(&store);
    assert_eq!(all.len(), 2_400, "keys lost to racing splits");
    assert!(store.leaves().expect("leaves") > 20);
    store.close().expect("close");
    let store = open(&disk.crash());
    assert_eq!(everything(&store), all, "the reopened store differs");
}
