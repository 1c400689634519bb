//! `pagelog-sim`: the command-line front of pagelog's simulator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;

#[derive(Parser)]
#[command(
    name = "pagelog-sim",
    version,
    about = "Seeded crash and fault simulation for pagelog"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write records to a simulated disk, cut the power at a seeded moment, and show
    /// what survived. Fails if any synced record was damaged.
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => demo::run(&args),
    }
}
