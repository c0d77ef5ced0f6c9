//! The `pfkey` command: manage Linux IPsec SAs and policies over PF_KEY v2.
//!
//! This file only wires things together: parse the command line ([`cli`]), run the
//! command ([`cmd`]), turn the outcome into an exit code ([`exit`]).
#![forbid(unsafe_code)]

mod cli;
mod cmd;
mod exit;
mod input;
mod output;
mod setkey;
mod timeline;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    timeline::mark("start");
    // clap prints help and version (exit 0); usage errors become one line (exit 2).
    // `pfkey -f FILE` does not need clap's parser built.
    let cli = match cli::Cli::script_file_only(std::env::args_os()) {
        Some(cli) => cli,
        None => match cli::Cli::try_parse() {
            Ok(cli) => cli,
            Err(e) => return exit::usage_error(e),
        },
    };
    timeline::mark("args");
    let mut out = output::Output::new(&cli);
    let result = cmd::run(&cli, &mut out);
    timeline::mark("end");
    exit::finish(result, &mut out)
}
