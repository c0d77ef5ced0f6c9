//! Command-line definitions (clap derive). One subcommand per command family; each
//! family's arguments live next to its implementation's expectations here, and its
//! code in `cmd/<family>.rs`.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

pub mod sa;
pub mod tools;

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

    /// Add a security association (SADB_ADD).
    ///
    /// The SA is identified by its protocol, destination and SPI. Everything is checked
    /// before the PF_KEY socket is opened: algorithm names (every alias of `pfkey
    /// algorithms`; AEAD algorithms such as AES-GCM are refused, since Linux PF_KEY
    /// cannot install them), key sizes, addresses, SPI range, lifetimes and NAT-T
    /// ports. An SA with the same protocol, destination and SPI makes the kernel refuse
    /// (EEXIST, exit 1). Prints nothing on success.
    Add(sa::AddArgs),

    /// Change an SA, or complete a larval one made by `getspi` (SADB_UPDATE).
    ///
    /// Takes the options of `add`. Linux changes only the lifetimes, NAT-T ports and
    /// selector of a mature SA and silently keeps its algorithms and keys; pfkey reads
    /// the SA back afterwards and warns when that happened (to re-key, delete and add).
    /// Prints nothing on success.
    Update(sa::AddArgs),

    /// Show one SA (SADB_GET): keys hidden unless --show-keys; JSON with --json.
    Get(sa::SaIdArgs),

    /// Delete one SA (SADB_DELETE). Prints nothing on success; a missing SA is an error
    /// (ESRCH, exit 1).
    Delete(sa::SaIdArgs),

    /// Delete every SA of one protocol from --src to --dst.
    ///
    /// Lists the SAs (SADB_DUMP) and deletes each match (SADB_DELETE). Prints nothing;
    /// -v says how many were deleted. No match is not an error.
    Deleteall(sa::DeleteAllArgs),

    /// Delete all SAs, or all of one protocol (SADB_FLUSH). Prints nothing on success.
    Flush(sa::FlushArgs),

    /// Reserve an SPI: create a larval SA and print its SPI (SADB_GETSPI).
    ///
    /// Prints the SPI as 0x… (a JSON object with --json). Complete the SA with `pfkey
    /// update … --spi SPI`; a larval SA that is not completed disappears after
    /// net.core.xfrm_acq_expires seconds (30 by default).
    Getspi(sa::GetSpiArgs),

    /// List the SAs (SADB_DUMP), streamed: memory does not grow with the table.
    ///
    /// Text: one block per SA (SPI in hex and decimal, endpoints, state, mode, reqid,
    /// replay window, algorithms with key sizes, lifetimes and counters, NAT-T).
    /// --json or --format json: JSON Lines, one SA object per line (JSON.md, "SA").
    /// --format setkey: the text of `setkey -D`. Keys are hidden unless --show-keys.
    /// An empty table prints nothing on standard output.
    Dump(sa::DumpArgs),

    /// List the algorithms the running kernel offers through PF_KEY, with key sizes.
    ///
    /// Asks the kernel with SADB_REGISTER for SA type 0, which lists the algorithms
    /// without registering this program as a key manager. Adds what pfkey knows about
    /// each (valid key sizes, ICV length, notes such as HMAC-SHA-256's 96-bit ICV), and
    /// which algorithms pfkey knows that this kernel does not offer.
    Algorithms(tools::AlgorithmsArgs),

    /// Print every PF_KEY message in this network namespace as it arrives.
    ///
    /// Uses a promiscuous socket (SADB_X_PROMISC): every request, reply, broadcast and
    /// kernel event (ACQUIRE, EXPIRE, …) of every PF_KEY user, also changes made with
    /// `ip xfrm`. One decoded message per block, or one JSON object per line with --json
    /// (JSON.md, "Message"). Keys are hidden unless --show-keys. Runs until interrupted
    /// (SIGINT, SIGTERM), then exits 0.
    Monitor(tools::MonitorArgs),

    /// Write a shell completion script to standard output.
    ///
    /// For example: `pfkey completions bash > /etc/bash_completion.d/pfkey`.
    Completions(tools::CompletionsArgs),

    /// Write a man page (roff) to standard output: pfkey(1), or pfkey-COMMAND(1).
    ///
    /// For example: `pfkey man | man -l -`, `pfkey man add > pfkey-add.1`.
    Man(tools::ManArgs),
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
