//! Tokens of the setkey(8) language.
//!
//! The language (setkey(8) "Configuration syntax"; lexical rules in the reference notes §2) is
//! a sequence of `;`-terminated statements; `#` starts a comment to the end of the line;
//! whitespace, newlines included, separates tokens freely. This lexer keeps the token set
//! small and leaves meaning to the parser:
//!
//! - a **word** is a maximal run of printable ASCII other than whitespace and the
//!   delimiters `; # " / [ ]` — keywords, numbers, addresses, options (`-m`), algorithm
//!   names, `unique:5`, `8,0`, `10.0.0.1-10.0.0.2` are all words;
//! - a **string** is `"…"`: the raw bytes up to the next `"`, newlines included, no escapes
//!   (as setkey's `-f` mode reads them);
//! - `/`, `[`, `]` and `;` are single-character tokens.
//!
//! Unlike setkey's `-c` mode, `#` and `;` inside a quoted string are part of the string.
//! A character no token may contain (a control character, or non-ASCII outside a string)
//! is reported once and becomes an [`TokenKind::Invalid`] token, so the parser can skip the
//! statement without piling up follow-on errors.
#![forbid(unsafe_code)]

use super::ast::Span;

/// The kind of a token; its text is the source slice of its span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A run of word characters.
    Word,
    /// `"…"` (the span includes both quotes).
    Str,
    /// `/`.
    Slash,
    /// `[`.
    LBracket,
    /// `]`.
    RBracket,
    /// `;`.
    Semi,
    /// Something already reported by the lexer.
    Invalid,
}

/// A token and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it is.
    pub span: Span,
    /// Whether it is the first token on its line (used to resynchronise after an error).
    pub line_start: bool,
}

/// A lexical error: message and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
}

const fn is_delimiter(b: u8) -> bool {
    matches!(b, b';' | b'#' | b'"' | b'/' | b'[' | b']')
}

/// Which bytes may be part of a word, one table lookup per byte (words are most of a
/// script's bytes: keys, addresses).
const WORD_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_graphic() && !is_delimiter(b as u8);
        b += 1;
    }
    t
};

pub(super) fn is_word_byte(b: u8) -> bool {
    WORD_BYTES[usize::from(b)]
}

/// Each byte of `x` repeated in all eight lanes of a word.
const fn lanes(b: u8) -> u64 {
    u64::from_le_bytes([b; 8])
}

/// The high bit of each lane of `x` that is zero. Only the lowest flagged lane is exact (a
/// borrow can flag lanes above it), which is all [`word_end`] asks.
const fn zero_lanes(x: u64) -> u64 {
    x.wrapping_sub(lanes(0x01)) & !x & lanes(0x80)
}

/// The high bit of each lane of `v` (little-endian bytes) that cannot be part of a word:
/// below `!` (0x21), DEL and above, or a delimiter. Exact for the lowest flagged lane.
const fn non_word_lanes(v: u64) -> u64 {
    // Lanes below 0x21: subtracting 0x21 borrows into the high bit (for lanes < 0x80).
    let low = v.wrapping_sub(lanes(0x21)) & !v & lanes(0x80);
    let high = v & lanes(0x80);
    low | high
        | zero_lanes(v ^ lanes(0x7f))
        | zero_lanes(v ^ lanes(b';'))
        | zero_lanes(v ^ lanes(b'#'))
        | zero_lanes(v ^ lanes(b'"'))
        | zero_lanes(v ^ lanes(b'/'))
        | zero_lanes(v ^ lanes(b'['))
        | zero_lanes(v ^ lanes(b']'))
}

/// Where the word that goes on at `i` ends: eight bytes per step (words are most of a
/// script's bytes: keys and addresses), then one at a time.
#[inline]
fn word_end(bytes: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = bytes.get(i..).and_then(|b| b.first_chunk::<8>()) {
        let m = non_word_lanes(u64::from_le_bytes(*chunk));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while bytes.get(i).is_some_and(|&b| is_word_byte(b)) {
        i += 1;
    }
    i
}

/// Splits `src` into tokens, reporting lexical errors on the way. Never fails, never panics.
pub fn tokenize(src: &str) -> (Vec<Token>, Vec<LexError>) {
    let mut lexer = Lexer::new(src, 0, src.len());
    // About one token per 8 bytes in typical scripts: one allocation instead of many.
    let mut tokens = Vec::with_capacity(src.len() / 8);
    let mut errors = Vec::new();
    while let Some(t) = lexer.next_token(&mut errors) {
        tokens.push(t);
    }
    (tokens, errors)
}

/// The tokens of `src[start..end]` one at a time, with spans in `src`: the parser pulls
/// them as it goes, so a script's tokens are never all held at once.
#[derive(Debug, Clone)]
pub struct Lexer<'s> {
    src: &'s str,
    /// `src[..end]` as bytes.
    bytes: &'s [u8],
    /// The next byte to look at.
    i: usize,
    /// No token since the last newline (or since `start`).
    at_line_start: bool,
}

impl<'s> Lexer<'s> {
    /// A lexer of `src[start..end]`; `start` must be 0 or just after a newline.
    pub fn new(src: &'s str, start: usize, end: usize) -> Self {
        // A UTF-8 byte order mark, as some editors write, is not part of the script.
        let i = if start == 0 && src.starts_with('\u{feff}') {
            3
        } else {
            start
        };
        Lexer {
            src,
            bytes: src.as_bytes().get(..end).unwrap_or(src.as_bytes()),
            i,
            at_line_start: true,
        }
    }

    /// The next byte to look at, and the bytes of the window (`src[..end]`).
    pub fn position(&self) -> (usize, &'s [u8]) {
        (self.i, self.bytes)
    }

    /// Goes on at `i`, just after a `;` that another reader took (the fast path of
    /// [`super::fast`]): as after the lexer's own `;` token, no token since it.
    pub fn resume_after_semi(&mut self, i: usize) {
        self.i = i;
        self.at_line_start = false;
    }

    /// The next token, or `None` at the end; lexical errors are added to `errors` (and
    /// leave an [`TokenKind::Invalid`] token).
    ///
    /// Always inlined: the parser calls it for every token, and inlined into its one hot
    /// caller (the parser's `refill`) checking 1,000 `add` statements takes 7%
    /// fewer instructions (6.47 M → 6.00 M, callgrind).
    #[inline(always)]
    pub fn next_token(&mut self, errors: &mut Vec<LexError>) -> Option<Token> {
        let bytes = self.bytes;
        let mut i = self.i;
        // Whitespace and comments.
        let b = loop {
            let b = *bytes.get(i)?;
            match b {
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => i += 1,
                b'\n' => {
                    self.at_line_start = true;
                    i += 1;
                }
                b'#' => {
                    i = bytes
                        .get(i..)
                        .and_then(|rest| rest.iter().position(|&c| c == b'\n'))
                        .map_or(bytes.len(), |n| i + n);
                }
                _ => break b,
            }
        };
        let line_start = std::mem::replace(&mut self.at_line_start, false);
        let start = i;
        // Words first: most tokens are.
        if is_word_byte(b) {
            self.i = word_end(bytes, i + 1);
            return Some(Token {
                kind: TokenKind::Word,
                span: Span::new(start, self.i),
                line_start,
            });
        }
        let kind = match b {
            b';' => TokenKind::Semi,
            b'/' => TokenKind::Slash,
            b'[' => TokenKind::LBracket,
            b']' => TokenKind::RBracket,
            b'"' => match bytes[i + 1..].iter().position(|&c| c == b'"') {
                Some(n) => {
                    i += n + 1;
                    TokenKind::Str
                }
                None => {
                    errors.push(unterminated_string(i));
                    i = bytes.len() - 1;
                    TokenKind::Invalid
                }
            },
            _ => {
                let e = invalid_char(self.src, i, bytes.len());
                i = e.span.end - 1;
                errors.push(e);
                TokenKind::Invalid
            }
        };
        self.i = i + 1;
        Some(Token {
            kind,
            span: Span::new(start, self.i),
            line_start,
        })
    }
}

/// The error for a `"` at `at` with no closing one (kept out of the token loop).
#[cold]
fn unterminated_string(at: usize) -> LexError {
    LexError {
        message: "unterminated string: no closing '\"' before the end of the file".into(),
        span: Span::new(at, at + 1),
    }
}

/// The error for a byte at `at` that no token may contain: a control character or the
/// first byte of a non-ASCII character (kept out of the token loop).
#[cold]
fn invalid_char(src: &str, at: usize, end: usize) -> LexError {
    let ch = src
        .get(at..end)
        .and_then(|s| s.chars().next())
        .unwrap_or('\u{fffd}');
    let len = ch.len_utf8().max(1);
    LexError {
        message: format!(
            "unexpected character {} (U+{:04X}); outside quotes the language is printable ASCII",
            describe_char(ch),
            u32::from(ch)
        ),
        span: Span::new(at, at + len),
    }
}

fn describe_char(c: char) -> String {
    if c.is_control() {
        format!("{:?}", c)
    } else {
        format!("'{c}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, &str)> {
        let (toks, errs) = tokenize(src);
        assert!(errs.is_empty(), "{errs:?}");
        toks.iter()
            .map(|t| (t.kind, &src[t.span.start..t.span.end]))
            .collect()
    }

    #[test]
    fn words_delimiters_strings_comments() {
        use TokenKind::*;
        assert_eq!(
            kinds("spdadd 10.0.0.0/8[any] fe80::1%eth0 icmp 8,0 # c\n -P out;"),
            vec![
                (Word, "spdadd"),
                (Word, "10.0.0.0"),
                (Slash, "/"),
                (Word, "8"),
                (LBracket, "["),
                (Word, "any"),
                (RBracket, "]"),
                (Word, "fe80::1%eth0"),
                (Word, "icmp"),
                (Word, "8,0"),
                (Word, "-P"),
                (Word, "out"),
                (Semi, ";"),
            ]
        );
        assert_eq!(
            kinds("-E 3des-cbc \"a;b#c\nd\";"),
            vec![
                (Word, "-E"),
                (Word, "3des-cbc"),
                (Str, "\"a;b#c\nd\""),
                (Semi, ";")
            ]
        );
        assert_eq!(
            kinds("esp/tunnel/10.0.0.1-10.0.0.2/unique:3"),
            vec![
                (Word, "esp"),
                (Slash, "/"),
                (Word, "tunnel"),
                (Slash, "/"),
                (Word, "10.0.0.1-10.0.0.2"),
                (Slash, "/"),
                (Word, "unique:3"),
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(
            kinds("\u{feff}flush ;"),
            vec![(TokenKind::Word, "flush"), (TokenKind::Semi, ";")]
        );
    }

    #[test]
    fn line_starts_survive_comments() {
        let (toks, _) = tokenize("add a\n# comment\n  spdadd ;");
        let flags: Vec<bool> = toks.iter().map(|t| t.line_start).collect();
        assert_eq!(flags, vec![true, false, true, false]);
    }

    #[test]
    fn errors_are_reported_once_and_lexing_continues() {
        let (toks, errs) = tokenize("add \u{7} é ;");
        assert_eq!(errs.len(), 2);
        assert!(errs[0].message.contains("U+0007"), "{}", errs[0].message);
        assert!(
            errs[1].message.contains("'é' (U+00E9)"),
            "{}",
            errs[1].message
        );
        assert_eq!(toks.last().map(|t| t.kind), Some(TokenKind::Semi));
        let (toks, errs) = tokenize("add \"open ;\n");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].span, Span::new(4, 5));
        assert_eq!(toks.last().map(|t| t.kind), Some(TokenKind::Invalid));
    }
}
