//! Arguments of `algorithms`, `monitor`, `completions` and `man` (their code:
//! `cmd/algorithms.rs`, `cmd/monitor.rs`, `cmd/meta.rs`).

use clap::{Args, ValueEnum};
use clap_complete::Shell;

// Arguments of `pfkey algorithms`.
#[derive(Debug, Args)]
pub struct AlgorithmsArgs {
    /// Which algorithms: those an SA of this type uses (esp: encryption and
    /// authentication; ah: authentication; ipcomp: compression).
    #[arg(long = "type", value_enum, default_value_t = AlgTypeArg::All)]
    pub satype: AlgTypeArg,
}

/// `algorithms --type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlgTypeArg {
    /// Encryption and authentication algorithms.
    Esp,
    /// Authentication algorithms.
    Ah,
    /// Compression algorithms.
    Ipcomp,
    /// Everything.
    All,
}

// Arguments of `pfkey monitor`.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Print key material (ADD and UPDATE carry keys). Hidden by default.
    #[arg(long)]
    pub show_keys: bool,
}

// Arguments of `pfkey completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    #[arg(value_enum)]
    pub shell: Shell,
}

// Arguments of `pfkey man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to write (`add`, `dump`, …); none: pfkey(1) itself.
    pub command: Option<String>,
}
