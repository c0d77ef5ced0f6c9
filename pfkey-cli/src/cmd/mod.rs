//! The commands, one module per command family.

pub mod algorithms;
pub mod decode;
pub mod meta;
pub mod monitor;
pub mod sa;
pub mod save;
pub mod script;
pub mod spd;

use crate::cli::{Cli, Command};
use crate::exit::Failure;
use crate::output::Output;

/// Runs the command the user asked for.
pub fn run(cli: &Cli, out: &mut Output) -> Result<(), Failure> {
    let Some(command) = &cli.command else {
        // No command: setkey-style operation (-f, -c, -n, -D, -F).
        return script::run(&cli.script, out);
    };
    if let Some(flag) = cli.script.first_given() {
        return Err(Failure::new(
            crate::exit::Exit::Usage,
            format!(
                "{flag} is an option of pfkey without a command; it cannot be used with a command"
            ),
        ));
    }
    match command {
        Command::Decode(args) => decode::run(args, out),
        Command::Add(args) => sa::add(args, out, false),
        Command::Update(args) => sa::add(args, out, true),
        Command::Get(args) => sa::get(args, out),
        Command::Delete(args) => sa::delete(args, out),
        Command::Deleteall(args) => sa::deleteall(args, out),
        Command::Flush(args) => sa::flush(args, out),
        Command::Getspi(args) => sa::getspi(args, out),
        Command::Dump(args) => sa::dump(args, out),
        Command::Algorithms(args) => algorithms::run(args, out),
        Command::Monitor(args) => monitor::run(args, out),
        Command::Completions(args) => meta::completions(args, out),
        Command::Man(args) => meta::man(args, out),
        Command::Spdadd(args) => spd::spdadd(args, out, false),
        Command::Spdupdate(args) => spd::spdadd(args, out, true),
        Command::Spddelete(args) => spd::spddelete(args, out),
        Command::Spdget(args) => spd::spdget(args, out),
        Command::Spddump(args) => spd::spddump(args, out),
        Command::Spdflush => spd::spdflush(out),
        Command::Check(args) => script::check(args, out),
        Command::Save(args) => save::run(args, out),
    }
}
