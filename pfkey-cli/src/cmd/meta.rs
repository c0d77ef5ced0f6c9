//! `pfkey completions` and `pfkey man`: generated from the clap definitions
//! (`clap_complete`, `clap_mangen`), so they always match the command line.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::tools::{CompletionsArgs, ManArgs};
use crate::cli::Cli;
use crate::exit::{Exit, Failure};
use crate::output::Output;

/// Writes the completion script for a shell.
pub fn completions(args: &CompletionsArgs, out: &mut Output) -> Result<(), Failure> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "pfkey", &mut buf);
    out.stdout().write_all(&buf).map_err(Failure::stdout)
}

/// Writes pfkey(1), or pfkey-COMMAND(1) for a subcommand.
pub fn man(args: &ManArgs, out: &mut Output) -> Result<(), Failure> {
    let root = Cli::command();
    let page = match args.command.as_deref() {
        None => root,
        Some(name) => {
            let Some(sub) = root.find_subcommand(name).cloned() else {
                let names: Vec<&str> = root
                    .get_subcommands()
                    .map(clap::Command::get_name)
                    .collect();
                return Err(Failure::new(
                    Exit::Usage,
                    format!(
                        "man: no command '{name}'; the commands are {}",
                        names.join(", ")
                    ),
                ));
            };
            // The page's name and synopsis say `pfkey-add`, as man pages of
            // subcommands do (git-commit(1)).
            // (clap takes `&'static str` names; this runs once, just before exit.)
            let full: &'static str =
                Box::leak(format!("pfkey-{}", sub.get_name()).into_boxed_str());
            let version = root.get_version().unwrap_or_default().to_owned();
            let version: &'static str = Box::leak(version.into_boxed_str());
            sub.name(full).version(version)
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut buf)
        .map_err(|e| Failure::new(Exit::Io, format!("man: {e}")))?;
    out.stdout().write_all(&buf).map_err(Failure::stdout)
}
