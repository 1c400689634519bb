//! Risks: a campaign that cannot fail (an oracle that does not bite), runs that do not
//! replay (nondeterminism), and failures that cannot be turned into short tests.

mod common;

use common::sim;

use pagelog::simulation::plan::generate;
use pagelog::simulation::{Invariant, Pins, Scenario, parse_plan, parse_sites, run, run_at_sites};

fn hash_line(text: &str) -> String {
    text.lines()
        .find(|l| l.starts_with("trace hash"))
        .unwrap_or_else(|| panic!("no trace hash in:\n{text}"))
        .to_string()
}

/// The seeds a JSON summary lists as failing, with their invariants.
fn failures(json: &str) -> Vec<(u64, String)> {
    json.split("{\"seed\":")
        .skip(1)
        .map(|chunk| {
            let seed = chunk.split(',').next().unwrap_or("").parse().expect("seed");
            let inv = chunk
                .split("\"invariant\":\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("")
                .to_string();
            (seed, inv)
        })
        .collect()
}

/// The number after `"key":` in `json`.
fn number(json: &str, key: &str) -> f64 {
    let at = json
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {json}"));
    let rest = &json[at + key.len() + 3..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end]
        .parse()
        .unwrap_or_else(|_| panic!("{key}: {:?}", &rest[..end]))
}

/// The values of one JSON section (`"name":{"k":v,...}`), in order.
fn json_section(json: &str, name: &str) -> Vec<f64> {
    let at = json
        .find(&format!("\"{name}\":{{"))
        .unwrap_or_else(|| panic!("no section {name}"));
    let body = &json[at + name.len() + 4..];
    let body = &body[..body.find('}').expect("section end")];
    body.split(',')
        .map(|kv| {
            kv.rsplit(':')
                .next()
                .expect("value")
                .parse()
                .expect("number")
        })
        .collect()
}

/// The values of the table's sections, in order: `totals` (before any header), then
/// one per header line.
fn table_sections(text: &str) -> Vec<(String, Vec<f64>)> {
    let mut out = vec![("totals".to_string(), Vec::new())];
    for line in text.lines().skip(1) {
        if line.starts_with("FAIL") || line.trim().is_empty() {
            break;
        }
        if !line.starts_with(' ') {
            out.push((line.replace(' ', "_"), Vec::new()));
            continue;
        }
        let value = line
            .rsplit(' ')
            .next()
            .expect("value")
            .parse()
            .expect("number");
        out.last_mut().expect("section").1.push(value);
    }
    out
}

#[test]
fn the_json_summary_holds_every_figure_of_the_table_and_the_flags() {
    let args = ["run", "--seeds", "0..6", "--jobs", "1", "--ops", "300"];
    let (c1, table) = sim(&args);
    let (c2, json) = sim(&[&args[..], &["--json"]].concat());
    assert_eq!((c1, c2), (0, 0), "{table}\n{json}");
    assert!(
        table.starts_with("pagelog-sim run --seeds 0..6 --jobs 1 --ops 300 --pins 'faults="),
        "{table}"
    );
    assert!(
        json.contains("\"seeds\":\"0..6\""),
        "the seed range: {json}"
    );
    assert!(json.contains("\"jobs\":\"1\""), "the flags: {json}");
    let sections = table_sections(&table);
    assert_eq!(sections.len(), 6, "{table}");
    for (name, mut values) in sections {
        let mut from_json = json_section(&json, &name);
        assert_eq!(values.len(), from_json.len(), "{name}: row counts");
        if name == "pages" {
            // Its last row is the page seeds' speed, as the speed section's are.
            values.pop();
            from_json.pop();
        }
        if name != "speed" {
            assert_eq!(values, from_json, "{name}: the same figures");
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_trace_in_one_process_and_in_two() {
    let pins = Pins::default();
    for seed in 0..40 {
        let scenario = Scenario::draw(seed, &pins);
        let plan = generate(&scenario);
        let a = run(&scenario, &plan, None, false);
        let b = run(&scenario, &plan, None, true);
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed} in one process");
        assert_eq!(a.counts, b.counts, "seed {seed}");
    }
    let mut hashes = Vec::new();
    for seed in [3, 17, 29] {
        let (_, first) = sim(&["replay", "--seed", &seed.to_string()]);
        let (_, second) = sim(&["replay", "--seed", &seed.to_string()]);
        assert_eq!(
            hash_line(&first),
            hash_line(&second),
            "seed {seed}, two processes"
        );
        let scenario = Scenario::draw(seed, &Pins::default());
        let here = run(&scenario, &generate(&scenario), None, false).trace_hash;
        assert_eq!(
            hash_line(&first),
            format!("trace hash {here:016x}"),
            "seed {seed}"
        );
        hashes.push(here);
    }
    hashes.dedup();
    assert_eq!(hashes.len(), 3, "different seeds, different traces");
}

#[test]
fn a_lying_disk_is_caught_replays_identically_and_shrinks_to_a_short_test() {
    let (code, json) = sim(&["run", "--seeds", "0..200", "--liar", "sync", "--json"]);
    assert_eq!(code, 1, "a lying disk must fail the campaign:\n{json}");
    assert!(
        number(&json, "syncs_faked") > 0.0,
        "the forged acks are counted"
    );
    let found = failures(&json);
    let seed = found
        .iter()
        .find(|(_, inv)| inv.starts_with("I1"))
        .map(|(seed, _)| *seed)
        .unwrap_or_else(|| panic!("no I1 violation among {found:?}"));
    let seed = seed.to_string();
    let replay = ["replay", "--seed", &seed, "--pins", "faults=none,liar=sync"];
    let (c1, first) = sim(&replay);
    let (c2, second) = sim(&replay);
    assert_eq!((c1, c2), (1, 1), "the replay fails too:\n{first}");
    assert_eq!(first, second, "replays are identical");
    let (code, test) = sim(&[
        "shrink",
        "--seed",
        &seed,
        "--pins",
        "faults=none,liar=sync",
        "--print",
    ]);
    assert_eq!(code, 0, "{test}");
    let plan = test
        .lines()
        .find(|l| l.contains("parse_plan(\""))
        .and_then(|l| l.split('"').nth(1))
        .expect("the test carries its plan")
        .to_string();
    let steps = plan.split_whitespace().count();
    assert!(steps <= 8, "shrunk to {steps} steps: {plan}");
    assert!(test.contains("#[test]") && test.contains("I1"), "{test}");
    // The written test holds its whole scenario and still fails the same way.
    let text = quoted(&test, "let scenario: Scenario = \"");
    let scenario: Scenario = text.parse().expect("the scenario text parses");
    assert_eq!(scenario.seed.to_string(), seed);
    assert!(scenario.sim.lying_sync, "{text}");
    let mask_line = test
        .lines()
        .find(|l| l.contains("let faults_at"))
        .expect("a fault mask");
    let list = mask_line
        .split_once("&[")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map_or("", |(list, _)| list);
    let sites: Vec<&str> = list.split('"').skip(1).step_by(2).collect();
    let mask = parse_sites(&sites).expect("the written sites parse");
    let plan = parse_plan(&plan).expect("the plan parses");
    let report = run_at_sites(&scenario, &plan, &mask, false);
    let violation = report.violation().expect("the written test fails");
    assert_eq!(violation.invariant, Invariant::I1, "{violation}");
}

/// The first double-quoted string on the line of `test` that contains `marker`.
fn quoted(test: &str, marker: &str) -> String {
    test.lines()
        .find(|l| l.contains(marker))
        .and_then(|l| l.split('"').nth(1))
        .unwrap_or_else(|| panic!("no line with {marker:?} in:\n{test}"))
        .to_string()
}

#[test]
fn a_disk_resurrecting_an_aborted_message_is_caught() {
    let (code, json) = sim(&["run", "--seeds", "0..200", "--liar", "resurrect", "--json"]);
    assert_eq!(code, 1, "{json}");
    assert!(
        number(&json, "aborts_forged") > 0.0,
        "the forgeries are counted"
    );
    let found = failures(&json);
    assert!(
        found.iter().any(|(_, inv)| inv.starts_with("I2")),
        "no I2 violation among {found:?}"
    );
}

#[test]
fn a_clean_campaign_passes_and_reports_what_it_did() {
    let (code, text) = sim(&[
        "run", "--seeds", "0..100", "--faults", "none", "--jobs", "2",
    ]);
    assert_eq!(code, 0, "{text}");
    for line in [
        "seeds",
        "crashes",
        "recoveries checked",
        "VIOLATIONS",
        "ops/s/core",
        "torn tail",
    ] {
        assert!(text.contains(line), "summary lacks {line:?}:\n{text}");
    }
    let (code, text) = sim(&["run", "--seeds", "5..3"]);
    assert_eq!(code, 2, "a bad range is a usage error: {text}");
}

#[test]
fn a_wrong_materializer_fails_a_page_campaign_and_names_the_page() {
    let (code, text) = sim(&[
        "run",
        "--seeds",
        "0..30",
        "--kind",
        "page",
        "--faults",
        "none",
        "--pins",
        "materializer=wrong",
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL page seed"), "{text}");
    assert!(text.contains("replay --pages --seed"), "{text}");
    let (code, text) = sim(&[
        "run", "--seeds", "0..30", "--kind", "page", "--faults", "none",
    ]);
    assert_eq!(
        code, 0,
        "the right materializer passes the same seeds: {text}"
    );
    assert!(text.contains("page ops/s/core"), "{text}");
}

#[test]
fn a_page_seed_gives_the_same_trace_in_one_process_and_in_two() {
    use pagelog::simulation::pages::{PageScenario, run_pages};
    let mut hashes = Vec::new();
    for seed in [2, 9, 31] {
        let here = run_pages(&PageScenario::draw(seed, &Pins::default()));
        let again = run_pages(&PageScenario::draw(seed, &Pins::default()));
        assert_eq!(
            here.trace_hash, again.trace_hash,
            "page seed {seed} in one process"
        );
        assert_eq!(here.counts, again.counts, "page seed {seed}");
        let (_, first) = sim(&["replay", "--pages", "--seed", &seed.to_string()]);
        let (_, second) = sim(&["replay", "--pages", "--seed", &seed.to_string()]);
        assert_eq!(
            hash_line(&first),
            hash_line(&second),
            "page seed {seed}, two processes"
        );
        assert_eq!(
            hash_line(&first),
            format!("trace hash {:016x}", here.trace_hash),
            "page seed {seed}"
        );
        hashes.push(here.trace_hash);
    }
    hashes.dedup();
    assert_eq!(hashes.len(), 3, "different page seeds, different traces");
}

#[test]
fn a_failing_page_seed_shrinks_to_a_short_test_that_holds_its_whole_scenario() {
    use pagelog::simulation::pages::{PageScenario, parse_page_plan, run_page_plan};
    let pins = "materializer=wrong";
    let (code, json) = sim(&[
        "run", "--seeds", "0..20", "--kind", "page", "--pins", pins, "--json",
    ]);
    assert_eq!(code, 1, "{json}");
    let (seed, invariant) = failures(&json).first().cloned().expect("a failing seed");
    let seed = seed.to_string();
    let replay = ["replay", "--pages", "--seed", &seed, "--pins", pins];
    let (c1, first) = sim(&replay);
    let (c2, second) = sim(&replay);
    assert_eq!((c1, c2), (1, 1), "the replay fails too:\n{first}");
    assert_eq!(first, second, "replays are identical");
    let (code, test) = sim(&[
        "shrink", "--pages", "--seed", &seed, "--pins", pins, "--print",
    ]);
    assert_eq!(code, 0, "{test}");
    assert!(
        test.contains("#[test]") && test.contains(&invariant),
        "{test}"
    );
    let plan_text = quoted(&test, "parse_page_plan(\"");
    let steps = plan_text.split_whitespace().count();
    assert!(steps <= 12, "shrunk to {steps} steps: {plan_text}");
    // The written test holds its whole scenario and still fails the same way.
    let text = quoted(&test, "let scenario: PageScenario = \"");
    let scenario: PageScenario = text.parse().expect("the page scenario text parses");
    assert_eq!(scenario.seed.to_string(), seed);
    assert!(scenario.base.pins.wrong_materializer, "{text}");
    let list = test
        .lines()
        .find(|l| l.contains("let faults_at"))
        .and_then(|l| l.split_once("&["))
        .and_then(|(_, rest)| rest.split_once(']'))
        .map_or("", |(list, _)| list);
    let sites: Vec<&str> = list.split('"').skip(1).step_by(2).collect();
    let sites = parse_sites(&sites).expect("the written sites parse");
    let plan = parse_page_plan(&plan_text).expect("the plan parses");
    let report = run_page_plan(&scenario, &plan, Some(&sites));
    let violation = report.violation().expect("the written test fails");
    assert_eq!(violation.invariant.name(), invariant, "{violation}");
    // With the right materializer the same short run passes.
    let right: PageScenario = text
        .replace("materializer=wrong", "materializer=right")
        .parse()
        .expect("parses");
    let fixed = run_page_plan(&right, &plan, Some(&sites));
    assert!(fixed.violation().is_none(), "{:?}", fixed.outcome);
    // The replay line the shrink prints runs it from the command line.
    let (code, out) = sim(&[
        "replay",
        "--pages",
        "--scenario",
        &text,
        "--plan",
        &plan_text,
        "--faults-at",
        list.replace('"', "").as_str(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&invariant), "{out}");
}

/// `replay --pages --verbose` prints a line per step, open and power cut, and the
/// lines change nothing: the trace hash is the one without them.
#[test]
fn a_verbose_page_replay_shows_each_step_and_the_same_hash() {
    let (c1, quiet) = sim(&["replay", "--pages", "--seed", "9"]);
    let (c2, loud) = sim(&["replay", "--pages", "--seed", "9", "--verbose"]);
    assert_eq!((c1, c2), (0, 0), "{loud}");
    assert_eq!(hash_line(&quiet), hash_line(&loud));
    let steps = loud.lines().filter(|l| l.contains("(stable lsn ")).count();
    assert!(steps > 20, "{steps} step lines:\n{loud}");
    assert!(loud.contains("open: "), "{loud}");
    assert!(quiet.lines().count() < 10, "{quiet}");
}

#[test]
fn a_lying_disk_fails_a_page_campaign() {
    let (code, text) = sim(&[
        "run", "--seeds", "0..30", "--kind", "page", "--liar", "sync",
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL page seed"), "{text}");
    let (code, json) = sim(&[
        "run",
        "--seeds",
        "0..60",
        "--kind",
        "page",
        "--liar",
        "resurrect",
        "--json",
    ]);
    assert_eq!(
        code, 1,
        "a resurrecting disk must fail a page campaign: {json}"
    );
    assert!(number(&json, "forged") > 0.0, "the forgeries are counted");
    assert!(!failures(&json).is_empty(), "{json}");
}

#[test]
fn coverage_fails_a_campaign_too_small_to_reach_what_it_enabled() {
    let (code, text) = sim(&[
        "run",
        "--seeds",
        "5..6",
        "--faults",
        "sync_eio",
        "--pins",
        "rate=0.000000001",
        "--require-coverage",
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("never reached: fault class sync_eio"),
        "{text}"
    );
    let (code, text) = sim(&[
        "run",
        "--seeds",
        "0..300",
        "--faults",
        "sync_eio",
        "--require-coverage",
    ]);
    assert_eq!(code, 0, "{text}");
}
