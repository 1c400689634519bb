//! Helpers shared by the simulator's CLI tests.

use std::process::Command;

/// Runs `pagelog-sim` with `args`; returns the exit code and everything it printed.
pub fn sim(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pagelog-sim"))
        .args(args)
        .output()
        .expect("run pagelog-sim");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}
