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

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
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

fn is_word_byte(b: u8) -> bool {
    WORD_BYTES[usize::from(b)]
}

/// Splits `src` into tokens, reporting lexical errors on the way. Never fails, never panics.
pub fn tokenize(src: &str) -> (Vec<Token>, Vec<LexError>) {
    tokenize_range(src, 0, src.len())
}

/// Scripts shorter than this (about 1,800 `add` statements) are split into tokens on one
/// thread: under emulation, where a thread's start and end cost milliseconds, a smaller
/// script was measured no faster on two.
const MIN_PARALLEL_BYTES: usize = 256 * 1024;

/// [`tokenize`], on up to `threads` threads for a long script: the text is cut just after
/// newlines into pieces split apart. A piece begins outside any comment (a comment ends at
/// its newline) and, unless a quoted string crosses the cut, outside any string; a string
/// that does cross it leaves the piece before it unterminated, which is a lexical error.
/// So pieces without errors give exactly the tokens of the whole; if any piece has an
/// error, the script is split in one piece again, for the diagnostics of the whole.
pub fn tokenize_on(src: &str, threads: usize) -> (Vec<Token>, Vec<LexError>) {
    if threads < 2 || src.len() < MIN_PARALLEL_BYTES {
        return tokenize(src);
    }
    let bytes = src.as_bytes();
    let mut cuts = vec![0];
    for k in 1..threads {
        let target = src.len() / threads * k;
        let at = bytes
            .get(target..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
            .map(|p| target + p + 1);
        if let Some(at) = at.filter(|&a| a < src.len() && cuts.last().is_some_and(|&l| a > l)) {
            cuts.push(at);
        }
    }
    cuts.push(src.len());
    let pieces: Vec<Option<Vec<Token>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cuts
            .windows(2)
            .map(|w| {
                let (start, end) = (w[0], w[1]);
                scope.spawn(move || {
                    let (tokens, errors) = tokenize_range(src, start, end);
                    errors.is_empty().then_some(tokens)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    if pieces.iter().any(Option::is_none) {
        return tokenize(src);
    }
    // The first piece grows in place (a large allocation is remapped, not copied) and
    // each other piece is freed once appended, so the tokens are not held twice.
    let mut pieces = pieces.into_iter().flatten();
    let mut all = pieces.next().unwrap_or_default();
    for piece in pieces {
        all.extend_from_slice(&piece);
    }
    (all, Vec::new())
}

/// The tokens of `src[start..end]`, with spans in `src`; `start` must be 0 or just after a
/// newline.
fn tokenize_range(src: &str, start: usize, end: usize) -> (Vec<Token>, Vec<LexError>) {
    let end = end.min(src.len());
    let bytes = src.as_bytes().get(..end).unwrap_or_default();
    // About one token per 8 bytes in typical scripts: one allocation instead of many.
    let mut tokens = Vec::with_capacity((end - start.min(end)) / 8);
    let mut errors = Vec::new();
    // A UTF-8 byte order mark, as some editors write, is not part of the script.
    let mut i = if start == 0 && src.starts_with('\u{feff}') {
        3
    } else {
        start
    };
    let mut at_line_start = true;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\n' {
            at_line_start = true;
            i += 1;
            continue;
        }
        if is_space(b) {
            i += 1;
            continue;
        }
        let line_start = at_line_start;
        at_line_start = false;
        let mut push = |kind, start: usize, end: usize| {
            tokens.push(Token {
                kind,
                span: Span::new(start, end),
                line_start,
            })
        };
        match b {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b';' => {
                push(TokenKind::Semi, i, i + 1);
                i += 1;
            }
            b'/' => {
                push(TokenKind::Slash, i, i + 1);
                i += 1;
            }
            b'[' => {
                push(TokenKind::LBracket, i, i + 1);
                i += 1;
            }
            b']' => {
                push(TokenKind::RBracket, i, i + 1);
                i += 1;
            }
            b'"' => match bytes[i + 1..].iter().position(|&c| c == b'"') {
                Some(n) => {
                    let end = i + 1 + n + 1;
                    push(TokenKind::Str, i, end);
                    i = end;
                }
                None => {
                    errors.push(LexError {
                        message: "unterminated string: no closing '\"' before the end of the \
                                  file"
                            .into(),
                        span: Span::new(i, i + 1),
                    });
                    push(TokenKind::Invalid, i, bytes.len());
                    i = bytes.len();
                }
            },
            _ if is_word_byte(b) => {
                let start = i;
                i += bytes[i..]
                    .iter()
                    .position(|&c| !is_word_byte(c))
                    .unwrap_or(bytes.len() - i);
                push(TokenKind::Word, start, i);
            }
            _ => {
                // A control character or the first byte of a non-ASCII character.
                let ch = src
                    .get(i..end)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('\u{fffd}');
                let len = ch.len_utf8().max(1);
                errors.push(LexError {
                    message: format!(
                        "unexpected character {} (U+{:04X}); outside quotes the language is \
                         printable ASCII",
                        describe_char(ch),
                        u32::from(ch)
                    ),
                    span: Span::new(i, i + len),
                });
                push(TokenKind::Invalid, i, i + len);
                i += len;
            }
        }
    }
    (tokens, errors)
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

    #[test]
    fn a_long_script_split_on_threads_gives_the_tokens_of_the_whole() {
        let mut src = String::from("\u{feff}# a comment with a \" and a ;\n");
        for i in 0..8000 {
            src.push_str(&format!(
                "add 10.0.0.1 10.0.0.2 esp {i} -A hmac-md5 \"key;#\nwith newline\" ; # c\"\n"
            ));
        }
        assert!(src.len() > 2 * MIN_PARALLEL_BYTES);
        let whole = tokenize(&src);
        assert!(whole.1.is_empty());
        for threads in [2, 3, 7] {
            assert_eq!(tokenize_on(&src, threads), whole);
        }
        // A quoted string across a cut: the pieces disagree, the whole decides.
        let mut long = String::from("add 1.1.1.1 2.2.2.2 esp 1 -A hmac-md5 \"");
        long.push_str(&"x\n".repeat(MIN_PARALLEL_BYTES));
        long.push_str("\" ;\n");
        let whole = tokenize(&long);
        assert!(whole.1.is_empty());
        assert_eq!(tokenize_on(&long, 4), whole);
        // An error anywhere: reported as in one piece.
        let bad = format!("{src}\u{1}\n{src}");
        assert_eq!(tokenize_on(&bad, 2), tokenize(&bad));
        assert!(!tokenize(&bad).1.is_empty());
    }

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
