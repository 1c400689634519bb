//! `cargo run --release --example kv -- DIR COMMAND`: an ordered key-value store in
//! the directory DIR, on pagelog's page cache (see `store.rs`).
//!
//! Commands: `put KEY VALUE`, `get KEY`, `remove KEY`, `scan [FROM [TO]]` (keys from
//! FROM up to but not including TO), `load N` (puts keys `key-000000`... with values
//! `value-N`), `stats` (leaves, and this process's page cache counters). Each command
//! opens the store, runs, and closes it (closing makes it durable).

// `flush` and `abandon` serve tests/kv_example.rs, which includes the same module.
#[allow(dead_code)]
mod store;

use std::process::ExitCode;
use std::sync::Arc;

use pagelog::Config;
use pagelog::io::StdStorage;
use store::Store;

fn usage() -> ExitCode {
    eprintln!(
        "usage: kv DIR put KEY VALUE | get KEY | remove KEY | scan [FROM [TO]] | load N | stats"
    );
    ExitCode::from(2)
}

/// Whether `command` is one of the commands, with its arguments.
fn known(command: &[String]) -> bool {
    let words: Vec<&str> = command.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["put", _, _] | ["get", _] | ["remove", _] | ["load", _] | ["stats"] => true,
        ["scan", rest @ ..] => rest.len() <= 2,
        _ => false,
    }
}

fn main() -> ExitCode {
    // Arguments that are not UTF-8 are refused, not a panic.
    let args: Option<Vec<String>> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string().ok())
        .collect();
    let Some(args) = args else {
        eprintln!("kv: arguments must be UTF-8 text");
        return ExitCode::from(2);
    };
    let Some((dir, command)) = args.split_first() else {
        return usage();
    };
    // The command is checked before the store is opened: a mistyped command (or
    // `--help`) must not create a store.
    if !known(command) || dir.starts_with('-') {
        return usage();
    }
    // A snapshot every MiB of log: each command is a process, and its open then
    // replays at most about that much of the log instead of all of it.
    let config = Config::default().snapshot_every(1 << 20);
    let store = match StdStorage::open(dir).and_then(|s| Store::open(config, Arc::new(s))) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("kv: opening {dir}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let words: Vec<&str> = command.iter().map(String::as_str).collect();
    let outcome = match words.as_slice() {
        ["put", key, value] => store.insert(key.as_bytes(), value.as_bytes()),
        ["get", key] => store.get(key.as_bytes()).map(|v| {
            let _ = match v {
                Some(v) => say(&String::from_utf8_lossy(&v)),
                None => say("(not found)"),
            };
        }),
        ["remove", key] => store.remove(key.as_bytes()),
        ["scan", rest @ ..] if rest.len() <= 2 => {
            let from = rest.first().map_or(&b""[..], |f| f.as_bytes());
            let to = rest.get(1).map(|t| t.as_bytes());
            store.scan(from, to).map(|pairs| {
                for (k, v) in pairs {
                    let line = format!(
                        "{}\t{}",
                        String::from_utf8_lossy(&k),
                        String::from_utf8_lossy(&v)
                    );
                    // A reader that went away (`kv scan | head`) ends the scan.
                    if !say(&line) {
                        break;
                    }
                }
            })
        }
        ["load", n] => match n.parse::<u64>() {
            Ok(n) => (0..n).try_for_each(|i| {
                store.insert(
                    format!("key-{i:06}").as_bytes(),
                    format!("value-{i}").as_bytes(),
                )
            }),
            Err(_) => return usage(),
        },
        ["stats"] => store.leaves().map(|leaves| {
            say(&format!(
                "{leaves} leaves; {:?}",
                store.page_cache().stats()
            ));
        }),
        _ => return usage(),
    };
    if let Err(e) = outcome.and_then(|()| store.close()) {
        eprintln!("kv: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Prints `line` to stdout; false if stdout is gone (a closed pipe), instead of the
/// panic `println!` would raise.
fn say(line: &str) -> bool {
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{line}").is_ok()
}
