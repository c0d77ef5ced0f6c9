//! Command-line definitions (clap derive). One subcommand per command family; each
//! family's arguments live next to its implementation's expectations here, and its
//! code in `cmd/<family>.rs`.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// Manage Linux IPsec security associations and policies over PF_KEY v2 (RFC 2367).
#[derive(Debug, Parser)]
#[command(name = "pfkey", version, propagate_version = true)]
#[command(after_help = crate::exit::exit_codes_help())]
pub struct Cli {
    /// Say more: the messages sent and received, decoded (repeat for more detail).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Print nothing but errors: no warnings, no notes.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Write machine-readable JSON instead of text (schema: JSON.md).
    #[arg(long, global = true)]
    pub json: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode raw PF_KEY messages (binary or hex text) from a file or standard input.
    ///
    /// Reads one message or many concatenated ones (split by each header's
    /// sadb_msg_len), in binary or as hex text (whitespace, newlines, `0x`
    /// prefixes, colons and commas are ignored; `#` starts a comment), and prints
    /// each decoded, one line per extension (or one JSON object per line with
    /// --json). Key material is hidden unless --show-keys is given. A message that
    /// does not parse is reported with its number and offset, decoding goes on with
    /// the next one, and the exit status is 65.
    Decode(DecodeArgs),
}

/// Arguments of `pfkey decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// File to read; standard input when absent or `-`.
    pub file: Option<PathBuf>,

    /// The input is hex text (default: detected; binary input always contains
    /// control bytes, hex text never does).
    #[arg(long, conflicts_with = "binary")]
    pub hex: bool,

    /// The input is binary.
    #[arg(long)]
    pub binary: bool,

    /// Print key material (in hex). Keys are secrets: hidden by default.
    #[arg(long)]
    pub show_keys: bool,
}
