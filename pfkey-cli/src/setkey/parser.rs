//! A recursive-descent parser for the setkey(8) language, written from the specification
//! (setkey(8), and the reference notes §2–§7), not from ipsec-tools' yacc grammar.
//!
//! Grammar (`[]` optional, `{}` repeated, `|` alternatives; every statement ends with `;`):
//!
//! ```text
//! script     = { statement } ;
//! statement  = sa-add | sa-ref | deleteall | getspi | flush | dump
//!            | spd | "spdflush" ";" | "spddump" ";" | ("exit" | "quit" | "bye") ";" | ";"
//! sa-add     = ("add" | "update") addropts sa-end sa-end proto spi { sa-option } ";"
//! sa-ref     = ("get" | "delete") addropts sa-end sa-end proto spi { sa-option } ";"
//! deleteall  = "deleteall" addropts sa-end sa-end proto ";"
//! getspi     = "getspi" addropts sa-end sa-end proto [ spi | spi "-" spi ] { sa-option } ";"
//! flush      = "flush" [ proto ] ";"          dump = "dump" [ proto ] ";"
//! addropts   = { "-4" | "-6" | "-n" }         (also combined: "-4n")
//! sa-end     = host [ "[" port "]" ]
//! proto      = "esp" | "ah" | "ipcomp" | "esp-old" | "ah-old" | "esp-udp" [ host ]
//! sa-option  = "-m" ("transport" | "tunnel" | "any" | "beet") | "-r" n | "-u" n
//!            | "-f" ("zero-pad" | "random-pad" | "seq-pad" | "nocyclic-seq"
//!                    | "noecn" | "decap-dscp" | "nopmtudisc")
//!            | ("-lh" | "-ls" | "-bh" | "-bs" | "-ph" | "-ps" | "-uh" | "-us") n
//!            | "-ctx" n n string
//!            | "-E" ealg [ key ] | "-A" aalg [ key ] | "-C" calg [ "-R" ]
//! key        = hex | string                    (none for the NULL algorithms)
//! spd        = ("spdadd" | "spdupdate" | "spddelete") addropts
//!              range range upper [ misc ] [ "-ctx" n n string ] "-P" policy ";"
//! range      = host [ "/" n ] [ "[" port "]" ]
//! upper      = n | name                        misc = n [ "," n ] | a.b.c.d
//! policy     = dir [ ("prio" | "priority") prio ] [ action { rule } ]
//! dir        = "in" | "out" | "fwd"
//! prio       = [ "-" ] n | ("low" | "def" | "high") [ ("+" | "-") n ]
//! action     = "discard" | "none" | "ipsec" | "entrust" | "bypass"
//! rule       = rproto "/" mode [ "/" [ ends ] [ "/" [ level ] ] ]
//! ends       = addr [ "[" port "]" ] "-" addr [ "[" port "]" ]
//! level      = "default" | "use" | "require" | "unique" [ ":" n ]
//! ```
//!
//! Options and algorithms may come in any order (setkey requires the options first);
//! giving one twice is an error (setkey silently keeps the last). `-m beet`, the `-f` flags
//! that Linux honours, packet and use-time lifetimes (`-ph -ps -uh -us`), `beet` rules and
//! the bare-number ICMP/GRE forms (`icmp 8`, `gre 1234`) are pfkey extensions, so that
//! `pfkey save` can write every state PF_KEY can create.
//!
//! Errors are reported with the span of the offending token; after one, the parser skips
//! to the next `;` (or to a command keyword that starts a line, which catches a missing
//! `;`) and goes on, so one run reports every error.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use pfkey::alg::{self, AlgKind, KeyBits, Usability};
use pfkey::wire::{Direction, Level, Mode, PolicyType, SaType, IPSEC_MANUAL_REQID_MAX};
use zeroize::Zeroizing;

use super::ast::*;
use super::lexer::{Lexer, Token, TokenKind};
use super::names;
use super::{RawDiag, Severity};

/// setkey's default policy priority (`PRIORITY_DEFAULT`, libipsec).
pub const PRIORITY_DEFAULT: u32 = 0x8000_0000;
/// `prio low` (`PRIORITY_LOW`).
pub const PRIORITY_LOW: u32 = 0xC000_0000;
/// `prio high` (`PRIORITY_HIGH`).
pub const PRIORITY_HIGH: u32 = 0x4000_0000;

/// Linux's limit on templates per policy (`XFRM_MAX_DEPTH`; more gives `ELOOP`).
pub const MAX_RULES: usize = 6;

/// The command keywords, for messages and resynchronisation.
pub const COMMANDS: &[&str] = &[
    "add",
    "update",
    "get",
    "delete",
    "deleteall",
    "getspi",
    "flush",
    "dump",
    "spdadd",
    "spdupdate",
    "spddelete",
    "spdflush",
    "spddump",
    "exit",
    "quit",
    "bye",
];

const SA_OPTIONS: &str = "-m, -r, -u, -f, -lh, -ls, -bh, -bs, -E, -A, -C, -ctx";

/// Marker: an error has been reported; the caller recovers.
#[derive(Debug)]
pub struct Fail;

type PResult<T> = Result<T, Fail>;

/// What [`parse`] produces.
pub struct Parsed {
    /// The statements that parsed and that the parse was asked to keep, in order
    /// (statements with errors are left out).
    pub statements: Vec<Statement>,
    /// Each kept statement's index among all the statements that parsed.
    pub indices: Vec<usize>,
    /// How many statements parsed, kept or not.
    pub count: usize,
    /// Errors and warnings, in source order of discovery.
    pub diags: Vec<RawDiag>,
    /// The parse ended at `exit`.
    pub exited: bool,
}

/// Which statements a parse keeps: a statement that is not kept is checked and dropped at
/// once (a caller that needs it later parses it again with [`Statements`]).
pub type Keep = fn(&Statement) -> bool;

/// Parses a whole script, keeping every statement. Never panics.
pub fn parse(src: &str) -> Parsed {
    parse_keeping(src, |_| true)
}

/// Parses a whole script, keeping the statements `keep` selects. Never panics.
///
/// A long script is parsed in chunks on several threads (see [`parse_chunks`]); the result
/// is the same as a parse in one piece, which is what is done whenever a chunk finds
/// anything wrong, so that diagnostics never depend on where the chunks were cut.
pub fn parse_keeping(src: &str, keep: Keep) -> Parsed {
    // Asking how many CPUs there are reads /proc/self/cgroup: only when it matters.
    let threads = if !parsed_in_one_piece(src) {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
    } else {
        1
    };
    if let Some(pieces) = parse_chunks(src, keep, threads) {
        return join(pieces);
    }
    Parser::new(src, 0, src.len()).script(keep)
}

/// A parse in one piece (on the calling thread) that hands each statement that parses to
/// `sink` with its index among them, as soon as it is parsed; the statements `sink` gives
/// back are kept. For a caller that prepares statements while the script is checked.
pub fn parse_each(
    src: &str,
    sink: &mut dyn FnMut(usize, Statement) -> Option<Statement>,
) -> Parsed {
    Parser::new(src, 0, src.len()).script_each(sink)
}

/// Whether [`parse_keeping`] parses `src` in one piece: a script shorter than two chunks.
pub fn parsed_in_one_piece(src: &str) -> bool {
    src.len() < 2 * MIN_CHUNK_BYTES
}

/// [`parse`] in one piece, without the fast path of [`super::fast`], which the tests
/// compare it with.
#[cfg(test)]
pub(super) fn parse_general(src: &str) -> Parsed {
    let mut p = Parser::new(src, 0, src.len());
    p.fast = false;
    p.script(|_| true)
}

/// [`parse`] in one piece, with the fast path.
#[cfg(test)]
pub(super) fn parse_one_piece(src: &str) -> Parsed {
    Parser::new(src, 0, src.len()).script(|_| true)
}

/// At most this many parser threads.
const MAX_THREADS: usize = 8;

/// Bytes per chunk below which a thread costs more than it saves (measured under
/// emulation, where starting and ending a thread costs milliseconds: 1,000 `add`
/// statements, about 150 KB, parsed no faster on two threads).
const MIN_CHUNK_BYTES: usize = 128 * 1024;

/// How far past a chunk's planned end a cut looks for a line that ends with `;`.
const CUT_SEARCH_BYTES: usize = 64 * 1024;

/// Parses `src` in up to `threads` chunks at once, cut just after newlines; the pieces in
/// order, to [`join`]. Statements are independent (the parser keeps no state from one to
/// the next), so chunks parsed apart give the statements and warnings of a parse in one
/// piece, in order, as long as every chunk parses without error and no chunk but the last
/// holds `exit` (which ends the script): a cut inside a statement, a quoted string or a
/// comment leaves an error in the chunk before it (an unterminated statement or string).
/// Otherwise, or if the script is too short to be worth it, `None`: parse it in one piece.
fn parse_chunks(src: &str, keep: Keep, threads: usize) -> Option<Vec<Parsed>> {
    let chunks = threads.min(src.len() / MIN_CHUNK_BYTES);
    if chunks < 2 {
        return None;
    }
    let mut cuts = Vec::with_capacity(chunks + 1);
    cuts.push(0);
    for k in 1..chunks {
        let target = src.len() / chunks * k;
        match cut_after(src, target) {
            Some(at) if cuts.last().is_some_and(|&l| at > l) && at < src.len() => cuts.push(at),
            _ => {}
        }
    }
    cuts.push(src.len());
    let parse = |w: &[usize]| {
        let piece = Parser::new(src, w[0], w[1]).script(keep);
        let clean = piece.diags.iter().all(|d| d.severity != Severity::Error);
        clean.then_some(piece)
    };
    let windows: Vec<&[usize]> = cuts.windows(2).collect();
    let (last, others) = windows.split_last()?;
    let pieces: Vec<Option<Parsed>> = std::thread::scope(|scope| {
        // Every chunk but the last on a thread of its own; the last on this one.
        let handles: Vec<_> = others
            .iter()
            .map(|w| scope.spawn(move || parse(w)))
            .collect();
        let last = parse(last);
        let mut pieces: Vec<Option<Parsed>> = handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect();
        pieces.push(last);
        pieces
    });
    let pieces: Vec<Parsed> = pieces.into_iter().collect::<Option<_>>()?;
    // A chunk that ended at `exit` stopped before its end: the chunks after it must not run.
    let last = pieces.len().saturating_sub(1);
    let early_exit = pieces.iter().take(last).any(|p| p.exited);
    (!early_exit).then_some(pieces)
}

/// Just after the first newline at or after `from` that ends a line whose last token is `;`
/// (within [`CUT_SEARCH_BYTES`]), else just after the first newline.
fn cut_after(src: &str, from: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let rest = bytes.get(from..)?;
    let window = rest.get(..CUT_SEARCH_BYTES).unwrap_or(rest);
    let mut first = None;
    for (n, _) in window.iter().enumerate().filter(|(_, &b)| b == b'\n') {
        let at = from + n;
        first.get_or_insert(at + 1);
        let line_end = bytes[..at].trim_ascii_end();
        if line_end.last() == Some(&b';') {
            return Some(at + 1);
        }
    }
    first.or_else(|| rest.iter().position(|&b| b == b'\n').map(|n| from + n + 1))
}

/// The pieces of a chunked parse as one: the first grows in place and each other is freed
/// once appended; indices are renumbered in script order.
fn join(pieces: Vec<Parsed>) -> Parsed {
    let mut pieces = pieces.into_iter();
    let mut out = pieces.next().unwrap_or_else(Parsed::empty);
    for p in pieces {
        let base = out.count;
        out.statements.extend(p.statements);
        out.indices.extend(p.indices.into_iter().map(|i| base + i));
        out.count += p.count;
        out.diags.extend(p.diags);
        out.exited |= p.exited;
    }
    out
}

impl Parsed {
    fn empty() -> Self {
        Parsed {
            statements: Vec::new(),
            indices: Vec::new(),
            count: 0,
            diags: Vec::new(),
            exited: false,
        }
    }
}

/// The statements of an error-free script, parsed one at a time as they are asked for: what
/// a run executes after [`parse_keeping`] has checked the script without keeping them. On
/// a script with errors, the statements that parse (diagnostics are not kept).
pub struct Statements<'s> {
    parser: Parser<'s>,
}

impl<'s> Statements<'s> {
    /// The statements of `src`, from the first.
    pub fn new(src: &'s str) -> Self {
        Statements {
            parser: Parser::new(src, 0, src.len()),
        }
    }
}

impl Iterator for Statements<'_> {
    type Item = Statement;

    fn next(&mut self) -> Option<Statement> {
        let s = self.parser.next_statement();
        self.parser.diags.clear();
        s
    }
}

/// Where the key material of `src` is, to mask it in the source lines diagnostics show:
/// every token in a key's place, whether or not the parser reached it (see
/// [`key_positions`]). Computed only when a diagnostic is shown, so a script without one
/// is never lexed for it.
pub fn key_spans(src: &str) -> Vec<Span> {
    let (toks, _) = super::lexer::tokenize(src);
    key_positions(src, &toks).collect()
}

/// Every token in a key's place (two after `-E` or `-A`: a quoted string, or a word that is
/// not an option), whether or not the parser reached it. A statement is abandoned at its
/// first error, so keys after that point were never seen as keys; they are masked in
/// diagnostics all the same. (Every key the parser reads is in such a place.)
fn key_positions<'t>(src: &'t str, toks: &'t [Token]) -> impl Iterator<Item = Span> + 't {
    let bytes = src.as_bytes();
    toks.windows(3).filter_map(move |w| {
        // Cheapest tests first: this looks at every token of the script.
        if w[0].kind != TokenKind::Word
            || w[1].kind != TokenKind::Word
            || !matches!(
                bytes.get(w[0].span.start..w[0].span.end),
                Some(b"-E" | b"-A")
            )
        {
            return None;
        }
        let key = w[2];
        let keyish = match key.kind {
            TokenKind::Str => true,
            TokenKind::Word => bytes.get(key.span.start) != Some(&b'-'),
            _ => false,
        };
        keyish.then_some(key.span)
    })
}

/// The SA options (`-f` may repeat; each other one is given at most once).
const SA_OPTION_NAMES: &[&str] = &[
    "-m", "-r", "-u", "-f", "-lh", "-ls", "-bh", "-bs", "-ph", "-ps", "-uh", "-us", "-ctx", "-E",
    "-A", "-C",
];

/// The parser's state. Tokens are pulled from the lexer a statement at a time: the window
/// `toks` holds the tokens up to the next `;` (or the end), and is refilled when the parser
/// has used them all, between statements. Every rule looks at most at the tokens of its own
/// statement, so the window is all it needs; a statement without its `;` runs into the
/// next one's, which stays in the window for the next statement.
struct Parser<'s> {
    src: &'s str,
    lexer: Lexer<'s>,
    toks: Vec<Token>,
    pos: usize,
    diags: Vec<RawDiag>,
    /// `exit` was parsed: there are no more statements.
    done: bool,
    /// Whether statements of the common `add` shape go through [`super::fast`] (off only
    /// in the tests that compare both paths).
    fast: bool,
    /// The fast path's last algorithms.
    last_algs: super::fast::LastAlgs<'s>,
}

/// Which SA options a command takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OptSet {
    /// `add`, `update`: everything.
    Add,
    /// `get`, `delete`: the options setkey accepts (only `-m`/`-u` reach the kernel).
    Ref,
    /// `getspi`: `-m`, `-u`.
    GetSpi,
}

pub(super) fn parse_number(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        return u64::from_str_radix(h, 16).ok();
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A dotted-quad IPv4 address as `Ipv4Addr::from_str` accepts it (four decimal parts of
/// at most three digits, each at most 255, no leading zero), without its general parser:
/// addresses are most of an SA script's words.
fn parse_ipv4(s: &str) -> Result<Ipv4Addr, ()> {
    let b = s.as_bytes();
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, o) in octets.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return Err(());
            }
            i += 1;
        }
        let start = i;
        let mut v = 0u16;
        while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit() && i - start < 3) {
            v = v * 10 + u16::from(d - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || (len > 1 && b.get(start) == Some(&b'0')) {
            return Err(());
        }
        *o = u8::try_from(v).map_err(|_| ())?;
    }
    if i == b.len() {
        Ok(Ipv4Addr::from(octets))
    } else {
        Err(())
    }
}

fn looks_numeric(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'x' || b == b'X')
}

/// Optimal-string-alignment distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate within 2 edits (1 for short words).
fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.len() > 40 {
        return None;
    }
    // At most 2 edits, and fewer than half the word: "-x" is not a typo of "-m".
    let limit = 2.min((word.chars().count().max(1) - 1) / 2 + usize::from(word.len() > 2));
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, _)| *d <= limit && 2 * d < word.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn hint(word: &str, candidates: &[&str]) -> String {
    match did_you_mean(word, candidates) {
        Some(c) => format!("; did you mean '{c}'?"),
        None => String::new(),
    }
}

impl<'s> Parser<'s> {
    /// A parser of `src[start..end]`; `start` is 0 or just after a newline.
    fn new(src: &'s str, start: usize, end: usize) -> Self {
        Parser {
            src,
            lexer: Lexer::new(src, start, end),
            toks: Vec::with_capacity(32),
            pos: 0,
            diags: Vec::new(),
            done: false,
            fast: true,
            last_algs: (None, None),
        }
    }

    /// Once the window's tokens are all used: the next statement's tokens, up to and
    /// including its `;`. Lexical errors become diagnostics. Whether there are any.
    fn refill(&mut self) -> bool {
        if self.pos < self.toks.len() {
            return true;
        }
        self.toks.clear();
        self.pos = 0;
        let mut errors = Vec::new();
        while let Some(t) = self.lexer.next_token(&mut errors) {
            self.toks.push(t);
            if t.kind == TokenKind::Semi {
                break;
            }
        }
        self.diags.extend(errors.into_iter().map(|e| RawDiag {
            severity: Severity::Error,
            span: e.span,
            message: e.message,
        }));
        !self.toks.is_empty()
    }

    // ----------------------------------------------------------------------------------
    // Token access and reporting
    // ----------------------------------------------------------------------------------

    fn peek(&self) -> Option<Token> {
        self.toks.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<Token> {
        self.toks.get(self.pos + n).copied()
    }

    fn text(&self, t: Token) -> &'s str {
        self.src.get(t.span.start..t.span.end).unwrap_or("")
    }

    /// The text of the next token if it is a word.
    fn peek_word(&self) -> Option<&'s str> {
        self.peek()
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| self.text(t))
    }

    fn peek_kind(&self) -> Option<TokenKind> {
        self.peek().map(|t| t.kind)
    }

    fn bump(&mut self) -> Option<Token> {
        let t = self.peek();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    /// Where the previous token ends (for "missing …" at the end of a statement).
    fn prev_end(&self) -> Span {
        match self.pos.checked_sub(1).and_then(|i| self.toks.get(i)) {
            Some(t) => Span::new(t.span.end, t.span.end),
            None => Span::new(0, 0),
        }
    }

    fn error(&mut self, span: Span, message: impl Into<String>) -> Fail {
        self.diags.push(RawDiag {
            severity: Severity::Error,
            span,
            message: message.into(),
        });
        Fail
    }

    fn warn(&mut self, span: Span, message: impl Into<String>) {
        self.diags.push(RawDiag {
            severity: Severity::Warning,
            span,
            message: message.into(),
        });
    }

    /// A token described for a message, without echoing secrets or whole paragraphs.
    fn describe(&self, t: Token) -> String {
        match t.kind {
            TokenKind::Str => "a quoted string".into(),
            TokenKind::Semi => "';'".into(),
            TokenKind::Slash => "'/'".into(),
            TokenKind::LBracket => "'['".into(),
            TokenKind::RBracket => "']'".into(),
            TokenKind::Invalid => "an invalid character".into(),
            TokenKind::Word => {
                let w = self.text(t);
                if (w.starts_with("0x") || w.starts_with("0X")) && w.len() > 12 {
                    "a long hex number".into()
                } else if w.chars().count() > 40 {
                    format!("'{}…'", w.chars().take(40).collect::<String>())
                } else {
                    format!("'{w}'")
                }
            }
        }
    }

    fn is_command_keyword(&self, t: Token) -> bool {
        t.kind == TokenKind::Word && COMMANDS.contains(&self.text(t))
    }

    /// Reports a missing element where the next token is: an unterminated statement at the
    /// end of the file, a missing `;` before a new statement, or a wrong token.
    fn missing(&mut self, what: &str, kw: &str, kw_span: Span) -> Fail {
        match self.peek() {
            None => self.unterminated(kw, kw_span),
            Some(t) if t.kind == TokenKind::Invalid => Fail,
            Some(t) if t.kind == TokenKind::Semi => {
                self.error(t.span, format!("missing {what} before ';'"))
            }
            Some(t) if t.line_start && self.is_command_keyword(t) && t.span.start > kw_span.end => {
                let span = self.prev_end();
                self.error(
                    span,
                    format!(
                        "'{kw}' statement is incomplete: missing {what}, and no ';' before the \
                         '{}' statement on the next line",
                        self.text(t)
                    ),
                )
            }
            Some(t) => {
                let d = self.describe(t);
                self.error(t.span, format!("expected {what}, found {d}"))
            }
        }
    }

    fn unterminated(&mut self, kw: &str, kw_span: Span) -> Fail {
        let (line, col) = super::line_col(self.src, kw_span.start);
        let span = self.prev_end();
        self.error(
            span,
            format!(
                "unterminated statement: the '{kw}' statement at {line}:{col} has no ';' before \
                 the end of the file"
            ),
        )
    }

    /// Consumes a word, or reports `what` as missing.
    fn word(&mut self, what: &str, kw: &str, kw_span: Span) -> PResult<(&'s str, Span)> {
        match self.peek() {
            Some(t) if t.kind == TokenKind::Word => {
                self.pos += 1;
                Ok((self.text(t), t.span))
            }
            _ => Err(self.missing(what, kw, kw_span)),
        }
    }

    /// Expects the `;` that ends a statement; returns its span.
    fn end(&mut self, kw: &str, kw_span: Span) -> PResult<Span> {
        match self.peek() {
            Some(t) if t.kind == TokenKind::Semi => {
                self.pos += 1;
                Ok(t.span)
            }
            None => Err(self.unterminated(kw, kw_span)),
            Some(t) if t.kind == TokenKind::Invalid => Err(Fail),
            Some(t) if t.line_start && self.is_command_keyword(t) => {
                let span = self.prev_end();
                Err(self.error(
                    span,
                    format!(
                        "missing ';' at the end of the '{kw}' statement (the next line starts a \
                         '{}' statement)",
                        self.text(t)
                    ),
                ))
            }
            Some(t) => {
                let d = self.describe(t);
                Err(self.error(
                    t.span,
                    format!("expected ';' to end the '{kw}' statement, found {d}"),
                ))
            }
        }
    }

    /// After an error: skip to just past the next `;`, or to a command keyword starting a
    /// line (a forgotten `;`), whichever comes first.
    fn recover(&mut self, stmt_start: usize) {
        while let Some(t) = self.peek() {
            if t.kind == TokenKind::Semi {
                self.pos += 1;
                return;
            }
            if t.line_start && self.is_command_keyword(t) && self.pos > stmt_start {
                return;
            }
            self.pos += 1;
        }
    }

    // ----------------------------------------------------------------------------------
    // Script and statements
    // ----------------------------------------------------------------------------------

    /// Every statement to the end (or to `exit`), keeping those `keep` selects.
    fn script(self, keep: Keep) -> Parsed {
        self.script_each(&mut |_, stmt| keep(&stmt).then_some(stmt))
    }

    /// The whole script, each statement handed to `sink` (which gives back those to keep).
    fn script_each(
        mut self,
        sink: &mut dyn FnMut(usize, Statement) -> Option<Statement>,
    ) -> Parsed {
        let mut out = Parsed::empty();
        while let Some(stmt) = self.next_statement() {
            if let Some(stmt) = sink(out.count, stmt) {
                out.statements.push(stmt);
                out.indices.push(out.count);
            }
            out.count += 1;
        }
        out.diags = self.diags;
        out.exited = self.done;
        out
    }

    /// The next statement that parses; statements with errors are reported and skipped.
    fn next_statement(&mut self) -> Option<Statement> {
        if self.fast && !self.done && self.pos == self.toks.len() {
            let (at, bytes) = self.lexer.position();
            if let Some((stmt, next)) = super::fast::add(self.src, bytes, at, &mut self.last_algs) {
                self.lexer.resume_after_semi(next);
                return Some(stmt);
            }
        }
        while !self.done && self.refill() {
            let t = self.toks[self.pos];
            let start = self.pos;
            match t.kind {
                TokenKind::Semi => {
                    self.pos += 1;
                    continue;
                }
                TokenKind::Invalid => {
                    self.pos += 1;
                    self.recover(start);
                    continue;
                }
                TokenKind::Word => {}
                _ => {
                    let d = self.describe(t);
                    self.error(t.span, format!("expected a command, found {d}"));
                    self.pos += 1;
                    self.recover(start);
                    continue;
                }
            }
            match self.statement() {
                Ok(stmt) => {
                    if matches!(stmt.command, Command::Exit) {
                        self.done = true;
                        if self.refill() {
                            let next = self.toks[self.pos].span;
                            self.warn(
                                next,
                                "everything after 'exit' is ignored (setkey stops reading here)",
                            );
                        }
                    }
                    return Some(stmt);
                }
                Err(Fail) => self.recover(start),
            }
        }
        None
    }

    fn statement(&mut self) -> PResult<Statement> {
        let Some(kw_tok) = self.bump() else {
            return Err(Fail);
        };
        let kw = self.text(kw_tok);
        let ks = kw_tok.span;
        let command = match kw {
            "add" | "update" => {
                let a = self.sa_add(kw, ks)?;
                if kw == "add" {
                    Command::Add(a)
                } else {
                    Command::Update(a)
                }
            }
            "get" | "delete" => {
                let r = self.sa_ref(kw, ks)?;
                if kw == "get" {
                    Command::Get(r)
                } else {
                    Command::Delete(r)
                }
            }
            "deleteall" => {
                let opts = self.addr_opts(ks)?;
                let src = self.sa_endpoint(opts, "source address", kw, ks)?;
                let dst = self.sa_endpoint(opts, "destination address", kw, ks)?;
                self.same_family(&src.host, &dst.host, "source", "destination")?;
                let proto = self.sa_proto(opts, kw, ks)?;
                Command::DeleteAll(SaPair {
                    opts,
                    src,
                    dst,
                    proto,
                })
            }
            "getspi" => Command::GetSpi(self.getspi(kw, ks)?),
            "flush" | "dump" => {
                let proto = match self.peek() {
                    Some(t)
                        if t.kind == TokenKind::Word
                            && !(t.line_start && self.is_command_keyword(t)) =>
                    {
                        Some(self.sa_proto(AddrOpts::default(), kw, ks)?)
                    }
                    _ => None,
                };
                if kw == "flush" {
                    Command::Flush(proto)
                } else {
                    Command::Dump(proto)
                }
            }
            "spdadd" | "spdupdate" | "spddelete" => {
                let e = self.spd(kw, ks)?;
                match kw {
                    "spdadd" => Command::SpdAdd(e),
                    "spdupdate" => Command::SpdUpdate(e),
                    _ => Command::SpdDelete(e),
                }
            }
            "spdflush" => Command::SpdFlush,
            "spddump" => Command::SpdDump,
            "exit" | "quit" | "bye" => Command::Exit,
            "spdget" | "migrate" | "spdsetidx" => {
                return Err(self.error(
                    ks,
                    format!("'{kw}' is not a setkey command on Linux (setkey 0.8.2 has no '{kw}')"),
                ))
            }
            _ => {
                let h = hint(kw, COMMANDS);
                let d = self.describe(kw_tok);
                return Err(self.error(
                    ks,
                    format!(
                        "unknown command {d} (expected add, update, get, delete, deleteall, \
                         getspi, flush, dump, spdadd, spdupdate, spddelete, spdflush, spddump \
                         or exit){h}"
                    ),
                ));
            }
        };
        let semi = self.end(kw, ks)?;
        Ok(Statement {
            command,
            span: ks.to(semi),
        })
    }

    // ----------------------------------------------------------------------------------
    // Addresses
    // ----------------------------------------------------------------------------------

    fn addr_opts(&mut self, _kw_span: Span) -> PResult<AddrOpts> {
        let mut o = AddrOpts::default();
        let mut v4: Option<Span> = None;
        let mut v6: Option<Span> = None;
        while let Some(w) = self.peek_word() {
            let b = w.as_bytes();
            if b.len() < 2
                || b[0] != b'-'
                || !b[1..].iter().all(|c| matches!(c, b'4' | b'6' | b'n'))
            {
                break;
            }
            let Some(t) = self.bump() else { break };
            for c in &b[1..] {
                match c {
                    b'4' => v4 = Some(t.span),
                    b'6' => v6 = Some(t.span),
                    _ => o.numeric = true,
                }
            }
        }
        match (v4, v6) {
            (Some(a), Some(b)) => {
                return Err(self.error(a.to(b), "-4 and -6 contradict each other: give at most one"))
            }
            (Some(_), None) => o.family = Some(Family::V4),
            (None, Some(_)) => o.family = Some(Family::V6),
            (None, None) => {}
        }
        Ok(o)
    }

    /// Parses a host word: IPv4, IPv6 (with `%scope`), or a name.
    fn host(&mut self, w: &str, span: Span, opts: AddrOpts, what: &str) -> PResult<HostSpec> {
        // IPv4 first: the common case, and digits and dots never contain the ':' of IPv6.
        let host = if let Ok(ip) = parse_ipv4(w) {
            Host::Ip {
                addr: IpAddr::V4(ip),
                scope: None,
            }
        } else if w.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(self.error(span, format!("'{w}' is not a valid IPv4 address")));
        } else if w.contains(':') {
            let (a, scope) = match w.split_once('%') {
                Some((a, s)) => (a, Some(s)),
                None => (w, None),
            };
            match a.parse::<Ipv6Addr>() {
                Ok(ip) => {
                    if let Some(s) = scope {
                        if s.is_empty() {
                            return Err(self.error(
                                span,
                                format!(
                                    "'{w}': nothing after '%' (give an interface or a zone number)"
                                ),
                            ));
                        }
                    }
                    Host::Ip {
                        addr: IpAddr::V6(ip),
                        scope: scope.map(str::to_string),
                    }
                }
                Err(_) => {
                    return Err(self.error(span, format!("'{w}' is not a valid IPv6 address")))
                }
            }
        } else {
            let valid = w
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
                && !w.starts_with(['-', '.']);
            if !valid {
                let t = Token {
                    kind: TokenKind::Word,
                    span,
                    line_start: false,
                };
                let d = self.describe(t);
                return Err(self.error(
                    span,
                    format!("expected {what} (an IPv4 or IPv6 address or a host name), found {d}"),
                ));
            }
            if opts.numeric {
                return Err(self.error(
                    span,
                    format!("-n allows only numeric addresses, but '{w}' is a host name"),
                ));
            }
            Host::Name(w.to_string())
        };
        if let (Host::Ip { addr, .. }, Some(f)) = (&host, opts.family) {
            if Family::of(addr) != f {
                let flag = if f == Family::V4 { "-4" } else { "-6" };
                return Err(self.error(
                    span,
                    format!(
                        "'{w}' is an {} address, but {flag} restricts this statement to {}",
                        Family::of(addr).name(),
                        f.name()
                    ),
                ));
            }
        }
        Ok(HostSpec { host, span })
    }

    /// `[PORT]` if present.
    fn opt_port(&mut self, kw: &str, ks: Span) -> PResult<Option<u16>> {
        if self.peek_kind() != Some(TokenKind::LBracket) {
            return Ok(None);
        }
        self.pos += 1;
        let (w, span) = self.word("a port number, 'any' or a service name", kw, ks)?;
        let port = if w == "any" {
            0
        } else if let Some(n) = parse_number(w) {
            match u16::try_from(n) {
                Ok(p) => p,
                Err(_) => {
                    return Err(self.error(span, format!("port {w} is out of range (0 to 65535)")))
                }
            }
        } else if let Some(p) = names::service_by_name(w) {
            p
        } else {
            return Err(self.error(
                span,
                format!("unknown service '{w}' (give a port number, 'any', or a name from /etc/services)"),
            ));
        };
        match self.peek_kind() {
            Some(TokenKind::RBracket) => {
                self.pos += 1;
                Ok(Some(port))
            }
            _ => Err(self.missing("']' after the port", kw, ks)),
        }
    }

    fn sa_endpoint(
        &mut self,
        opts: AddrOpts,
        what: &str,
        kw: &str,
        ks: Span,
    ) -> PResult<SaEndpoint> {
        let (w, span) = self.word(what, kw, ks)?;
        if w.starts_with('-') {
            return Err(self.error(span, format!("expected {what}, found option '{w}'")));
        }
        let host = self.host(w, span, opts, what)?;
        if self.peek_kind() == Some(TokenKind::Slash) {
            let slash = self.peek().map(|t| t.span).unwrap_or(span);
            let end = self.peek_at(1).map(|t| t.span).unwrap_or(slash);
            return Err(self.error(
                slash.to(end),
                format!("an SA endpoint is one host: remove the prefix after '{w}'"),
            ));
        }
        let port = self.opt_port(kw, ks)?;
        Ok(SaEndpoint { host, port })
    }

    fn same_family(&mut self, a: &HostSpec, b: &HostSpec, an: &str, bn: &str) -> PResult<()> {
        if let (Some(x), Some(y)) = (a.ip(), b.ip()) {
            if x.is_ipv4() != y.is_ipv4() {
                return Err(self.error(
                    b.span,
                    format!(
                        "mixed address families: the {an} {x} is {} but the {bn} {y} is {}; both \
                         must be of one family",
                        Family::of(&x).name(),
                        Family::of(&y).name()
                    ),
                ));
            }
        }
        Ok(())
    }

    // ----------------------------------------------------------------------------------
    // SA statements
    // ----------------------------------------------------------------------------------

    fn sa_proto(&mut self, opts: AddrOpts, kw: &str, ks: Span) -> PResult<SaProto> {
        let (w, span) = self.word("a protocol (esp, ah or ipcomp)", kw, ks)?;
        Ok(match w {
            "esp" => SaProto::Esp,
            "ah" => SaProto::Ah,
            "ipcomp" => SaProto::IpComp,
            "esp-old" => SaProto::EspOld,
            "ah-old" => SaProto::AhOld,
            "esp-udp" => {
                // An optional NAT-OA address precedes the SPI; an SPI is always numeric.
                let oa = match self.peek() {
                    Some(t)
                        if t.kind == TokenKind::Word
                            && (kw == "add" || kw == "update")
                            && !looks_numeric(self.text(t))
                            && !self.text(t).starts_with('-') =>
                    {
                        self.pos += 1;
                        let w = self.text(t);
                        Some(self.host(w, t.span, opts, "the NAT-OA address")?)
                    }
                    _ => None,
                };
                SaProto::EspUdp { oa }
            }
            "tcp" => {
                return Err(self.error(
                    span,
                    "'tcp' (TCP-MD5 signature SAs) is a BSD feature: Linux has no such SA type",
                ))
            }
            _ => {
                let h = hint(w, &["esp", "ah", "ipcomp", "esp-old", "ah-old", "esp-udp"]);
                return Err(self.error(
                    span,
                    format!(
                        "unknown protocol '{w}' (expected esp, ah, ipcomp, esp-old, ah-old or \
                         esp-udp){h}"
                    ),
                ));
            }
        })
    }

    fn spi(&mut self, proto: &SaProto, kw: &str, ks: Span) -> PResult<u32> {
        let (w, span) = self.word("an SPI", kw, ks)?;
        self.spi_value(w, span, proto)
    }

    fn spi_value(&mut self, w: &str, span: Span, proto: &SaProto) -> PResult<u32> {
        let Some(v) = parse_number(w) else {
            return Err(self.error(
                span,
                format!("expected an SPI (a decimal or 0x-hex number), found '{w}'"),
            ));
        };
        if v == 0 {
            return Err(self.error(span, "SPI 0 is reserved (RFC 4303 §2.1)"));
        }
        if *proto == SaProto::IpComp && v > 0xffff {
            return Err(self.error(
                span,
                format!("CPI {w} is out of range: an IPComp CPI is 16 bits (at most 0xffff)"),
            ));
        }
        u32::try_from(v).map_err(|_| {
            self.error(
                span,
                format!(
                    "SPI {w} does not fit in 32 bits (setkey would silently send {:#x})",
                    v as u32
                ),
            )
        })
    }

    fn sa_head(
        &mut self,
        kw: &str,
        ks: Span,
    ) -> PResult<(AddrOpts, SaEndpoint, SaEndpoint, SaProto)> {
        let opts = self.addr_opts(ks)?;
        let src = self.sa_endpoint(opts, "the source address", kw, ks)?;
        let dst = self.sa_endpoint(opts, "the destination address", kw, ks)?;
        self.same_family(&src.host, &dst.host, "source", "destination")?;
        let proto = self.sa_proto(opts, kw, ks)?;
        Ok((opts, src, dst, proto))
    }

    fn sa_add(&mut self, kw: &str, ks: Span) -> PResult<SaAdd> {
        let (opts, src, dst, proto) = self.sa_head(kw, ks)?;
        let spi_tok = self.peek().map(|t| t.span).unwrap_or(ks);
        let spi = self.spi(&proto, kw, ks)?;
        let (sa, algs) = self.sa_options(OptSet::Add, &proto, kw, ks)?;
        self.check_sa(&proto, &algs, spi_tok)?;
        self.check_ports(&proto, &src, &dst);
        if kw == "update" {
            self.warn(
                ks,
                "on an SA that is already mature, Linux's UPDATE keeps the keys and algorithms \
                 and changes only lifetimes and NAT-T ports; the keys given here apply only to \
                 a larval SA (from getspi)",
            );
        }
        Ok(SaAdd {
            opts,
            src,
            dst,
            proto,
            spi,
            sa,
            algs,
        })
    }

    fn sa_ref(&mut self, kw: &str, ks: Span) -> PResult<SaRef> {
        let (opts, src, dst, proto) = self.sa_head(kw, ks)?;
        let spi = self.spi(&proto, kw, ks)?;
        let (sa, _) = self.sa_options(OptSet::Ref, &proto, kw, ks)?;
        Ok(SaRef {
            opts,
            src,
            dst,
            proto,
            spi,
            sa,
        })
    }

    fn getspi(&mut self, kw: &str, ks: Span) -> PResult<GetSpi> {
        let (opts, src, dst, proto) = self.sa_head(kw, ks)?;
        let range = match self.peek() {
            Some(t) if t.kind == TokenKind::Word && !self.text(t).starts_with('-') => {
                self.pos += 1;
                let w = self.text(t);
                let (lo, hi) = match w.split_once('-') {
                    Some((a, b)) => (a, b),
                    None => (w, w),
                };
                let lo = self.spi_value(lo, t.span, &proto)?;
                let hi = self.spi_value(hi, t.span, &proto)?;
                if lo > hi {
                    return Err(self.error(
                        t.span,
                        format!("SPI range '{w}' is empty: its minimum is above its maximum"),
                    ));
                }
                Some((lo, hi))
            }
            _ => None,
        };
        let (sa, _) = self.sa_options(OptSet::GetSpi, &proto, kw, ks)?;
        Ok(GetSpi {
            opts,
            src,
            dst,
            proto,
            range,
            sa,
        })
    }

    /// A number option's value.
    fn number(&mut self, opt: &str, max: u64, unit: &str, kw: &str, ks: Span) -> PResult<u64> {
        let (w, span) = self.word(&format!("a number after {opt}"), kw, ks)?;
        match parse_number(w) {
            Some(v) if v <= max => Ok(v),
            Some(_) => Err(self.error(
                span,
                format!("{opt} {w} is out of range (at most {max} {unit})"),
            )),
            None => Err(self.error(span, format!("{opt} takes a number of {unit}, not '{w}'"))),
        }
    }

    fn sec_ctx(&mut self, kw: &str, ks: Span) -> PResult<SecCtx> {
        let field = |p: &mut Self, name: &str| -> PResult<u8> {
            let (w, span) = p.word(
                &format!("the {name} after -ctx (-ctx DOI ALG \"LABEL\")"),
                kw,
                ks,
            )?;
            match parse_number(w).and_then(|v| u8::try_from(v).ok()) {
                Some(v) => Ok(v),
                None => Err(p.error(
                    span,
                    format!(
                        "-ctx takes DOI ALG \"LABEL\": the {name} is a number from 0 to 255, not \
                         '{w}'"
                    ),
                )),
            }
        };
        let doi = field(self, "DOI")?;
        let alg = field(self, "algorithm")?;
        match self.peek() {
            Some(t) if t.kind == TokenKind::Str => {
                self.pos += 1;
                let label = self.src.as_bytes()[t.span.start + 1..t.span.end - 1].to_vec();
                if label.len() + 1 > 4096 {
                    return Err(self.error(
                        t.span,
                        "security context longer than 4095 bytes (Linux allows one page)",
                    ));
                }
                Ok(SecCtx { doi, alg, label })
            }
            _ => Err(self.missing("a quoted security context label after -ctx DOI ALG", kw, ks)),
        }
    }

    fn sa_options(
        &mut self,
        set: OptSet,
        proto: &SaProto,
        kw: &str,
        ks: Span,
    ) -> PResult<(SaOptions, Algorithms)> {
        let mut o = SaOptions::default();
        let mut algs = Algorithms::default();
        // Bit i: SA_OPTION_NAMES[i] was given.
        let mut seen: u32 = 0;
        loop {
            let Some(t) = self.peek() else {
                return Err(self.unterminated(kw, ks));
            };
            match t.kind {
                TokenKind::Semi => break,
                TokenKind::Invalid => return Err(Fail),
                TokenKind::Word if self.text(t).starts_with('-') => {}
                TokenKind::Word if t.line_start && self.is_command_keyword(t) => break,
                _ => {
                    let d = self.describe(t);
                    return Err(self.error(
                        t.span,
                        format!("unexpected {d} in '{kw}' (expected an SA option such as -m or -E, or ';')"),
                    ));
                }
            }
            self.pos += 1;
            let opt = self.text(t);
            let known = SA_OPTION_NAMES;
            let Some(index) = known.iter().position(|k| *k == opt) else {
                if opt == "-R" {
                    return Err(self.error(t.span, "-R only follows -C ALG (raw CPI for IPComp)"));
                }
                if opt == "-P" {
                    return Err(self.error(
                        t.span,
                        format!("-P (a policy) belongs to spdadd, not to '{kw}'"),
                    ));
                }
                let h = hint(opt, known);
                return Err(self.error(
                    t.span,
                    format!("unknown SA option '{opt}' (expected {SA_OPTIONS}){h}"),
                ));
            };
            let allowed = match set {
                OptSet::Add => true,
                OptSet::Ref => !matches!(opt, "-E" | "-A" | "-C"),
                OptSet::GetSpi => matches!(opt, "-m" | "-u"),
            };
            if !allowed {
                let what = match set {
                    OptSet::Ref => "only add and update take algorithms and keys",
                    _ => "getspi takes only -m and -u",
                };
                return Err(self.error(t.span, format!("{opt} has no meaning for '{kw}': {what}")));
            }
            if opt != "-f" {
                let bit = 1 << index;
                if seen & bit != 0 {
                    return Err(self.error(t.span, format!("{opt} is given twice")));
                }
                seen |= bit;
            }
            if set == OptSet::Ref && !matches!(opt, "-m" | "-u") {
                self.warn(
                    t.span,
                    format!("{opt} has no effect on '{kw}' (only -m and -u are sent, and Linux ignores them)"),
                );
            }
            match opt {
                "-m" => {
                    let (w, span) = self.word("a mode after -m", kw, ks)?;
                    o.mode = Some(match w {
                        "transport" => Mode::Transport,
                        "tunnel" => Mode::Tunnel,
                        "any" => Mode::Any,
                        "beet" => Mode::Beet,
                        _ => {
                            let h = hint(w, &["transport", "tunnel", "any"]);
                            return Err(self.error(
                                span,
                                format!(
                                    "unknown mode '{w}' (expected transport, tunnel or any){h}"
                                ),
                            ));
                        }
                    });
                }
                "-r" => {
                    let span = self.peek().map(|t| t.span).unwrap_or(t.span);
                    let v = self.number("-r", 255, "packets", kw, ks)?;
                    if proto.is_old() {
                        return Err(self.error(
                            t.span,
                            format!(
                                "{} SAs have no replay protection: -r is not allowed",
                                proto.keyword()
                            ),
                        ));
                    }
                    if v > 32 {
                        self.warn(
                            span,
                            format!("Linux caps the replay window at 32 packets; {v} becomes 32"),
                        );
                    }
                    o.replay = Some(v as u8);
                }
                "-u" => {
                    o.reqid = Some(self.number("-u", u32::MAX.into(), "(a reqid)", kw, ks)? as u32)
                }
                "-f" => {
                    let (w, span) = self.word("a flag after -f", kw, ks)?;
                    let f = &mut o.flags;
                    match w {
                        "zero-pad" => f.zero_pad = true,
                        "random-pad" => f.random_pad = true,
                        "seq-pad" => f.seq_pad = true,
                        "nocyclic-seq" => f.nocyclic_seq = true,
                        "noecn" => f.noecn = true,
                        "decap-dscp" => f.decap_dscp = true,
                        "nopmtudisc" => f.nopmtudisc = true,
                        _ => {
                            let all = [
                                "zero-pad",
                                "random-pad",
                                "seq-pad",
                                "nocyclic-seq",
                                "noecn",
                                "decap-dscp",
                                "nopmtudisc",
                            ];
                            let h = hint(w, &all);
                            return Err(self.error(
                                span,
                                format!(
                                    "unknown -f flag '{w}' (expected zero-pad, random-pad, \
                                     seq-pad, nocyclic-seq, or the Linux flags noecn, \
                                     decap-dscp, nopmtudisc){h}"
                                ),
                            ));
                        }
                    }
                }
                "-lh" => o.hard.addtime = Some(self.number(opt, u64::MAX, "seconds", kw, ks)?),
                "-ls" => o.soft.addtime = Some(self.number(opt, u64::MAX, "seconds", kw, ks)?),
                "-bh" => o.hard.bytes = Some(self.number(opt, u64::MAX, "bytes", kw, ks)?),
                "-bs" => o.soft.bytes = Some(self.number(opt, u64::MAX, "bytes", kw, ks)?),
                "-ph" => {
                    o.hard.packets =
                        Some(self.number(opt, u32::MAX.into(), "packets", kw, ks)? as u32)
                }
                "-ps" => {
                    o.soft.packets =
                        Some(self.number(opt, u32::MAX.into(), "packets", kw, ks)? as u32)
                }
                "-uh" => o.hard.usetime = Some(self.number(opt, u64::MAX, "seconds", kw, ks)?),
                "-us" => o.soft.usetime = Some(self.number(opt, u64::MAX, "seconds", kw, ks)?),
                "-ctx" => o.sec_ctx = Some(self.sec_ctx(kw, ks)?),
                "-E" => algs.enc = Some(self.keyed_alg(AlgKind::Encrypt, opt, kw, ks)?),
                "-A" => algs.auth = Some(self.keyed_alg(AlgKind::Auth, opt, kw, ks)?),
                "-C" => {
                    let (w, span) = self.word("a compression algorithm after -C", kw, ks)?;
                    let alg = self.resolve_alg(AlgKind::Compress, w, span)?;
                    let raw_cpi = if self.peek_word() == Some("-R") {
                        self.pos += 1;
                        true
                    } else {
                        false
                    };
                    algs.comp = Some(CompAlg { alg, raw_cpi });
                }
                // Every other spelling was refused above.
                _ => {}
            }
        }
        Ok((o, algs))
    }

    /// Resolves an algorithm name, refusing what Linux PF_KEY cannot install.
    fn resolve_alg(
        &mut self,
        kind: AlgKind,
        name: &str,
        span: Span,
    ) -> PResult<&'static alg::Algorithm> {
        if let Some(a) = alg::lookup(kind, name) {
            match a.usability {
                Usability::Usable => {}
                Usability::NotBuilt => {
                    self.warn(span, format!("{}: {}", a.name, a.usability.reason()))
                }
                Usability::Aead | Usability::NoImplementation => {
                    return Err(self.error(
                        span,
                        format!(
                            "{kind} algorithm '{name}' cannot be used through Linux PF_KEY: {}",
                            a.usability.reason()
                        ),
                    ))
                }
            }
            return Ok(a);
        }
        if let Some(h) = alg::unsupported_hint(kind, name) {
            return Err(self.error(span, format!("{kind} algorithm '{name}': {h}")));
        }
        let other: Vec<String> = alg::lookup_any(name)
            .iter()
            .filter(|a| a.kind != kind)
            .map(|a| {
                let opt = match a.kind {
                    AlgKind::Auth => "-A",
                    AlgKind::Encrypt => "-E",
                    AlgKind::Compress => "-C",
                };
                format!("'{}' is an {} algorithm (use {opt})", a.name, a.kind)
            })
            .collect();
        if let Some(o) = other.first() {
            return Err(self.error(span, format!("not an {kind} algorithm: {o}")));
        }
        let mut msg = format!("unknown {kind} algorithm '{name}'");
        if let Some(s) = alg::suggest(kind, name) {
            msg.push_str(&format!("; did you mean '{s}'?"));
        }
        Err(self.error(span, msg))
    }

    fn keyed_alg(&mut self, kind: AlgKind, opt: &str, kw: &str, ks: Span) -> PResult<KeyedAlg> {
        let what = if kind == AlgKind::Encrypt {
            "an encryption algorithm after -E"
        } else {
            "an authentication algorithm after -A"
        };
        let (name, span) = self.word(what, kw, ks)?;
        let mut extra_flags = 0;
        let alg = match (kind, name) {
            (AlgKind::Encrypt, "des-deriv" | "des-32iv" | "3des-deriv") => {
                // KAME variants: the plain cipher plus an SA flag (DERIV 0x20, IV4B 0x10).
                extra_flags = if name == "des-32iv" { 0x10 } else { 0x20 };
                let base = if name == "3des-deriv" {
                    "3des-cbc"
                } else {
                    "des-cbc"
                };
                self.warn(
                    span,
                    format!(
                        "Linux ignores the flag that distinguishes {name}: this SA is plain {base}"
                    ),
                );
                self.resolve_alg(kind, base, span)?
            }
            (AlgKind::Encrypt, "simple") => {
                self.warn(
                    span,
                    "'simple' is an obsolete name for the null encryption algorithm",
                );
                self.resolve_alg(kind, "null", span)?
            }
            _ => self.resolve_alg(kind, name, span)?,
        };
        if alg.key_bits == KeyBits::None {
            // NULL algorithms take no key token (setkey's grammar).
            if let Some(t) = self.peek() {
                let is_key = t.kind == TokenKind::Str
                    || (t.kind == TokenKind::Word && {
                        let w = self.text(t);
                        w.starts_with("0x") || w.starts_with("0X")
                    });
                if is_key {
                    return Err(self.error(
                        t.span,
                        format!("{} takes no key: remove the key after '{name}'", alg.name),
                    ));
                }
            }
            return Ok(KeyedAlg {
                alg,
                extra_flags,
                key: None,
                span,
            });
        }
        let key = self.key(alg, opt, kw, ks)?;
        Ok(KeyedAlg {
            alg,
            extra_flags,
            key: Some(key),
            span,
        })
    }

    /// A key: `0x…` hex (odd digit counts get a leading zero nibble, as setkey does) or a
    /// quoted string (its raw bytes); checked against the algorithm's sizes, and left in
    /// the source (see [`KeyText`]).
    fn key(&mut self, alg: &alg::Algorithm, opt: &str, kw: &str, ks: Span) -> PResult<KeyText> {
        // Formatted only when a message needs it.
        let sizes = &alg.key_bits;
        let Some(t) = self.peek() else {
            return Err(self.unterminated(kw, ks));
        };
        let (form, len) = match t.kind {
            TokenKind::Str => {
                self.pos += 1;
                (
                    KeyForm::Quoted,
                    (t.span.end - t.span.start).saturating_sub(2),
                )
            }
            TokenKind::Word => {
                let w = self.text(t);
                if w == REDACTED_KEY {
                    self.pos += 1;
                    return Err(self.error(
                        t.span,
                        format!(
                            "the {} key was removed by 'pfkey save --redact': put the real key \
                             here",
                            alg.name
                        ),
                    ));
                }
                let Some(hex) = w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) else {
                    if w.starts_with('-') || (t.line_start && self.is_command_keyword(t)) {
                        return Err(self.missing(
                            &format!("the {} key ({sizes}) after '{opt} {}'", alg.name, alg.name),
                            kw,
                            ks,
                        ));
                    }
                    self.pos += 1;
                    return Err(self.error(
                        t.span,
                        format!(
                            "expected the {} key: 0x-prefixed hex or a \"quoted string\" ({sizes})",
                            alg.name
                        ),
                    ));
                };
                self.pos += 1;
                if hex.is_empty() {
                    return Err(self.error(t.span, "'0x' needs hex digits after it"));
                }
                if let Some(i) = first_non_hex(hex) {
                    let at = t.span.start + 2 + i;
                    return Err(self.error(
                        Span::new(at, at + 1),
                        "not a hex digit: a 0x key takes only 0-9 and a-f",
                    ));
                }
                if hex.len() % 2 == 1 {
                    self.warn(
                        t.span,
                        format!(
                            "odd number of hex digits ({}): a zero nibble is put in front, as \
                             setkey does",
                            hex.len()
                        ),
                    );
                }
                (KeyForm::Hex, hex.len().div_ceil(2))
            }
            TokenKind::Invalid => return Err(Fail),
            _ => return Err(self.missing(&format!("the {} key ({sizes})", alg.name), kw, ks)),
        };
        let bits = len as u64 * 8;
        if let Err(e) = alg.check_key_bits(u32::try_from(bits).unwrap_or(u32::MAX)) {
            return Err(self.error(t.span, format!("invalid key length: {e}")));
        }
        if bits > u64::from(u16::MAX) {
            return Err(self.error(t.span, "key too long for PF_KEY (at most 8191 bytes)"));
        }
        Ok(KeyText { span: t.span, form })
    }

    fn check_sa(&mut self, proto: &SaProto, algs: &Algorithms, at: Span) -> PResult<()> {
        let p = proto.keyword();
        match proto.satype() {
            SaType::Esp => {
                if algs.comp.is_some() {
                    return Err(self.error(at, format!("{p} SAs take -E and -A; -C is for ipcomp")));
                }
                let Some(enc) = &algs.enc else {
                    return Err(self.error(
                        at,
                        format!("{p} needs -E ALGORITHM KEY (use -E null for authentication only)"),
                    ));
                };
                if enc.extra_flags == 0x10 && *proto != SaProto::EspOld {
                    return Err(self.error(enc.span, "des-32iv needs esp-old"));
                }
                if enc.extra_flags == 0x20 && *proto == SaProto::EspOld {
                    return Err(
                        self.error(enc.span, "the -deriv variants cannot be used with esp-old")
                    );
                }
            }
            SaType::Ah => {
                if algs.enc.is_some() || algs.comp.is_some() {
                    return Err(self.error(
                        at,
                        format!("{p} SAs only authenticate: give -A, not -E or -C"),
                    ));
                }
                if algs.auth.is_none() {
                    return Err(self.error(at, format!("{p} needs -A ALGORITHM KEY")));
                }
            }
            _ => {
                if algs.enc.is_some() || algs.auth.is_some() {
                    return Err(self.error(at, "ipcomp SAs take -C ALGORITHM, not -E or -A"));
                }
                if algs.comp.is_none() {
                    return Err(self.error(at, "ipcomp needs -C ALGORITHM (e.g. -C deflate)"));
                }
            }
        }
        Ok(())
    }

    fn check_ports(&mut self, proto: &SaProto, src: &SaEndpoint, dst: &SaEndpoint) {
        if matches!(proto, SaProto::EspUdp { .. }) {
            return;
        }
        for e in [src, dst] {
            if e.port.is_some_and(|p| p != 0) {
                self.warn(
                    e.host.span,
                    format!(
                        "the port is ignored: only esp-udp SAs use ports ({} SA)",
                        proto.keyword()
                    ),
                );
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Policies
    // ----------------------------------------------------------------------------------

    fn selector(&mut self, opts: AddrOpts, what: &str, kw: &str, ks: Span) -> PResult<Selector> {
        let (w, span) = self.word(what, kw, ks)?;
        if w.starts_with('-') {
            return Err(self.error(span, format!("expected {what}, found option '{w}'")));
        }
        let host = self.host(w, span, opts, what)?;
        let prefix = if self.peek_kind() == Some(TokenKind::Slash) {
            self.pos += 1;
            let (p, pspan) = self.word("a prefix length after '/'", kw, ks)?;
            let max = match host.ip() {
                Some(ip) => Family::of(&ip).bits(),
                None => 128,
            };
            match parse_number(p).filter(|_| p.bytes().all(|b| b.is_ascii_digit())) {
                Some(n) if n <= u64::from(max) => Some(n as u8),
                Some(_) => {
                    let fam = host.ip().map(|ip| Family::of(&ip).name()).unwrap_or("an");
                    return Err(self.error(
                        pspan,
                        format!("prefix /{p} is too long for an {fam} address (at most /{max})"),
                    ));
                }
                None => {
                    return Err(self.error(
                        pspan,
                        format!("'{p}' is not a prefix length (a number of bits, like /24)"),
                    ))
                }
            }
        } else {
            None
        };
        let port = self.opt_port(kw, ks)?;
        Ok(Selector { host, prefix, port })
    }

    fn upper(&mut self, kw: &str, ks: Span) -> PResult<(Upper, Span)> {
        let (w, span) = self.word(
            "an upper-layer protocol (a number, any, tcp, udp, icmp, …)",
            kw,
            ks,
        )?;
        if w.starts_with('-') {
            return Err(self.error(
                span,
                format!("missing upper-layer protocol before '{w}' (use 'any' for all traffic)"),
            ));
        }
        let proto =
            if let Some(n) = parse_number(w).filter(|_| w.bytes().all(|b| b.is_ascii_digit())) {
                match u8::try_from(n) {
                    Ok(p) => p,
                    Err(_) => {
                        return Err(self.error(
                            span,
                            format!("upper-layer protocol {w} is out of range (0 to 255)"),
                        ))
                    }
                }
            } else if let Some(p) = names::protocol_by_name(w) {
                p
            } else {
                let h = hint(
                    w,
                    &[
                        "any", "tcp", "udp", "icmp", "icmp6", "gre", "sctp", "esp", "ah",
                    ],
                );
                return Err(self.error(
                    span,
                    format!(
                        "unknown upper-layer protocol '{w}' (a number, any, or a name from \
                     /etc/protocols such as tcp, udp, icmp or icmp6){h}"
                    ),
                ));
            };
        let mut misc = None;
        if let Some(t) = self.peek() {
            let mw = self.text(t);
            if t.kind == TokenKind::Word
                && !mw.starts_with('-')
                && !(t.line_start && self.is_command_keyword(t))
            {
                self.pos += 1;
                misc = Some(self.upper_misc(proto, w, mw, t.span)?);
            }
        }
        Ok((Upper { proto, misc }, span))
    }

    fn upper_misc(&mut self, proto: u8, pname: &str, w: &str, span: Span) -> PResult<UpperMisc> {
        if names::has_type_code(proto) {
            let (t, c) = match w.split_once(',') {
                Some((t, c)) => (t, Some(c)),
                None => (w, None),
            };
            let num = |s: &str| parse_number(s).filter(|&v| v <= 255).map(|v| v as u16);
            return match (num(t), c.map(num)) {
                (Some(typ), None) => Ok(UpperMisc::TypeCode { typ, code: None }),
                (Some(typ), Some(Some(code))) => Ok(UpperMisc::TypeCode {
                    typ,
                    code: Some(code),
                }),
                _ => Err(self.error(
                    span,
                    format!("'{w}' is not a {pname} TYPE,CODE pair (two numbers from 0 to 255, like 8,0)"),
                )),
            };
        }
        if proto == names::IPPROTO_GRE {
            if let Ok(a) = w.parse::<Ipv4Addr>() {
                return Ok(UpperMisc::GreKey(u32::from(a)));
            }
            return match parse_number(w).and_then(|v| u32::try_from(v).ok()) {
                Some(k) => Ok(UpperMisc::GreKey(k)),
                None => Err(self.error(
                    span,
                    format!("'{w}' is not a GRE key (a 32-bit number, or a.b.c.d)"),
                )),
            };
        }
        Err(self.error(
            span,
            format!(
                "unexpected '{w}' after the upper-layer protocol {pname}: only icmp, icmp6 and \
                 mobility-header take TYPE,CODE and only gre takes a key"
            ),
        ))
    }

    fn spd(&mut self, kw: &str, ks: Span) -> PResult<SpdEntry> {
        let opts = self.addr_opts(ks)?;
        if self.peek_word() == Some("tagged") {
            let span = self.peek().map(|t| t.span).unwrap_or(ks);
            return Err(self.error(
                span,
                "'tagged' policies match PF packet tags, a BSD feature: Linux has no policy tag \
                 extension",
            ));
        }
        let src = self.selector(opts, "the source address range", kw, ks)?;
        let dst = self.selector(opts, "the destination address range", kw, ks)?;
        self.same_family(&src.host, &dst.host, "source", "destination")?;
        let (upper, uspan) = self.upper(kw, ks)?;
        if upper.misc.is_some() && (src.port.is_some() || dst.port.is_some()) {
            return Err(self.error(
                uspan,
                "give either ports or the ICMP type/GRE key, not both: they share the port fields",
            ));
        }
        let mut sec_ctx = None;
        loop {
            let Some(t) = self.peek() else {
                return Err(self.unterminated(kw, ks));
            };
            match (t.kind, self.text(t)) {
                (TokenKind::Word, "-ctx") => {
                    self.pos += 1;
                    if sec_ctx.is_some() {
                        return Err(self.error(t.span, "-ctx is given twice"));
                    }
                    sec_ctx = Some(self.sec_ctx(kw, ks)?);
                }
                (TokenKind::Word, "-P") => {
                    self.pos += 1;
                    let policy = self.policy(kw, ks, t.span)?;
                    return Ok(SpdEntry {
                        opts,
                        src,
                        dst,
                        upper,
                        sec_ctx,
                        policy,
                    });
                }
                (TokenKind::Semi, _) => {
                    return Err(self.error(
                        t.span,
                        format!(
                            "missing policy: '{kw}' needs -P DIRECTION ACTION before ';' (e.g. \
                             -P out ipsec esp/transport//require)"
                        ),
                    ))
                }
                (TokenKind::Invalid, _) => return Err(Fail),
                (TokenKind::Word, w) if t.line_start && self.is_command_keyword(t) => {
                    let span = self.prev_end();
                    return Err(self.error(
                        span,
                        format!(
                            "missing policy and ';': '{kw}' needs -P DIRECTION ACTION, and the \
                             next line starts a '{w}' statement"
                        ),
                    ));
                }
                (TokenKind::Word, w @ ("in" | "out" | "fwd" | "ipsec" | "none" | "discard")) => {
                    return Err(self.error(
                        t.span,
                        format!(
                            "missing -P before '{w}': a policy is written -P DIRECTION ACTION …, \
                             e.g. -P out ipsec esp/transport//require"
                        ),
                    ));
                }
                (TokenKind::Word, w) if w.starts_with('-') => {
                    let h = hint(w, &["-P", "-ctx"]);
                    return Err(self.error(
                        t.span,
                        format!("unknown option '{w}' for '{kw}' (expected -ctx or -P){h}"),
                    ));
                }
                _ => {
                    let d = self.describe(t);
                    return Err(self.error(
                        t.span,
                        format!("unexpected {d} in '{kw}' (expected -ctx or -P)"),
                    ));
                }
            }
        }
    }

    fn policy(&mut self, kw: &str, ks: Span, p_span: Span) -> PResult<PolicySpec> {
        let (d, dspan) = self.word("a policy direction (in, out or fwd) after -P", kw, ks)?;
        let dir = match d {
            "in" => Direction::In,
            "out" => Direction::Out,
            "fwd" => Direction::Fwd,
            _ => {
                let h = hint(d, &["in", "out", "fwd"]);
                return Err(self.error(
                    dspan,
                    format!("unknown policy direction '{d}' (expected in, out or fwd){h}"),
                ));
            }
        };
        let mut priority = None;
        if matches!(self.peek_word(), Some("prio" | "priority")) {
            self.pos += 1;
            priority = Some(self.priority(kw, ks)?);
        }
        let mut span = p_span.to(dspan);
        if self.peek_kind() == Some(TokenKind::Semi) {
            if kw == "spddelete" {
                return Ok(PolicySpec {
                    dir,
                    priority,
                    action: None,
                    rules: Vec::new(),
                    span,
                });
            }
            return Err(self.missing(
                &format!("the action of the '{d}' policy (discard, none or ipsec)"),
                kw,
                ks,
            ));
        }
        let (a, aspan) = self.word("a policy action (discard, none or ipsec)", kw, ks)?;
        span = span.to(aspan);
        let action = match a {
            "discard" => PolicyType::Discard,
            "none" => PolicyType::None,
            "ipsec" => PolicyType::Ipsec,
            "entrust" | "bypass" => {
                return Err(self.error(
                    aspan,
                    format!(
                        "'{a}' is for per-socket policies only: Linux refuses it in the SPD \
                         (EINVAL); use 'none' to let traffic pass in clear"
                    ),
                ))
            }
            _ => {
                let h = hint(a, &["discard", "none", "ipsec"]);
                return Err(self.error(
                    aspan,
                    format!("unknown policy action '{a}' (expected discard, none or ipsec){h}"),
                ));
            }
        };
        let mut rules = Vec::new();
        loop {
            match self.peek() {
                Some(t) if t.kind == TokenKind::Semi => break,
                None => return Err(self.unterminated(kw, ks)),
                Some(t) if t.kind == TokenKind::Invalid => return Err(Fail),
                Some(t) if t.line_start && self.is_command_keyword(t) => break,
                Some(t) => {
                    if action != PolicyType::Ipsec {
                        let dsc = self.describe(t);
                        return Err(self.error(
                            t.span,
                            format!("unexpected {dsc}: only 'ipsec' policies take rules, '{a}' takes none"),
                        ));
                    }
                    let r = self.rule(kw, ks)?;
                    span = span.to(r.span);
                    rules.push(r);
                }
            }
        }
        if action == PolicyType::Ipsec && rules.is_empty() {
            self.warn(
                aspan,
                "an 'ipsec' policy without rules lets traffic pass in clear on Linux (like 'none')",
            );
        }
        if dir == Direction::Out {
            for r in &rules {
                if r.level == Level::Use && matches!(r.mode, Mode::Tunnel | Mode::Beet) {
                    self.warn(
                        r.span,
                        "Linux refuses optional ('use') tunnel rules in out policies with EINVAL \
                         since commit cf3128a7aca5 (May 2023, also in stable kernels); 'require' \
                         works on every kernel",
                    );
                }
            }
        }
        if rules.len() > MAX_RULES {
            return Err(self.error(
                rules[MAX_RULES].span,
                format!("too many rules: Linux allows at most {MAX_RULES} per policy (ELOOP)"),
            ));
        }
        Ok(PolicySpec {
            dir,
            priority,
            action: Some(action),
            rules,
            span,
        })
    }

    /// `prio` forms: `N`, `-N`, `low|def|high`, `BASE+N`, `BASE - N`, … (libipsec's
    /// policy grammar: `BASE + N` means a *higher* priority, i.e. a smaller value).
    fn priority(&mut self, kw: &str, ks: Span) -> PResult<Priority> {
        let (w, span) = self.word("a priority after 'prio'", kw, ks)?;
        let mut full = span;
        let (base, inline) = {
            let split = w.find(['+', '-']).filter(|&i| i > 0);
            match split {
                Some(i) => (&w[..i], Some(&w[i..])),
                None => (w, None),
            }
        };
        let base_val: Option<u32> = match base {
            "low" => Some(PRIORITY_LOW),
            "def" => Some(PRIORITY_DEFAULT),
            "high" => Some(PRIORITY_HIGH),
            _ => None,
        };
        let bad_range = |p: &mut Self, s: Span| {
            p.error(
                s,
                "priority out of range: the result must lie between 0 and 4294967295",
            )
        };
        let Some(bv) = base_val else {
            // Numeric: `N`, `-N`, `- N`.
            let (neg, digits, dspan) = if w == "-" {
                let (n, nspan) = self.word("a number after 'prio -'", kw, ks)?;
                full = full.to(nspan);
                (true, n, nspan)
            } else if let Some(n) = w.strip_prefix('-') {
                (true, n, span)
            } else {
                (false, w, span)
            };
            let Some(n) = parse_number(digits) else {
                return Err(self.error(
                    dspan,
                    format!(
                        "'{w}' is not a priority (a number, or low, def or high with an optional \
                         + N or - N)"
                    ),
                ));
            };
            let v = if neg {
                u64::from(PRIORITY_DEFAULT).checked_add(n)
            } else {
                u64::from(PRIORITY_DEFAULT).checked_sub(n)
            };
            return match v.and_then(|v| u32::try_from(v).ok()) {
                Some(value) => Ok(Priority { value }),
                None => Err(bad_range(self, full)),
            };
        };
        // `BASE`, `BASE+N`, `BASE +N`, `BASE + N`.
        let offset: Option<(bool, &str, Span)> = match inline {
            Some(rest) => {
                let (sign, num) = rest.split_at(1);
                if num.is_empty() {
                    let (n, nspan) = self.word("a number after the sign", kw, ks)?;
                    full = full.to(nspan);
                    Some((sign == "+", n, nspan))
                } else {
                    Some((sign == "+", num, span))
                }
            }
            None => match self.peek_word() {
                Some(s @ ("+" | "-")) => {
                    self.pos += 1;
                    let (n, nspan) = self.word("a number after the sign", kw, ks)?;
                    full = full.to(nspan);
                    Some((s == "+", n, nspan))
                }
                Some(s)
                    if (s.starts_with('+') || s.starts_with('-'))
                        && s.len() > 1
                        && s[1..].bytes().all(|b| b.is_ascii_alphanumeric())
                        && s.as_bytes()[1].is_ascii_digit() =>
                {
                    let t = self.bump().map(|t| t.span).unwrap_or(span);
                    full = full.to(t);
                    Some((s.starts_with('+'), &s[1..], t))
                }
                _ => None,
            },
        };
        let Some((plus, num, nspan)) = offset else {
            return Ok(Priority { value: bv });
        };
        let Some(n) = parse_number(num) else {
            return Err(self.error(nspan, format!("'{num}' is not a number")));
        };
        let v = if plus {
            u64::from(bv).checked_sub(n)
        } else {
            u64::from(bv).checked_add(n)
        };
        match v.and_then(|v| u32::try_from(v).ok()) {
            Some(value) => Ok(Priority { value }),
            None => Err(bad_range(self, full)),
        }
    }

    fn rule(&mut self, kw: &str, ks: Span) -> PResult<Rule> {
        let (p, pspan) = self.word("a rule (PROTOCOL/MODE/ENDPOINTS/LEVEL)", kw, ks)?;
        let proto = match p {
            "esp" => SaType::Esp,
            "ah" => SaType::Ah,
            "ipcomp" => SaType::IpComp,
            _ => {
                let h = hint(p, &["esp", "ah", "ipcomp"]);
                return Err(self.error(
                    pspan,
                    format!(
                        "unknown protocol '{p}' in a policy rule (expected esp, ah or ipcomp){h}"
                    ),
                ));
            }
        };
        let mut span = pspan;
        if self.peek_kind() != Some(TokenKind::Slash) {
            return Err(self.error(
                pspan,
                format!(
                    "rule '{p}' needs a mode: {p}/transport//require or {p}/tunnel/SRC-DST/require"
                ),
            ));
        }
        self.pos += 1;
        let mode = match self.peek() {
            Some(t) if t.kind == TokenKind::Word => {
                self.pos += 1;
                span = span.to(t.span);
                match self.text(t) {
                    "transport" => Mode::Transport,
                    "tunnel" => Mode::Tunnel,
                    "beet" => Mode::Beet,
                    m => {
                        let h = hint(m, &["transport", "tunnel"]);
                        return Err(self.error(
                            t.span,
                            format!("unknown mode '{m}' in a policy rule (expected transport or tunnel){h}"),
                        ));
                    }
                }
            }
            _ => {
                let at = self.peek().map(|t| t.span).unwrap_or(pspan);
                return Err(
                    self.error(at, format!("rule '{p}/' needs a mode: transport or tunnel"))
                );
            }
        };
        let mut endpoints = None;
        let mut level = Level::Default;
        let mut reqid = 0;
        if self.peek_kind() == Some(TokenKind::Slash) {
            span = span.to(self.peek().map(|t| t.span).unwrap_or(span));
            self.pos += 1;
            // Endpoints: the tokens that follow without whitespace, up to the next '/'.
            if let Some(t) = self.peek() {
                if t.kind == TokenKind::Word && !self.starts_next_rule() && t.span.start == span.end
                {
                    let (ep, espan) = self.endpoints_text();
                    span = span.to(espan);
                    endpoints = Some(self.endpoints(ep, espan)?);
                }
            }
            if self.peek_kind() == Some(TokenKind::Slash)
                && self.peek().is_some_and(|t| t.span.start == span.end)
            {
                span = span.to(self.peek().map(|t| t.span).unwrap_or(span));
                self.pos += 1;
                if let Some(t) = self.peek() {
                    if t.kind == TokenKind::Word
                        && !self.starts_next_rule()
                        && t.span.start == span.end
                    {
                        self.pos += 1;
                        span = span.to(t.span);
                        let (l, r) = self.level(self.text(t), t.span)?;
                        level = l;
                        reqid = r;
                    }
                }
            }
        }
        let needs_ends = mode == Mode::Tunnel;
        if needs_ends && endpoints.is_none() {
            return Err(self.error(
                span,
                format!(
                    "tunnel mode needs the tunnel endpoints: {p}/tunnel/OUTER-SRC-OUTER-DST/LEVEL \
                     (setkey: \"Invalid address specification\")"
                ),
            ));
        }
        if !needs_ends && endpoints.is_some() {
            self.warn(
                span,
                format!(
                    "endpoints are ignored in {} mode (only tunnel mode uses them)",
                    mode
                ),
            );
        }
        Ok(Rule {
            proto,
            mode,
            endpoints,
            level,
            reqid,
            span,
        })
    }

    /// Whether the next tokens look like the start of another rule (`esp/`, `ah/`, …).
    fn starts_next_rule(&self) -> bool {
        matches!(self.peek_word(), Some("esp" | "ah" | "ipcomp"))
            && self.peek_at(1).map(|t| t.kind) == Some(TokenKind::Slash)
    }

    /// Collects adjacent tokens up to the next '/' or whitespace: the endpoint text.
    fn endpoints_text(&mut self) -> (&'s str, Span) {
        let Some(first) = self.peek() else {
            return ("", Span::default());
        };
        let mut end = first.span.end;
        self.pos += 1;
        while let Some(t) = self.peek() {
            if t.span.start != end
                || !matches!(
                    t.kind,
                    TokenKind::Word | TokenKind::LBracket | TokenKind::RBracket
                )
            {
                break;
            }
            end = t.span.end;
            self.pos += 1;
        }
        let span = Span::new(first.span.start, end);
        (self.src.get(span.start..span.end).unwrap_or(""), span)
    }

    /// `ADDR[PORT]-ADDR[PORT]`, numeric addresses only.
    fn endpoints(&mut self, text: &str, span: Span) -> PResult<(SocketAddr, SocketAddr)> {
        let one = |s: &str| -> Option<SocketAddr> {
            let (a, port) = match s.strip_suffix(']').and_then(|x| x.split_once('[')) {
                Some((a, p)) => (a, p.parse::<u16>().ok()?),
                None => (s, 0),
            };
            let (a, scope) = match a.split_once('%') {
                Some((a, z)) => (a, z.parse::<u32>().ok()?),
                None => (a, 0),
            };
            match a.parse::<IpAddr>().ok()? {
                IpAddr::V4(v4) if scope == 0 => Some(SocketAddr::new(IpAddr::V4(v4), port)),
                IpAddr::V4(_) => None,
                IpAddr::V6(v6) => Some(SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope))),
            }
        };
        for (i, _) in text.match_indices('-') {
            if let (Some(a), Some(b)) = (one(&text[..i]), one(&text[i + 1..])) {
                if a.is_ipv4() != b.is_ipv4() {
                    return Err(self.error(
                        span,
                        format!(
                            "tunnel endpoints {} and {} mix IPv4 and IPv6: both must be of one family",
                            a.ip(),
                            b.ip()
                        ),
                    ));
                }
                return Ok((a, b));
            }
        }
        Err(self.error(
            span,
            format!(
                "'{text}' is not a pair of tunnel endpoints: expected OUTER-SRC-OUTER-DST with \
                 numeric addresses, like 192.0.2.1-192.0.2.2"
            ),
        ))
    }

    fn level(&mut self, w: &str, span: Span) -> PResult<(Level, u32)> {
        let (name, id) = match w.split_once(':') {
            Some((n, id)) => (n, Some(id)),
            None => (w, None),
        };
        let level = match name {
            "default" => Level::Default,
            "use" => Level::Use,
            "require" => Level::Require,
            "unique" => Level::Unique,
            _ => {
                let h = hint(name, &["default", "use", "require", "unique"]);
                return Err(self.error(
                    span,
                    format!("unknown level '{name}' (expected default, use, require or unique){h}"),
                ));
            }
        };
        let Some(id) = id else {
            return Ok((level, 0));
        };
        if level != Level::Unique {
            return Err(self.error(
                span,
                format!("only 'unique' takes a reqid (':{id}'); Linux forces reqid 0 for {name}"),
            ));
        }
        match parse_number(id).and_then(|v| u32::try_from(v).ok()) {
            Some(r) => {
                if r > IPSEC_MANUAL_REQID_MAX {
                    self.warn(
                        span,
                        format!(
                            "reqid {r} is above {IPSEC_MANUAL_REQID_MAX} (0x3fff): Linux ignores \
                             it and allocates a reqid of its own"
                        ),
                    );
                }
                Ok((level, r))
            }
            None => Err(self.error(
                span,
                format!("'{id}' is not a reqid (a number up to 16383)"),
            )),
        }
    }
}

/// The placeholder `pfkey save --redact` writes instead of a key; it never parses as one.
pub const REDACTED_KEY: &str = "<redacted>";

/// Where the first byte that is not a hex digit is, if any: eight bytes at a time.
fn first_non_hex(hex: &str) -> Option<usize> {
    let n = hex_run(hex.as_bytes());
    (n < hex.len()).then_some(n)
}

/// How many hex digits `b` starts with: eight at a time, then one by one.
pub(super) fn hex_run(b: &[u8]) -> usize {
    let (eights, _) = b.as_chunks::<8>();
    let clean = eights
        .iter()
        .take_while(|e| hex8(u64::from_le_bytes(**e)).is_some())
        .count()
        * 8;
    b[clean..]
        .iter()
        .position(|c| !c.is_ascii_hexdigit())
        .map_or(b.len(), |i| clean + i)
}

/// Hex digits to bytes, with a leading zero nibble for an odd count (setkey's rule); `None`
/// if any byte is not a hex digit. The allocation is made once at its final size (no
/// reallocation can leave a copy of the key behind) and filled by [`decode_hex_into`].
pub(super) fn decode_hex_padded(hex: &str) -> Option<Zeroizing<Vec<u8>>> {
    let b = hex.as_bytes();
    let (head, pairs) = b.split_at(b.len() % 2);
    let mut out = Zeroizing::new(vec![0u8; b.len().div_ceil(2)]);
    let (first, rest) = out.split_at_mut(head.len());
    if let ([h], [n]) = (head, first) {
        *n = nibble(*h);
        if *n > 0x0f {
            return None;
        }
    }
    decode_hex_into(pairs, rest)?;
    Some(out)
}

/// Decodes hex of even length into `out`, which must be half as long, eight digits at a
/// time (keys are long), the rest one by one; `None` if a character is not a hex digit or
/// the lengths do not match.
pub(super) fn decode_hex_into(hex: &[u8], out: &mut [u8]) -> Option<()> {
    if hex.len() != out.len().checked_mul(2)? {
        return None;
    }
    let (eights, rest) = hex.as_chunks::<8>();
    let (fours, out_rest) = out.as_chunks_mut::<4>();
    for (e, o) in eights.iter().zip(fours) {
        *o = hex8(u64::from_le_bytes(*e))?;
    }
    let mut bad = 0u8;
    for ([h, l], o) in rest.as_chunks::<2>().0.iter().zip(out_rest) {
        let (hi, lo) = (nibble(*h), nibble(*l));
        bad |= hi | lo;
        *o = hi << 4 | (lo & 0x0f);
    }
    (bad & 0xf0 == 0).then_some(())
}

/// A hex digit's value; 0xff for a byte that is not one.
fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0xff,
    }
}

/// Eight hex digits (the first in the lowest byte of `v`) as four bytes, or `None` if any
/// is not a hex digit: a few word operations instead of a branch and two table lookups
/// per digit ("between" test from Sean Anderson's Bit Twiddling Hacks, exact per byte for
/// 7-bit bytes).
fn hex8(v: u64) -> Option<[u8; 4]> {
    const fn lanes(b: u8) -> u64 {
        u64::from_le_bytes([b; 8])
    }
    /// The high bit of each byte of `x` (all below 0x80) that lies strictly between `m`
    /// and `n`.
    const fn between(x: u64, m: u8, n: u8) -> u64 {
        (lanes(127 + n).wrapping_sub(x) & !x & x.wrapping_add(lanes(127 - m))) & lanes(0x80)
    }
    if v & lanes(0x80) != 0 {
        return None;
    }
    let digit = between(v, b'0' - 1, b'9' + 1);
    // Setting bit 5 folds 'A'-'F' onto 'a'-'f' (digits already have it).
    let letter = between(v | lanes(0x20), b'a' - 1, b'f' + 1);
    if digit | letter != lanes(0x80) {
        return None;
    }
    // A digit's low four bits are its value; a letter's are 1-6, plus 9 for bit 6.
    let nib = (v & lanes(0x0f)) + ((v >> 6) & lanes(0x01)) * 9;
    // Byte 2k becomes digit 2k's value << 4 | digit 2k+1's; keep the even bytes.
    let pairs = ((nib << 4) | (nib >> 8)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    let packed = (quads | (quads >> 16)) as u32;
    Some(packed.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A long script of every kind of statement, with warnings (odd hex digits, des-deriv)
    /// and `;`/`#` inside quoted keys, `n` rounds of it.
    fn long_script(n: usize) -> String {
        let mut src = String::from("# a comment; with a semicolon\n");
        for i in 0..n {
            let (a, b) = (i / 250, i % 250);
            src.push_str(&format!(
                "add 10.{a}.{b}.1 10.{a}.{b}.2 esp {spi} -m transport -E aes-cbc 0x{k} -A \
                 hmac-sha1 \"quoted;#key_20_bytes\";\n\
                 spdadd 10.{a}.{b}.0/24 10.9.0.0/16 any -P out ipsec\n  \
                 esp/tunnel/10.{a}.{b}.1-10.{a}.{b}.2/require;\n\
                 update 10.{a}.{b}.1 10.{a}.{b}.2 ah 0x{spi:x} -A hmac-md5 0x{odd};\n\
                 get 10.{a}.{b}.1 10.{a}.{b}.2 esp {spi};\n",
                spi = 0x1000 + i,
                k = "22".repeat(16),
                odd = "1".repeat(31),
            ));
        }
        src
    }

    fn all(_: &Statement) -> bool {
        true
    }

    /// Statements (as Debug text) and diagnostics of a parse.
    fn summary(p: Parsed) -> (String, Vec<RawDiag>) {
        (format!("{:?}", p.statements), p.diags)
    }

    fn whole(src: &str) -> (String, Vec<RawDiag>) {
        summary(Parser::new(src, 0, src.len()).script(all))
    }

    #[test]
    fn a_script_parsed_in_chunks_equals_the_script_parsed_whole() {
        let src = long_script(2000);
        assert!(src.len() > 4 * MIN_CHUNK_BYTES);
        let (w_statements, w_diags) = whole(&src);
        let errors: Vec<_> = w_diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .take(3)
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(w_diags.iter().any(|d| d.severity == Severity::Warning));
        for threads in [2, 3, 8] {
            let pieces = parse_chunks(&src, all, threads).expect("a long clean script is chunked");
            assert_eq!(pieces.len(), threads.min(src.len() / MIN_CHUNK_BYTES));
            let joined = join(pieces);
            assert_eq!(joined.count, 8000);
            assert_eq!(joined.indices, (0..8000).collect::<Vec<_>>());
            let (statements, diags) = summary(joined);
            assert_eq!(statements, w_statements);
            assert_eq!(diags, w_diags);
        }
    }

    #[test]
    fn chunks_are_cut_after_a_line_that_ends_a_statement() {
        let src = long_script(2000);
        // The spdadd statements span two lines: never cut between them.
        for from in (0..src.len()).step_by(src.len() / 97) {
            if let Some(at) = cut_after(&src, from) {
                assert!(at >= from);
                assert!(src[..at].trim_end().ends_with(';'), "cut at {at}");
            }
        }
        // No such line nearby: the first newline.
        let text = format!("add{}", " 1\n".repeat(CUT_SEARCH_BYTES));
        assert_eq!(
            cut_after(&text, 10),
            Some(text[10..].find('\n').unwrap() + 11)
        );
        assert_eq!(cut_after("no newline", 2), None);
    }

    #[test]
    fn a_parse_keeps_what_it_is_asked_to_and_counts_the_rest() {
        let src = long_script(2000);
        fn gets(s: &Statement) -> bool {
            matches!(s.command, Command::Get(_))
        }
        for p in [
            parse_keeping(&src, gets),
            Parser::new(&src, 0, src.len()).script(gets),
        ] {
            assert_eq!(p.count, 8000);
            assert_eq!(p.statements.len(), 2000);
            assert_eq!(p.indices, (0..2000).map(|i| 4 * i + 3).collect::<Vec<_>>());
            assert!(p.statements.iter().all(gets));
        }
        // What was dropped can be parsed again, one statement at a time.
        let again: Vec<Statement> = Statements::new(&src).collect();
        assert_eq!(format!("{again:?}"), whole(&src).0);
    }

    #[test]
    fn an_error_or_an_early_exit_anywhere_makes_the_parse_whole() {
        let good = long_script(2000);
        assert!(parse_chunks(&good, all, 2).is_some());
        // An error in the second half: the chunks give up, and parse() reports exactly
        // what a parse in one piece does.
        let bad = good.replacen("get 10.4.", "get 10.4.0.1 10.4.0.2 esp -x;\nget 10.4.", 1);
        assert!(parse_chunks(&bad, all, 2).is_none());
        let (w_statements, w_diags) = whole(&bad);
        let parsed = parse(&bad);
        assert_eq!(parsed.count, 8000);
        assert_eq!(format!("{:?}", parsed.statements), w_statements);
        assert_eq!(parsed.diags, w_diags);
        assert!(parsed.diags.iter().any(|d| d.severity == Severity::Error));
        // Statements over several lines, no line ending in `;`: chunks are cut inside
        // statements, fail, and the parse is done whole.
        let mut multi = String::new();
        for i in 0..6000 {
            multi.push_str(&format!(
                "add 10.0.0.1 10.0.0.2 esp {}\n -E aes-cbc 0x{}\n -A hmac-md5 \"0123456789a;#\nbc\" ; # c\n",
                i + 1,
                "22".repeat(16)
            ));
        }
        assert!(multi.len() > 2 * MIN_CHUNK_BYTES);
        let w = whole(&multi);
        assert!(w.1.is_empty(), "{:?}", w.1);
        for threads in [2, 3, 5] {
            if let Some(pieces) = parse_chunks(&multi, all, threads) {
                assert_eq!(summary(join(pieces)), w);
            }
        }
        assert_eq!(summary(parse(&multi)), w);
        // `exit` in the first half ends the script there.
        let exit = good.replacen("get 10.0.5.", "exit;\nget 10.0.5.", 1);
        assert!(parse_chunks(&exit, all, 2).is_none());
        let parsed = parse(&exit);
        assert!(matches!(
            parsed.statements.last().map(|s| &s.command),
            Some(Command::Exit)
        ));
        assert!(parsed.statements.len() < 30);
        assert!(parsed.exited);
        // A short script is not worth a thread.
        let short = long_script(10);
        assert!(parse_chunks(&short, all, 8).is_none());
    }

    #[test]
    fn hex_with_odd_digits_gets_a_leading_nibble() {
        let hex = |s| decode_hex_padded(s).map(|b| b.to_vec());
        assert_eq!(
            hex("123456789abcdef"),
            Some(vec![0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef])
        );
        assert_eq!(hex("ABcd"), Some(vec![0xab, 0xcd]));
        assert_eq!(hex("f"), Some(vec![0x0f]));
        assert_eq!(hex("0g"), None);
        assert_eq!(hex("g"), None);
    }

    #[test]
    fn ipv4_addresses_parse_as_the_standard_library_parses_them() {
        let cases = [
            "0.0.0.0",
            "10.0.0.1",
            "255.255.255.255",
            "256.0.0.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.2.3.04",
            "1..2.3",
            ".1.2.3",
            "1.2.3.",
            "1234.1.1.1",
            "",
            "1.2.3.4 ",
            "9.99.199.249",
            "0.00.0.0",
        ];
        for c in cases {
            assert_eq!(parse_ipv4(c).ok(), c.parse::<Ipv4Addr>().ok(), "{c:?}");
        }
    }

    #[test]
    fn hex_keys_decode_eight_digits_at_a_time_as_one_by_one() {
        let one_by_one = |s: &str| -> Option<Vec<u8>> {
            let padded = if s.len() % 2 == 1 {
                format!("0{s}")
            } else {
                s.to_string()
            };
            (0..padded.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(padded.get(i..i + 2)?, 16).ok())
                .collect()
        };
        let digits = "0123456789abcdefABCDEF";
        for len in 0..40 {
            for start in 0..digits.len() {
                let s: String = digits.chars().cycle().skip(start).take(len).collect();
                let got = decode_hex_padded(&s).map(|v| v.to_vec());
                assert_eq!(got, one_by_one(&s), "{s}");
            }
        }
        // Every non-digit byte, at every place of a 16-digit key, is refused.
        for bad in (0u8..=255).filter(|b| !b.is_ascii_hexdigit()) {
            for at in 0..16 {
                let mut k = *b"0123456789abcdef";
                k[at] = bad;
                let s = String::from_utf8_lossy(&k).into_owned();
                assert_eq!(decode_hex_padded(&s), None, "{s:?}");
            }
        }
    }

    #[test]
    fn the_first_non_hex_byte_is_found_at_any_place() {
        assert_eq!(first_non_hex("0123456789abcdefABCDEF"), None);
        for len in 1..30 {
            for at in 0..len {
                let mut k: Vec<u8> = (0..len).map(|i| b"0123456789abcdef"[i % 16]).collect();
                k[at] = b'g';
                let s = String::from_utf8(k).unwrap();
                assert_eq!(first_non_hex(&s), Some(at), "{s}");
            }
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("1000"), Some(1000));
        assert_eq!(parse_number("0x3e8"), Some(1000));
        assert_eq!(parse_number("0X3E8"), Some(1000));
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("-1"), None);
        assert_eq!(parse_number("1e3"), None);
        assert_eq!(parse_number("99999999999999999999999"), None);
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("spdad", COMMANDS), Some("spdadd"));
        assert_eq!(did_you_mean("dum", COMMANDS), Some("dump"));
        assert_eq!(did_you_mean("-x", &["-m", "-r"]), None);
        assert_eq!(did_you_mean("-lx", &["-lh", "-m"]), Some("-lh"));
        assert_eq!(did_you_mean("zzzzzz", COMMANDS), None);
    }
}
