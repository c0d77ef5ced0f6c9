//! Command-line definitions (clap derive). One subcommand per command family; each
//! family's arguments live next to its implementation's expectations here, and its
//! code in `cmd/<family>.rs`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

pub mod sa;
pub mod spd;
pub mod tools;

/// Manage Linux IPsec security associations and policies over PF_KEY v2 (RFC 2367).
///
/// Without a command, pfkey works like setkey(8): `pfkey -f FILE` runs a script in the
/// setkey language, `pfkey -c` reads one from standard input, `pfkey -n -f FILE` only checks
/// it, `pfkey -D` / `-DP` dump and `-F` / `-FP` flush the SAD / SPD, `pfkey -x` watches
/// every PF_KEY message (SCRIPTS.md).
#[derive(Debug, Parser)]
#[command(name = "pfkey", version, propagate_version = true)]
#[command(after_help = crate::exit::exit_codes_help())]
#[command(arg_required_else_help = true)]
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

    /// setkey-style operation when no command is given (`-f`, `-c`, `-n`, `-D`, `-F`, …).
    #[command(flatten)]
    pub script: ScriptArgs,

    /// The command to run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// `pfkey -f FILE` exactly (one file, not `-` or anything else starting with `-`):
    /// what clap would make of it, without building clap's parser, which is most of a
    /// short script's run before the script (natively ~213,000 instructions of clap; under
    /// emulation, in the lab, 2.6–3.4 ms of a 1,000-statement script's run, first touches
    /// of code that runs once). Anything else is clap's (`None`). The tests compare the
    /// two on the same arguments.
    pub fn script_file_only(mut args: impl Iterator<Item = OsString>) -> Option<Cli> {
        let _program = args.next()?;
        let (flag, file, None) = (args.next()?, args.next()?, args.next()) else {
            return None;
        };
        if flag != "-f" || file.is_empty() || file.as_encoded_bytes().first() == Some(&b'-') {
            return None;
        }
        Some(Cli {
            verbose: 0,
            quiet: false,
            json: false,
            script: ScriptArgs {
                files: vec![PathBuf::from(file)],
                ..ScriptArgs::default()
            },
            command: None,
        })
    }
}

/// The commands. Each command's own arguments are defined only when it runs (clap's
/// `defer`): `pfkey -f` does not build the other commands' parsers (a third of its
/// start-up instructions, and under emulation code that runs once is translated first).
/// `clap_mangen` and `clap_complete` build them all (`Command::build`), so help, man pages
/// and completions are unchanged. The argument structs carry plain `//` comments, not doc
/// comments: a deferred struct's doc comment would replace its command's help text.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
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

    /// Check setkey(8)-language scripts without a kernel: report every error.
    ///
    /// Parses and validates each FILE (standard input when none is given or for `-`)
    /// as `pfkey -f` would run it, host names resolved, but opens no PF_KEY socket and
    /// needs no privileges. Every error and warning is reported as FILE:LINE:COLUMN with
    /// the offending line and a caret (as JSON lines with --json). Exit status 65 if any
    /// file has an error, 0 otherwise (warnings do not count).
    Check(CheckArgs),

    /// Write the whole SAD and SPD as a setkey-language script that `pfkey -f` reloads.
    ///
    /// The script holds the keys: FILE is created with mode 0600 (never readable by
    /// others, not even briefly) and replaced atomically. Per-socket policies are left
    /// out with a comment, and details a reload would change are noted in comments.
    /// Standard output when FILE is absent or `-`. --redact writes a shareable file
    /// without keys, which cannot be loaded.
    Save(SaveArgs),
}

// Arguments of `pfkey decode`.
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

/// The setkey-style options used when no command is given: scripts (`-f`, `-c`), checking
/// (`-n`), and setkey's `-D`, `-F` and `-P` shortcuts.
#[derive(Debug, Default, Args)]
pub struct ScriptArgs {
    /// Run the setkey(8)-language script FILE (`-` for standard input); repeat to run
    /// several files in order. Every file is checked before anything is sent.
    #[arg(short = 'f', long = "file", value_name = "FILE", action = ArgAction::Append)]
    #[arg(conflicts_with_all = ["stdin", "dump", "flush"])]
    pub files: Vec<PathBuf>,

    /// Read setkey commands from standard input (on a terminal, each statement runs as
    /// soon as its `;` is typed).
    #[arg(short = 'c', long = "stdin", conflicts_with_all = ["dump", "flush"])]
    pub stdin: bool,

    /// Check only: parse and validate the script (-f or -c), open no socket, change
    /// nothing (exit 65 on errors).
    #[arg(short = 'n', long = "check")]
    pub check: bool,

    /// Go on after a statement fails, and report at the end how many failed (without it,
    /// the first failure stops the script).
    #[arg(long)]
    pub keep_going: bool,

    /// Kernel mode (setkey -k): send `in` policies as written, without the automatic
    /// `fwd` copy.
    #[arg(short = 'k', long = "kernel-mode", overrides_with = "rfc_mode")]
    pub kernel_mode: bool,

    /// RFC mode (setkey -r, the default on Linux): every `in` policy added, updated or
    /// deleted is also sent as a `fwd` policy.
    #[arg(short = 'r', long = "rfc-mode", overrides_with = "kernel_mode")]
    pub rfc_mode: bool,

    /// Dump the SAD as `setkey -D` prints it (with -P: the SPD, as `setkey -DP`).
    #[arg(short = 'D', long = "dump", conflicts_with = "flush")]
    pub dump: bool,

    /// Flush the SAD (with -P: the SPD).
    #[arg(short = 'F', long = "flush")]
    pub flush: bool,

    /// With -D or -F: the SPD instead of the SAD.
    #[arg(short = 'P', long = "policy")]
    pub policy: bool,

    /// With -D: also show dead SAs.
    #[arg(short = 'a', long = "all")]
    pub all: bool,

    /// Watch every PF_KEY message in this network namespace until interrupted, as
    /// `setkey -x` does: the same as `pfkey monitor` (keys hidden unless --show-keys).
    #[arg(short = 'x', conflicts_with_all = ["files", "stdin", "check", "dump", "flush"])]
    pub monitor: bool,

    /// Show the ports of SA addresses in `get`, `dump` and -D output (setkey -p).
    #[arg(short = 'p', long = "ports")]
    pub ports: bool,

    /// Print key material in the output of `get`, `dump` and -D (hidden by default).
    #[arg(long)]
    pub show_keys: bool,
}

impl Cli {
    /// Whether this run may print key material, so that standard output must be wiped
    /// after use: the commands that print SAs or messages do so only with `--show-keys`;
    /// anything else (no bulk output) is wiped to be safe.
    pub fn may_print_keys(&self) -> bool {
        match &self.command {
            None => self.script.show_keys,
            Some(Command::Decode(a)) => a.show_keys,
            Some(Command::Get(a) | Command::Delete(a)) => a.show_keys,
            Some(Command::Dump(a)) => a.show_keys,
            Some(Command::Monitor(a)) => a.show_keys,
            Some(_) => true,
        }
    }
}

impl ScriptArgs {
    /// The first of these options given, if any (they mean nothing with a command).
    pub fn first_given(&self) -> Option<&'static str> {
        [
            (!self.files.is_empty(), "-f"),
            (self.stdin, "-c"),
            (self.check, "-n"),
            (self.keep_going, "--keep-going"),
            (self.kernel_mode, "-k"),
            (self.rfc_mode, "-r"),
            (self.dump, "-D"),
            (self.flush, "-F"),
            (self.policy, "-P"),
            (self.all, "-a"),
            (self.monitor, "-x"),
            (self.ports, "-p"),
            (self.show_keys, "--show-keys"),
        ]
        .into_iter()
        .find_map(|(given, name)| given.then_some(name))
    }
}

// Arguments of `pfkey check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Script files; standard input when none is given or for `-`.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

// Arguments of `pfkey save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Where to write the script; standard output when absent or `-`.
    pub file: Option<PathBuf>,

    /// Replace every key by a placeholder: a file to share (e.g. in a bug report) that
    /// `pfkey -f` refuses to load.
    #[arg(long)]
    pub redact: bool,

    /// The file will be loaded with `pfkey -k` (no automatic `fwd` copy of `in`
    /// policies): write every `fwd` policy explicitly.
    #[arg(short = 'k', long = "kernel-mode")]
    pub kernel_mode: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_file_shortcut_is_what_clap_makes_of_the_same_arguments() {
        let taken: &[&[&str]] = &[
            &["pfkey", "-f", "x.conf"],
            &["pfkey", "-f", "/etc/ipsec-tools.conf"],
            &["pfkey", "-f", "a b;c"],
            &["pfkey", "-f", "=x"],
            &["pfkey", "-f", "0"],
            &["/usr/sbin/pfkey", "-f", "add"],
        ];
        for argv in taken {
            let args = argv.iter().map(OsString::from);
            let fast = Cli::script_file_only(args).expect("taken");
            let clap = Cli::try_parse_from(argv.iter()).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{clap:?}"), "{argv:?}");
        }
        let left: &[&[&str]] = &[
            &["pfkey"],
            &["pfkey", "-f"],
            &["pfkey", "-f", "-"],
            &["pfkey", "-f", "--help"],
            &["pfkey", "-f", ""],
            &["pfkey", "-f", "x", "-f", "y"],
            &["pfkey", "-f", "x", "-n"],
            &["pfkey", "-n", "-f", "x"],
            &["pfkey", "--file", "x"],
            &["pfkey", "-fx"],
            &["pfkey", "-F", "x"],
            &["pfkey", "dump", "esp"],
        ];
        for argv in left {
            assert!(
                Cli::script_file_only(argv.iter().map(OsString::from)).is_none(),
                "{argv:?}"
            );
        }
    }

    #[test]
    fn a_file_name_that_is_not_utf8_is_taken_as_it_is() {
        use std::os::unix::ffi::OsStringExt;
        let name = OsString::from_vec(vec![b'x', 0xff, b'y']);
        let argv = [OsString::from("pfkey"), OsString::from("-f"), name.clone()];
        let fast = Cli::script_file_only(argv.clone().into_iter()).unwrap();
        let clap = Cli::try_parse_from(argv).unwrap();
        assert_eq!(fast.script.files, [PathBuf::from(name)]);
        assert_eq!(format!("{fast:?}"), format!("{clap:?}"));
    }
}
