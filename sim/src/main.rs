//! `pagelog-sim`: the command-line front of pagelog's simulator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod args;
mod campaign;
mod demo;
mod inspect;
mod page_summary;
mod replay;
mod shrink_cmd;
mod summary;

#[derive(Parser)]
#[command(
    name = "pagelog-sim",
    version,
    about = "Seeded crash and fault simulation campaigns for pagelog, and tools to inspect and verify a log directory"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a campaign: many seeds in parallel, checked against the reference model.
    /// Exits 1 on any violation.
    Run(campaign::RunArgs),
    /// Rerun one seed; print its trace hash and, with --verbose, its trace.
    Replay(replay::ReplayArgs),
    /// Shrink a failing seed to a minimal run and write it as a regression test.
    Shrink(shrink_cmd::ShrinkArgs),
    /// Write records to a simulated disk, cut the power at a seeded moment, and show
    /// what survived. Fails if any synced record was damaged.
    Demo(demo::DemoArgs),
    /// Print a log directory's segments (live share, messages by kind), blobs and
    /// recovered tip, writing nothing. Exits 1 if it cannot be read.
    Inspect(inspect::InspectArgs),
    /// Check every header, message, blob and page of a log directory, writing
    /// nothing. Exits 1 on damage (printed with where it is), 2 if unreadable.
    Verify(inspect::VerifyArgs),
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => campaign::main(&args),
        Command::Replay(args) => replay::main(&args),
        Command::Shrink(args) => shrink_cmd::main(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Inspect(args) => inspect::inspect(&args),
        Command::Verify(args) => inspect::verify(&args),
    }
}

/// Output piped into a reader that stops early (`| head`) ends the process, as it
/// does for other command-line tools, instead of a panic in `println!`: Rust starts
/// programs with SIGPIPE ignored.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first in `main`, before any other thread exists; setting a
    // signal's action to its default has no other effect on this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
