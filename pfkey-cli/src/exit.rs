//! Exit codes and the end of the program: how a failure is reported and which
//! code it exits with.
//!
//! The codes, documented in `--help` ([`exit_codes_help`]) and README:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also: stdout closed early, e.g. piped into `head`) |
//! | 1 | the kernel refused the request (an errno reply) |
//! | 2 | usage error (bad command line; reported by clap) |
//! | 65 | bad input data: a message or hex text that does not parse (`EX_DATAERR`) |
//! | 66 | an input file cannot be opened (`EX_NOINPUT`) |
//! | 69 | this kernel has no PF_KEY (`EAFNOSUPPORT`; `EX_UNAVAILABLE`) |
//! | 70 | internal error, a bug in pfkey (`EX_SOFTWARE`) |
//! | 74 | input/output error (`EX_IOERR`) |
//! | 77 | permission denied: needs root or `CAP_NET_ADMIN` (`EX_NOPERM`) |
//!
//! 65–77 are the BSD `sysexits.h` values, so scripts can tell the causes apart.

use std::io::{self, Write};
use std::process::ExitCode;

use crate::output::Output;

/// Why the program ends; each variant is one documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Success,
    /// 1: the kernel answered with an error.
    KernelRefused,
    /// 2: bad command line (clap exits with 2 itself; kept for commands that
    /// detect a usage error after parsing).
    Usage,
    /// 65 (`EX_DATAERR`): the input does not parse.
    DataError,
    /// 66 (`EX_NOINPUT`): an input file cannot be opened.
    NoInput,
    /// 69 (`EX_UNAVAILABLE`): no PF_KEY in this kernel.
    NoPfKey,
    /// 70 (`EX_SOFTWARE`): a bug.
    Internal,
    /// 74 (`EX_IOERR`): reading or writing failed.
    Io,
    /// 77 (`EX_NOPERM`): not allowed (root or `CAP_NET_ADMIN` needed).
    PermissionDenied,
}

impl Exit {
    /// Every exit code with its meaning, in order (the `--help` table is checked
    /// against this list by a test).
    pub const ALL: [(Exit, &'static str); 9] = [
        (
            Exit::Success,
            "success (also when standard output is closed early, e.g. by `head`)",
        ),
        (Exit::KernelRefused, "the kernel refused the request"),
        (Exit::Usage, "usage error"),
        (
            Exit::DataError,
            "bad input data (a message or hex text that does not parse)",
        ),
        (Exit::NoInput, "an input file cannot be opened"),
        (
            Exit::NoPfKey,
            "this kernel has no PF_KEY support (module af_key)",
        ),
        (Exit::Internal, "internal error (a bug: please report it)"),
        (Exit::Io, "input/output error"),
        (
            Exit::PermissionDenied,
            "permission denied (needs root or CAP_NET_ADMIN)",
        ),
    ];

    /// The numeric exit status.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::KernelRefused => 1,
            Exit::Usage => 2,
            Exit::DataError => 65,
            Exit::NoInput => 66,
            Exit::NoPfKey => 69,
            Exit::Internal => 70,
            Exit::Io => 74,
            Exit::PermissionDenied => 77,
        }
    }
}

/// The exit-code table shown at the end of `--help`, built from [`Exit::ALL`].
pub fn exit_codes_help() -> String {
    let mut s = String::from("Exit status:");
    for (exit, meaning) in Exit::ALL {
        s.push_str(&format!("\n  {:>2}  {meaning}", exit.code()));
    }
    s
}

/// How a command failed.
#[derive(Debug)]
pub enum Failure {
    /// Report `message` as `pfkey: message` on stderr and exit with `exit`.
    Error {
        /// The exit code.
        exit: Exit,
        /// What went wrong, in words a user understands.
        message: String,
    },
    /// Everything was already reported; exit with this code.
    Reported(Exit),
    /// Standard output was closed by its reader: stop quietly, status 0.
    BrokenPipe,
}

impl Failure {
    /// A failure with a message.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure::Error {
            exit,
            message: message.into(),
        }
    }

    /// An error writing standard output.
    pub fn stdout(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::new(Exit::Io, format!("cannot write to standard output: {e}"))
        }
    }
}

impl From<pfkey::client::Error> for Failure {
    /// Maps a client error to its exit code; the message is the error's own words,
    /// which already name the operation (`add esp spi 0x1000 …: …`).
    fn from(e: pfkey::client::Error) -> Self {
        use pfkey::client::Error as E;
        let exit = match &e {
            E::NoPfKey => Exit::NoPfKey,
            E::PermissionDenied { .. } => Exit::PermissionDenied,
            E::Kernel { .. } => Exit::KernelRefused,
            E::Open { .. } | E::Send { .. } | E::Recv { .. } | E::Timeout { .. } => Exit::Io,
            E::Parse { .. } | E::Incomplete { .. } | E::Build { .. } => Exit::Internal,
            E::Unsupported { .. } => Exit::Usage,
            _ => Exit::Internal,
        };
        Failure::new(exit, e.to_string())
    }
}

impl From<crate::input::InputError> for Failure {
    /// Bad values on the command line are usage errors (exit 2).
    fn from(e: crate::input::InputError) -> Self {
        Failure::new(Exit::Usage, e.to_string())
    }
}

/// Flushes output, reports a failure, and turns the outcome into the process status.
pub fn finish(result: Result<(), Failure>, out: &mut Output) -> ExitCode {
    let result = result.and_then(|()| out.flush().map_err(Failure::stdout));
    let exit = match result {
        Ok(()) => Exit::Success,
        Err(Failure::BrokenPipe) => Exit::Success,
        Err(Failure::Reported(exit)) => {
            // Output already written may still be buffered.
            match out.flush() {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                    report(&format!("cannot write to standard output: {e}"));
                    Exit::Io
                }
                _ => exit,
            }
        }
        Err(Failure::Error { exit, message }) => {
            let _ = out.flush();
            report(&message);
            exit
        }
    };
    ExitCode::from(exit.code())
}

/// Reports a command-line error from clap in one line, `pfkey: … (see 'pfkey add
/// --help')`, and exits 2; help and version requests are printed as clap formats them
/// (exit 0).
pub fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        let code = if e.use_stderr() {
            Exit::Usage
        } else {
            Exit::Success
        };
        return ExitCode::from(code.code());
    }
    let mut line = one_line_usage(&e.render().to_string());
    if line.ends_with("(see 'pfkey --help')") {
        // clap's usage line, which names the subcommand, is not part of every error
        // (invalid values): find the subcommand on the command line.
        use clap::CommandFactory;
        let root = crate::cli::Cli::command();
        if let Some(sub) = std::env::args()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .and_then(|a| root.find_subcommand(&a).map(|c| c.get_name().to_owned()))
        {
            line = line.replace(
                "(see 'pfkey --help')",
                &format!("(see 'pfkey {sub} --help')"),
            );
        }
    }
    report(&line);
    ExitCode::from(Exit::Usage.code())
}

/// Squeezes clap's error text (message, indented details, tip, usage, "For more
/// information") into one line: the message with its details and tip, and a pointer to
/// the right `--help`.
fn one_line_usage(rendered: &str) -> String {
    let mut message = String::new();
    let mut prev_item = false;
    let mut command = "pfkey".to_string();
    for line in rendered.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with("For more information") {
            continue;
        }
        if let Some(usage) = t.strip_prefix("Usage: ") {
            // "Usage: pfkey add --src <ADDR> …" names the (sub)command.
            let words: Vec<&str> = usage
                .split_whitespace()
                .take_while(|w| !w.starts_with(['-', '<', '[']))
                .collect();
            if !words.is_empty() {
                command = words.join(" ");
            }
            continue;
        }
        let t = t.strip_prefix("error: ").unwrap_or(t);
        // Indented lines list details (missing arguments, possible values).
        let item = line.starts_with(' ') && !t.starts_with("tip:");
        if !message.is_empty() {
            message.push_str(match (item, prev_item) {
                (true, true) => ", ",
                (true, false) => " ",
                (false, _) => "; ",
            });
        }
        message.push_str(t);
        prev_item = item;
    }
    format!("{message} (see '{command} --help')")
}

/// Prints `pfkey: message` on stderr (ignoring a closed stderr: nowhere to report).
pub fn report(message: &str) {
    let _ = writeln!(io::stderr().lock(), "pfkey: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_table_lists_every_code_once() {
        let help = exit_codes_help();
        let lines: Vec<&str> = help.lines().skip(1).collect();
        assert_eq!(lines.len(), Exit::ALL.len());
        for ((exit, meaning), line) in Exit::ALL.iter().zip(lines) {
            let (code, text) = line.trim_start().split_once("  ").expect("code  text");
            assert_eq!(code.parse::<u8>().expect("number"), exit.code());
            assert!(text.starts_with(meaning), "{text:?} vs {meaning:?}");
        }
    }

    #[test]
    fn clap_errors_become_one_line() {
        let rendered = "error: the following required arguments were not provided:\n  --src <ADDR>\n  --spi <SPI>\n\nUsage: pfkey add --src <ADDR> --dst <ADDR> --spi <SPI> <--esp [<ENC>]|--ah|--ipcomp>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line_usage(rendered),
            "the following required arguments were not provided: --src <ADDR>, --spi <SPI> (see 'pfkey add --help')"
        );
        let rendered = "error: unexpected argument '--sip' found\n\n  tip: a similar argument exists: '--spi'\n\nUsage: pfkey get <--esp|--ah|--ipcomp> --src <ADDR> --dst <ADDR> --spi <SPI>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line_usage(rendered),
            "unexpected argument '--sip' found; tip: a similar argument exists: '--spi' (see 'pfkey get --help')"
        );
    }

    #[test]
    fn codes_are_distinct() {
        for (i, (a, _)) in Exit::ALL.iter().enumerate() {
            for (b, _) in &Exit::ALL[i + 1..] {
                assert_ne!(a.code(), b.code());
            }
        }
    }
}
