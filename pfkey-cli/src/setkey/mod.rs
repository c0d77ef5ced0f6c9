//! The setkey(8) configuration language: lexer, parser and checker, translation to PF_KEY
//! requests, and the reverse direction (kernel state back to a script, and the `setkey -D` /
//! `-DP` text formats).
//!
//! Nothing here talks to the kernel or needs privileges: [`check`] validates a whole script
//! and reports every error; [`Script::lower_statement`] gives the messages the executor
//! sends.
//!
//! ```text
//! source ──lexer──▶ tokens ──parser──▶ Statement (ast) ──lower──▶ Request (MessageRepr)
//! kernel dump (Message) ──format──▶ statements / setkey -D, -DP text
//! ```
//!
//! The grammar is in [`parser`]; the messages each statement becomes are described in
//! [`lower`]. The parser takes the most common statement, a plain `add`, through a fast
//! path (`fast`) that builds the same [`Statement`] in one pass over its bytes or leaves
//! the statement to the general parser.
//!
//! # Deliberate differences from setkey 0.8.2 on Linux
//!
//! Refused where setkey silently does something else:
//! - an SPI above 32 bits (setkey truncates), `-r` above 255 (truncated to 8 bits), SPI 0,
//!   an IPComp CPI above 16 bits, priorities that overflow;
//! - an option given twice (setkey keeps the last), `-4` with `-6`;
//! - `tcp` SAs / `tcp-md5` (undefined on Linux), `spdadd tagged` (no tag extension),
//!   `entrust`/`bypass` in the SPD (af_key refuses them), more than 6 rules (`ELOOP`);
//! - AEAD and unimplemented algorithms (refused by af_key with `ENOSYS`), keys whose length
//!   the algorithm does not take (checked against [`pfkey::alg`], not a REGISTER reply).
//!
//! Accepted where setkey fails: options and algorithms in any order; `icmp 8` and
//! `gre 1234` (the manual's own examples); `3des-deriv`; `#` and `;` inside quoted strings
//! in every mode. pfkey extensions, written by `pfkey save` when a state needs them:
//! `-m beet` and `beet` rules, `-f noecn|decap-dscp|nopmtudisc`, `-ph -ps` (packets) and
//! `-uh -us` (seconds after first use).
//!
//! Sent differently (see [`lower`]): both lifetime extensions whenever one is given (af_key
//! refuses one alone), a 0-bit KEY_AUTH for AH `-A null`, `unique`→`require` for every rule
//! of a `fwd` copy. Kept as setkey sends them, although Linux ignores them: SA state 0,
//! flags 0x40 (CYCSEQ) and the KAME flag bits.
//!
//! Reported as warnings, which never stop a script: values Linux changes (replay above
//! 32, reqid above 0x3fff), odd hex digit counts, ports on non-NAT-T SAs, outbound optional
//! tunnel rules (refused by kernels since May 2023), UPDATE of a mature SA, statements
//! after `exit`, algorithms many kernels lack.
// A complete vocabulary of the language: a few items (`check`, `parse_script`, `NoResolver`,
// the DES flag constants, …) serve the tests and future callers, not the executor.
#![allow(dead_code)]
#![forbid(unsafe_code)]

pub mod ast;
mod fast;
pub mod format;
pub mod lexer;
pub mod lower;
pub mod names;
pub mod parser;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::OnceLock;

use zeroize::{Zeroize, Zeroizing};

#[allow(unused_imports)] // the executor's vocabulary
pub use ast::{Command, Span, Statement};
#[allow(unused_imports)] // the executor's vocabulary
pub use lower::{LowerError, LowerOptions, NoResolver, Request, Resolver, SystemResolver};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The statement is wrong and is not executed.
    Error,
    /// The statement is accepted, but probably not what was meant.
    Warning,
}

/// A diagnostic before it is placed in its file (parser output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDiag {
    /// Error or warning.
    pub severity: Severity,
    /// Where.
    pub span: Span,
    /// What.
    pub message: String,
}

/// A message about a place in a script, displayed like a compiler's:
///
/// ```text
/// vpn.conf:12:17: unknown SA option '-x' (expected -m, -r, …)
///    12 | add 10.0.0.1 10.0.0.2 esp 0x1000 -x
///       |                                  ^^
/// ```
///
/// Key material on the shown line is masked with `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file name as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// Byte span in the source.
    pub span: Span,
    /// The source line (keys masked).
    pub source_line: String,
    /// How many characters the caret underlines (at least 1).
    pub width: usize,
}

impl Diagnostic {
    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Places a raw diagnostic in `source`, masking `secrets` on the shown line.
    pub fn new(source: &str, file: &str, raw: RawDiag, secrets: &[Span]) -> Self {
        let start = clamp_boundary(source, raw.span.start);
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line_text = &source[line_start..line_end];
        let masked: String = line_text
            .char_indices()
            .map(|(i, c)| {
                let at = line_start + i;
                if secrets.iter().any(|s| s.start <= at && at < s.end) {
                    '*'
                } else {
                    c
                }
            })
            .collect();
        let (line, column) = line_col(source, start);
        let end = clamp_boundary(source, raw.span.end.max(start)).min(line_end);
        let width = source[start..end.max(start)].chars().count().max(1);
        Diagnostic {
            severity: raw.severity,
            file: file.to_string(),
            line,
            column,
            message: raw.message,
            span: raw.span,
            source_line: masked.trim_end_matches('\r').to_string(),
            width,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        writeln!(
            f,
            "{}:{}:{}: {kind}{}",
            self.file, self.line, self.column, self.message
        )?;
        let num = self.line.to_string();
        let gutter = " ".repeat(num.len());
        writeln!(f, " {num} | {}", self.source_line)?;
        // Reproduce tabs so that the caret lines up under the token.
        let pad: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, " {gutter} | {pad}{}", "^".repeat(self.width))
    }
}

fn clamp_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = clamp_boundary(source, offset);
    let before = &source[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A parsed script: the statements that are valid (all of them, or those the parse was
/// asked to keep), and every diagnostic.
pub struct Script {
    /// The file name used in diagnostics.
    pub file: String,
    /// The valid statements that were kept, in order (a statement with an error is left out).
    pub statements: Vec<Statement>,
    /// Each kept statement's index among the valid statements.
    pub indices: Vec<usize>,
    /// How many statements are valid, kept or not.
    pub count: usize,
    /// Errors and warnings, ordered by position.
    pub diagnostics: Vec<Diagnostic>,
    /// The source, for later diagnostics and for [`Script::statements_again`] (wiped on
    /// drop: it holds keys).
    source: ScriptText,
    /// Where the keys are in `source`, found when a diagnostic first needs them.
    secrets: OnceLock<Vec<Span>>,
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script")
            .field("file", &self.file)
            .field("statements", &self.statements.len())
            .field("diagnostics", &self.diagnostics)
            .finish_non_exhaustive()
    }
}

impl Script {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// A diagnostic about a span of this script (keys masked).
    pub fn diagnostic(&self, severity: Severity, span: Span, message: String) -> Diagnostic {
        Diagnostic::new(
            &self.source,
            &self.file,
            RawDiag {
                severity,
                span,
                message,
            },
            self.secrets(),
        )
    }

    /// Where the key material is, to mask it in diagnostics.
    fn secrets(&self) -> &[Span] {
        self.secrets.get_or_init(|| parser::key_spans(&self.source))
    }

    /// The script's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every valid statement, parsed again one at a time (the parse that made this script
    /// may have kept only some of them).
    pub fn statements_again(&self) -> parser::Statements<'_> {
        parser::Statements::new(&self.source)
    }

    /// The requests of kept statement `index` (resolving names with `resolver`), or a
    /// diagnostic pointing at the host that failed to resolve.
    pub fn lower_statement(
        &self,
        index: usize,
        opts: &LowerOptions,
        resolver: &dyn Resolver,
    ) -> Option<Result<Vec<Request>, Diagnostic>> {
        let stmt = self.statements.get(index)?;
        Some(
            lower::lower(stmt, &self.source, opts, resolver)
                .map_err(|e| self.diagnostic(Severity::Error, e.span, e.message)),
        )
    }

    /// The numbered source lines that `span` touches, key material masked: to show a whole
    /// statement next to an error about it.
    pub fn masked_lines(&self, span: Span) -> Vec<(usize, String)> {
        let src: &str = &self.source;
        let start = clamp_boundary(src, span.start);
        let end = clamp_boundary(src, span.end.max(start));
        let mut line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let mut out = Vec::new();
        loop {
            let raw = RawDiag {
                severity: Severity::Warning,
                span: Span::new(line_start, line_start),
                message: String::new(),
            };
            let d = Diagnostic::new(src, &self.file, raw, self.secrets());
            out.push((d.line, d.source_line));
            match src[line_start..].find('\n') {
                Some(i) if line_start + i + 1 < end => line_start += i + 1,
                _ => return out,
            }
        }
    }

    /// Wipes the source in place, for a script that has run but whose memory is kept: the
    /// keys are gone, the allocation stays (see `cmd::script::Retired`). Nothing of the
    /// script is of use afterwards.
    pub fn wipe_source(&mut self) {
        self.source.wipe();
    }

    /// 1-based line of the `;` that ends `statements[index]` (setkey reports that line). The
    /// index is into the kept statements, not among all of them (see [`Script::indices`]).
    pub fn statement_line(&self, index: usize) -> Option<usize> {
        let s = self.statements.get(index)?;
        Some(line_col(&self.source, s.span.end.saturating_sub(1)).0)
    }
}

/// A script's text, wiped when dropped (it holds keys). `Zeroizing<String>` wipes a string
/// element by element with volatile stores, which under emulation was 2% of checking a
/// script; a byte slice's `zeroize` is one fill behind an optimization barrier. The text is
/// never grown or truncated once read, so the allocation past its length never held any of
/// it.
struct ScriptText(String);

impl std::ops::Deref for ScriptText {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl ScriptText {
    /// Wipes the text in place (it keeps its length, all NUL).
    fn wipe(&mut self) {
        self.0.as_mut_str().zeroize();
    }
}

impl Drop for ScriptText {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// Parses `source` (named `file_name` in diagnostics): every statement and every
/// diagnostic, errors and warnings. No kernel, no privileges, no name resolution.
pub fn parse(source: &str, file_name: &str) -> Script {
    parse_owned(Zeroizing::new(source.to_string()), file_name, |_| true)
}

/// [`parse`] of a source the script takes over (no copy of it is made), keeping only the
/// statements `keep` selects; the others are checked and dropped, and can be parsed again
/// with [`Script::statements_again`].
pub fn parse_owned(source: Zeroizing<String>, file_name: &str, keep: parser::Keep) -> Script {
    let source = ScriptText(source_text(source));
    let parsed = parser::parse_keeping(&source, keep);
    script_from(source, parsed, file_name)
}

/// [`parse_owned`] in one piece, handing each statement that parses to `sink` with the
/// script's text and the statement's index among them, as soon as it is parsed; the
/// statements `sink` gives back are kept (see [`parser::parse_each`]).
pub fn parse_owned_each(
    source: Zeroizing<String>,
    file_name: &str,
    sink: &mut dyn FnMut(&str, usize, Statement) -> Option<Statement>,
) -> Script {
    let source = ScriptText(source_text(source));
    let parsed = parser::parse_each(&source, &mut |i, stmt| sink(&source, i, stmt));
    script_from(source, parsed, file_name)
}

/// The text, taken out of its wrapper without a copy.
fn source_text(mut source: Zeroizing<String>) -> String {
    std::mem::take(&mut *source)
}

/// The script of a parse of `source`, its diagnostics placed and ordered.
fn script_from(source: ScriptText, parsed: parser::Parsed, file_name: &str) -> Script {
    let mut script = Script {
        file: file_name.to_string(),
        statements: parsed.statements,
        indices: parsed.indices,
        count: parsed.count,
        diagnostics: Vec::new(),
        source,
        secrets: OnceLock::new(),
    };
    let mut diagnostics: Vec<Diagnostic> = parsed
        .diags
        .into_iter()
        .map(|d| script.diagnostic(d.severity, d.span, d.message))
        .collect();
    diagnostics.sort_by_key(|d| (d.span.start, d.severity));
    script.diagnostics = diagnostics;
    script
}

/// Parses a script: its statements if there is no error, else every diagnostic (warnings
/// included).
pub fn parse_script(source: &str, file_name: &str) -> Result<Vec<Statement>, Vec<Diagnostic>> {
    let s = parse(source, file_name);
    if s.has_errors() {
        return Err(s.diagnostics);
    }
    Ok(s.statements)
}

/// Checks a script without a kernel: every error and warning, in source order.
pub fn check(source: &str, file_name: &str) -> Vec<Diagnostic> {
    parse(source, file_name).diagnostics
}
