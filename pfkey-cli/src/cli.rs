//! Command-line definitions (clap derive). One subcommand per command family; each
//! family's arguments live next to its implementation's expectations here, and its
//! code in `cmd/<family>.rs`.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

pub mod spd;

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

    /// Add a security policy (SADB_X_SPDADD).
    ///
    /// A policy says what to do with the traffic its selector matches (--src, --dst,
    /// --proto, ports or ICMP type and code) in one direction (--dir): apply IPsec
    /// templates (--tmpl, setkey's rule syntax), pass in clear (--action bypass) or drop
    /// (--action discard). A policy with the same selector and direction makes the kernel
    /// refuse (EEXIST, exit 1; spdupdate replaces). Prints nothing on success.
    Spdadd(spd::SpdAddArgs),

    /// Add or replace a security policy (SADB_X_SPDUPDATE). Takes the options of
    /// spdadd. Prints nothing on success.
    Spdupdate(spd::SpdAddArgs),

    /// Delete a security policy by selector and --dir (SADB_X_SPDDELETE) or by --id
    /// (SADB_X_SPDDELETE2). Prints nothing on success; a missing policy is an error
    /// (ENOENT, exit 1). Per-socket policies cannot be deleted through PF_KEY.
    Spddelete(spd::SpdRefArgs),

    /// Show one security policy, by --id (SADB_X_SPDGET) or by selector and --dir
    /// (looked up in a dump): text, --json, or --format setkey.
    Spdget(spd::SpdRefArgs),

    /// List the security policies (SADB_X_SPDDUMP), streamed, per-socket ones included
    /// (directions socket-in and socket-out).
    ///
    /// Text: one block per policy (direction, action, selector, id, priority, templates
    /// in --tmpl syntax, times). --json or --format json: JSON Lines, one policy object
    /// per line (JSON.md, "Policy"). --format setkey: the text of `setkey -DP`. An empty
    /// SPD prints nothing.
    Spddump(spd::SpdDumpArgs),

    /// Delete every policy of the SPD (SADB_X_SPDFLUSH). Per-socket policies stay: they
    /// belong to their sockets. Prints nothing on success.
    Spdflush,
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
