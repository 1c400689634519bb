//! A page scenario written out in full: the text of the log-level draw it takes its
//! disk from (every key of [`Scenario`]'s text; its `seed` is that draw's), followed
//! by the page seed and the page cache's own settings under `page_` keys and the test Materializer (`materializer=right` or
//! `wrong`). A page regression test holds this text, so a later change to how page
//! seeds draw cannot turn it into a different run.
//!
//! The rules are the log scenario's: every key required, none repeated, an unknown
//! or missing key or a bad value is an error naming it, and
//! `text.parse::<PageScenario>()?.to_string() == text`. Page-cache settings a page
//! seed never draws take [`Config::for_simulation`].

use std::fmt;
use std::str::FromStr;

use super::scenario::PageScenario;
use crate::config::{Config, SegmentMode};
use crate::simulation::scenario::{Scenario, mode_name};
use crate::simulation::scenario_text::{Fields, SCENARIO_KEYS};

/// The keys a page scenario's text adds to a log scenario's.
const PAGE_KEYS: [&str; 14] = [
    "page_seed",
    "page_segment",
    "page_buf",
    "page_bufs",
    "page_blob",
    "page_mode",
    "page_cleanup",
    "page_cache",
    "page_consolidate",
    "page_snapshot",
    "page_gc",
    "page_clients",
    "page_ops",
    "materializer",
];

impl fmt::Display for PageScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let materializer = match self.base.pins.wrong_materializer {
            true => "wrong",
            false => "right",
        };
        write!(
            f,
            "{},page_seed={},page_segment={},page_buf={},page_bufs={},page_blob={},page_mode={},page_cleanup={},page_cache={},page_consolidate={},page_snapshot={},page_gc={},page_clients={},page_ops={},materializer={materializer}",
            self.base,
            self.seed,
            c.segment_size_bytes,
            c.io_buf_size_bytes,
            c.io_bufs,
            c.blob_threshold_bytes,
            mode_name(c.segment_mode),
            c.cleanup_threshold_pct,
            c.cache_capacity_bytes,
            c.consolidate_after_deltas,
            c.snapshot_every_bytes,
            c.gc_every_updates,
            self.clients,
            self.ops,
        )
    }
}

impl FromStr for PageScenario {
    type Err = String;

    fn from_str(text: &str) -> Result<PageScenario, String> {
        let mut f = Fields::parse(text)?;
        f.only(&[&SCENARIO_KEYS, &PAGE_KEYS])?;
        let mut base = Scenario::from_fields(&mut f)?;
        let seed = f.num("page_seed")?;
        let config = Config {
            segment_size_bytes: f.num("page_segment")?,
            io_buf_size_bytes: f.num("page_buf")?,
            io_bufs: f.num("page_bufs")?,
            blob_threshold_bytes: f.num("page_blob")?,
            segment_mode: f.named(
                "page_mode",
                &[("linear", SegmentMode::Linear), ("gc", SegmentMode::Gc)],
            )?,
            cleanup_threshold_pct: f.num("page_cleanup")?,
            cache_capacity_bytes: f.num("page_cache")?,
            consolidate_after_deltas: f.num("page_consolidate")?,
            snapshot_every_bytes: f.num("page_snapshot")?,
            gc_every_updates: f.num("page_gc")?,
            ..Config::for_simulation()
        };
        let clients = f.num("page_clients")?;
        let ops = f.num("page_ops")?;
        base.pins.wrong_materializer =
            f.named("materializer", &[("right", false), ("wrong", true)])?;
        f.finish()?;
        config.validate().map_err(|e| format!("scenario: {e}"))?;
        if clients == 0 {
            return Err("scenario: page_clients=0: a run needs at least one client".to_string());
        }
        Ok(PageScenario {
            seed,
            base,
            config,
            clients,
            ops,
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::simulation::pages::plan::generate_pages;
    use crate::simulation::pages::run::run_pages;
    use crate::simulation::scenario::Pins;

    #[test]
    fn every_drawn_page_scenario_round_trips_through_its_text() {
        let wrong: Pins = "materializer=wrong,liar=sync".parse().expect("pins");
        for seed in 0..300 {
            for pins in [Pins::default(), wrong.clone()] {
                let drawn = PageScenario::draw(seed, &pins);
                let text = drawn.to_string();
                let back: PageScenario = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(back.to_string(), text);
                assert_eq!(back.config, drawn.config, "{text}");
                assert_eq!(back.base.sim, drawn.base.sim, "{text}");
                assert_eq!((back.clients, back.ops), (drawn.clients, drawn.ops));
                assert_eq!(back.base.pins.liar, drawn.base.pins.liar);
                assert_eq!(
                    back.base.pins.wrong_materializer,
                    drawn.base.pins.wrong_materializer
                );
                assert_eq!(back.seed, drawn.seed);
                assert!(generate_pages(&back) == generate_pages(&drawn), "{text}");
            }
        }
    }

    #[test]
    fn the_page_key_list_is_the_written_one() {
        let text = PageScenario::draw(3, &Pins::default()).to_string();
        let keys: Vec<&str> = text
            .split(',')
            .filter_map(|pair| pair.split_once('=').map(|(k, _)| k))
            .filter(|k| !SCENARIO_KEYS.contains(k))
            .collect();
        assert_eq!(keys, PAGE_KEYS);
    }

    #[test]
    fn a_page_scenario_from_its_text_runs_as_the_drawn_one() {
        for seed in 0..6 {
            let drawn = PageScenario::draw(seed, &Pins::default());
            let back: PageScenario = drawn.to_string().parse().expect("parses");
            assert_eq!(
                run_pages(&back).trace_hash,
                run_pages(&drawn).trace_hash,
                "seed {seed}"
            );
        }
    }

    #[test]
    fn a_bad_page_scenario_text_names_what_is_wrong() {
        let drawn = PageScenario::draw(7, &Pins::default());
        let good = drawn.to_string();
        let no_clients = good.replace(
            &format!(",page_clients={}", drawn.clients),
            ",page_clients=0",
        );
        let cases = [
            (good.replace("page_cache=", "page_cash="), "page_cash"),
            (good.replace(",page_gc=", ",page_gcx="), "page_gcx"),
            (good.replace(",page_gc=", ",page_gc_="), "page_gc_"),
            (format!("{good},page_cache=5"), "twice"),
            (format!("{good},page_colour=red"), "page_colour"),
            (
                good.replace("materializer=right", "materializer=odd"),
                "materializer",
            ),
            (good.replace("page_mode=", "page_mode=x"), "page_mode"),
            (good.replace("page_bufs=", "page_bufs=many"), "page_bufs"),
            (no_clients, "page_clients"),
        ];
        for (text, named) in cases {
            let err = text.parse::<PageScenario>().expect_err(named);
            assert!(err.contains(named), "{named}: {err}");
        }
        let plain = PageScenario::draw(7, &Pins::default()).base.to_string();
        let err = plain.parse::<PageScenario>().expect_err("no page keys");
        assert!(err.contains("page_seed"), "{err}");
    }
}
