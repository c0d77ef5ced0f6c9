//! The commands, one module per command family.

pub mod decode;
pub mod spd;

use crate::cli::{Cli, Command};
use crate::exit::Failure;
use crate::output::Output;

/// Runs the command the user asked for.
pub fn run(cli: &Cli, out: &mut Output) -> Result<(), Failure> {
    match &cli.command {
        Command::Decode(args) => decode::run(args, out),
        Command::Spdadd(args) => spd::spdadd(args, out, false),
        Command::Spdupdate(args) => spd::spdadd(args, out, true),
        Command::Spddelete(args) => spd::spddelete(args, out),
        Command::Spdget(args) => spd::spdget(args, out),
        Command::Spddump(args) => spd::spddump(args, out),
        Command::Spdflush => spd::spdflush(out),
    }
}
