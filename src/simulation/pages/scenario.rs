//! What a page seed decides before its first step. It takes a log seed's draw for
//! everything about the disk and the workload's size (fault classes and rates,
//! crash model, clients, steps, crash rate: the same pins apply) and draws a page
//! cache configuration of its own (swarm testing): segment and buffer sizes, cache
//! capacity, consolidation threshold, snapshot interval, garbage-collection interval
//! and threshold, segment mode.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Config, SegmentMode};
use crate::simulation::scenario::{Pins, Scenario};

/// Most logical clients a page seed runs (a page seed is slower per step than a log
/// seed: each check reads every page).
const MAX_CLIENTS: u8 = 6;

/// Most steps a page seed runs unless pinned.
const MAX_STEPS: u32 = 600;

/// A page seed's scenario.
#[derive(Debug, Clone)]
pub struct PageScenario {
    /// The seed.
    pub seed: u64,
    /// The log-level draw it takes its disk and workload size from (its `config` is
    /// not used).
    pub base: Scenario,
    /// The page cache's configuration.
    pub config: Config,
    /// Logical clients.
    pub clients: u8,
    /// Steps.
    pub ops: u32,
}

impl PageScenario {
    /// Draws the page scenario of `seed` under `pins`.
    pub fn draw(seed: u64, pins: &Pins) -> PageScenario {
        let base = Scenario::draw(seed ^ 0x9a6e_0000_0000_0000, pins);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9a6e_5eed_0000_0002);
        let config = draw_config(&mut rng, pins);
        let clients = pins
            .clients
            .unwrap_or_else(|| base.clients.min(MAX_CLIENTS));
        let ops = pins.ops.unwrap_or_else(|| base.ops.min(MAX_STEPS));
        PageScenario {
            seed,
            base,
            config,
            clients,
            ops,
        }
    }

    /// A one-line description for failure reports.
    pub fn describe(&self) -> String {
        let c = &self.config;
        let snapshots = match c.snapshot_every_bytes {
            0 => "no snapshots due".to_string(),
            n => format!("snapshot every {n} B"),
        };
        let gc = match c.gc_every_updates {
            0 => "no inline gc".to_string(),
            n => format!("gc every {n} updates"),
        };
        format!(
            "page seed: segment {} B, {} x {} B buffers, {:?}, cache {} B, consolidate after {}, {snapshots}, {gc} at {}%, {} clients, {} steps, crash rate {:.3}, faults [{}]{}",
            c.segment_size_bytes,
            c.io_bufs,
            c.io_buf_size_bytes,
            c.segment_mode,
            c.cache_capacity_bytes,
            c.consolidate_after_deltas,
            c.cleanup_threshold_pct,
            self.clients,
            self.ops,
            self.base.crash_rate,
            crate::simulation::scenario::class_list(&self.base.faults),
            if self.base.pins.wrong_materializer {
                ", wrong materializer"
            } else {
                ""
            }
        )
    }
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, from: &[T]) -> T {
    from[rng.random_range(0..from.len())]
}

fn draw_config(rng: &mut ChaCha8Rng, pins: &Pins) -> Config {
    let segment = pins
        .segment
        .unwrap_or_else(|| pick(rng, &[512, 1024, 2048, 4096, 16384]));
    // A buffer is the segment or a multiple of 4 KiB within it.
    let buf = match segment < 4096 {
        true => segment,
        false => pick(rng, &[4096, segment]),
    };
    let mode = pins.mode.unwrap_or_else(|| match rng.random_bool(0.8) {
        true => SegmentMode::Gc,
        false => SegmentMode::Linear,
    });
    Config {
        segment_size_bytes: segment,
        io_buf_size_bytes: usize::try_from(buf).unwrap_or(512),
        io_bufs: pins.bufs.unwrap_or_else(|| rng.random_range(2..=6)),
        blob_threshold_bytes: pins.blob.unwrap_or_else(|| pick(rng, &[64, 200, 400])).min(
            crate::config::max_inline_bytes(segment, usize::try_from(buf).unwrap_or(512)),
        ),
        segment_mode: mode,
        consolidate_after_deltas: rng.random_range(1..=8),
        cache_capacity_bytes: pick(rng, &[256, 1024, 8192, 1 << 20]),
        snapshot_every_bytes: pick(rng, &[0, 1024, 4096, 65536]),
        gc_every_updates: pick(rng, &[0, 4, 16, 64]),
        cleanup_threshold_pct: pins.cleanup.unwrap_or_else(|| rng.random_range(20..=90)),
        ..Config::for_simulation()
    }
}
