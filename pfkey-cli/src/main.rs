//! The `pfkey` command: manage Linux IPsec SAs and policies over PF_KEY v2.
//!
//! This file only wires things together: parse the command line ([`cli`]), run the
//! command ([`cmd`]), turn the outcome into an exit code ([`exit`]).
#![forbid(unsafe_code)]

mod cli;
mod cmd;
mod exit;
#[allow(dead_code)] // used by the SA commands, which are being written
mod input;
mod output;
mod setkey;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // clap prints help/version (exit 0) and usage errors (exit 2) itself.
    let cli = cli::Cli::parse();
    let mut out = output::Output::new(&cli);
    let result = cmd::run(&cli, &mut out);
    exit::finish(result, &mut out)
}
