//! The commands, one module per command family.

pub mod decode;

use crate::cli::{Cli, Command};
use crate::exit::Failure;
use crate::output::Output;

/// Runs the command the user asked for.
pub fn run(cli: &Cli, out: &mut Output) -> Result<(), Failure> {
    match &cli.command {
        Command::Decode(args) => decode::run(args, out),
    }
}
