//! Where and how results are written: one module per output format ([`text`],
//! [`json`]), and [`Output`], which every command writes through.
//!
//! Rules every command follows: results go to standard output, diagnostics
//! (warnings, notes, errors) to standard error; `--quiet` silences warnings and
//! notes, never errors; `-v` adds notes.

pub mod json;
pub mod sa;
pub mod spd;
pub mod text;
pub mod time;

use std::io::{self, BufWriter, Stdout, Write};

use crate::cli::Cli;

/// The output format chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// JSON (JSON.md).
    Json,
}

/// Standard output (buffered) plus the user's choices about what to print.
pub struct Output {
    stdout: BufWriter<Stdout>,
    /// Text or JSON.
    pub format: Format,
    /// `-v` count.
    pub verbose: u8,
    /// `--quiet`.
    pub quiet: bool,
}

impl Output {
    /// Output as the global flags ask.
    pub fn new(cli: &Cli) -> Self {
        Output {
            stdout: BufWriter::new(io::stdout()),
            format: if cli.json { Format::Json } else { Format::Text },
            verbose: cli.verbose,
            quiet: cli.quiet,
        }
    }

    /// The results stream.
    pub fn stdout(&mut self) -> &mut impl Write {
        &mut self.stdout
    }

    /// A diagnostic that is not an error: `pfkey: warning: …` on stderr, unless `--quiet`.
    pub fn warn(&mut self, message: &str) {
        if !self.quiet {
            // Keep the order of stdout and stderr lines when both go to a terminal.
            let _ = self.stdout.flush();
            let _ = writeln!(io::stderr().lock(), "pfkey: warning: {message}");
        }
    }

    /// A note shown with `-v` (at least `level` of them), unless `--quiet`.
    pub fn note(&mut self, level: u8, message: &str) {
        if self.verbose >= level && !self.quiet {
            let _ = self.stdout.flush();
            let _ = writeln!(io::stderr().lock(), "pfkey: {message}");
        }
    }

    /// An error that does not stop the command (it still decides the exit code):
    /// `pfkey: …` on stderr, always.
    pub fn error(&mut self, message: &str) {
        let _ = self.stdout.flush();
        crate::exit::report(message);
    }

    /// Writes out whatever is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.stdout.flush()
    }
}
