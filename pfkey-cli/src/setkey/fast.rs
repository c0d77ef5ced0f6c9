//! The common `add` statement, recognised in one pass over its bytes.
//!
//! Scripts that install SAs by the thousand (what `pfkey -f` is benchmarked on, and what
//! key-management front ends generate) are almost all one shape:
//!
//! ```text
//! add 10.0.0.1 10.128.0.1 esp 0x1000 -m transport -E aes-cbc 0x… -A hmac-sha1 0x…;
//! ```
//!
//! The general parser ([`super::parser`]) spends ~5,400 instructions on such a statement
//! (tokens into a window, a recursive descent that can report anything anywhere, hints,
//! recovery). [`add`] takes the statement's words straight from the source and builds the
//! very [`Statement`] the parser would, or declines, touching nothing, as soon as anything
//! is not the common shape; the parser then starts on the same bytes as if this module did
//! not exist. So it needs no error reporting at all: every statement that has a diagnostic,
//! error or warning, is the parser's. What it accepts:
//!
//! - `add`, two dotted-quad IPv4 addresses (no port, prefix or `-4/-6/-n`), `esp` or `ah`,
//!   a nonzero SPI that fits 32 bits;
//! - each at most once, in any order: `-m transport|tunnel|any|beet`, `-r N` (N ≤ 32,
//!   beyond which the parser warns), `-u N`, `-E ALG 0xKEY`, `-A ALG 0xKEY`, with an
//!   algorithm Linux can use, that takes a key, and an even number of hex digits of a
//!   length the algorithm accepts (setkey's DES variants and `simple` are left to the
//!   parser, which warns about them);
//! - ESP with `-E`, AH with `-A` and without `-E` (`check_sa`'s rules);
//! - blanks between tokens, the whole statement on one line, `;` at its end; blank lines
//!   and comments before it.
//!
//! The tests at the end of this file parse a corpus of variations and layouts, and
//! generated scripts, both ways and compare the statements and the diagnostics.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr};

use pfkey::alg::{self, AlgKind, KeyBits, Usability};
use pfkey::wire::Mode;

use super::ast::*;
use super::lexer::is_word_byte;
use super::parser::{hex_run, parse_number};

/// The largest key PF_KEY can carry, in bits (`sadb_key_bits` is 16 bits).
const MAX_KEY_BITS: usize = u16::MAX as usize;

/// A token of the common shape.
enum Tok<'s> {
    Word(&'s str, Span),
    Semi(Span),
}

/// The bytes of a script from a position on.
struct Cursor<'s> {
    src: &'s str,
    /// The bytes the parser may read (`src[..end]` of its window).
    bytes: &'s [u8],
    i: usize,
}

impl<'s> Cursor<'s> {
    /// Skips what may come between statements: whitespace, newlines, comments.
    fn between_statements(&mut self) {
        while let Some(&b) = self.bytes.get(self.i) {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => self.i += 1,
                b'#' => {
                    self.i = self.bytes[self.i..]
                        .iter()
                        .position(|&c| c == b'\n')
                        .map_or(self.bytes.len(), |n| self.i + n);
                }
                _ => return,
            }
        }
    }

    /// Skips blanks within the line.
    fn blanks(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | 0x0b | 0x0c) = self.bytes.get(self.i) {
            self.i += 1;
        }
    }

    /// The next token on this line: a word or `;`; `None` for anything else (a newline,
    /// a comment, a delimiter of another construct, the end). Words here are short
    /// (keywords, options, names), so they are scanned a byte at a time.
    fn next(&mut self) -> Option<Tok<'s>> {
        self.blanks();
        let start = self.i;
        if *self.bytes.get(start)? == b';' {
            self.i += 1;
            return Some(Tok::Semi(Span::new(start, self.i)));
        }
        while self.bytes.get(self.i).is_some_and(|&b| is_word_byte(b)) {
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        // Word bytes are ASCII, so both ends are character boundaries.
        let w = self.src.get(start..self.i)?;
        Some(Tok::Word(w, Span::new(start, self.i)))
    }

    /// Whether a word that ends at `self.i` really ends there (the lexer's words are
    /// maximal runs of word bytes).
    fn word_ends(&self) -> bool {
        !self.bytes.get(self.i).is_some_and(|&b| is_word_byte(b))
    }

    fn word(&mut self) -> Option<(&'s str, Span)> {
        match self.next()? {
            Tok::Word(w, s) => Some((w, s)),
            Tok::Semi(_) => None,
        }
    }

    /// An SA endpoint: a dotted-quad IPv4 address alone, as `parse_ipv4` (and
    /// `Ipv4Addr::from_str`) accept it: four decimal parts of one to three digits, each at
    /// most 255, no leading zero. Read as it is scanned (addresses are a third of the
    /// statement).
    fn endpoint(&mut self) -> Option<SaEndpoint> {
        self.blanks();
        let start = self.i;
        let mut octets = [0u8; 4];
        for (k, octet) in octets.iter_mut().enumerate() {
            if k > 0 {
                if self.bytes.get(self.i) != Some(&b'.') {
                    return None;
                }
                self.i += 1;
            }
            let first = self.i;
            let mut v = 0u32;
            while let Some(&d) = self.bytes.get(self.i) {
                if !d.is_ascii_digit() || self.i - first == 3 {
                    break;
                }
                v = v * 10 + u32::from(d - b'0');
                self.i += 1;
            }
            let len = self.i - first;
            if len == 0 || (len > 1 && self.bytes.get(first) == Some(&b'0')) {
                return None;
            }
            *octet = u8::try_from(v).ok()?;
        }
        if !self.word_ends() {
            return None;
        }
        Some(SaEndpoint {
            host: HostSpec {
                host: Host::Ip {
                    addr: IpAddr::V4(Ipv4Addr::from(octets)),
                    scope: None,
                },
                span: Span::new(start, self.i),
            },
            port: None,
        })
    }

    /// A `0x` key: the hex digits, eight at a time, up to the end of the word.
    fn hex_key(&mut self) -> Option<(usize, Span)> {
        self.blanks();
        let start = self.i;
        match self.bytes.get(start..start + 2)? {
            [b'0', b'x' | b'X'] => {}
            _ => return None,
        }
        self.i += 2;
        self.i += hex_run(self.bytes.get(self.i..)?);
        if !self.word_ends() {
            return None;
        }
        Some((self.i - start - 2, Span::new(start, self.i)))
    }

    /// A number of at most `max`.
    fn number(&mut self, max: u64) -> Option<u64> {
        parse_number(self.word()?.0).filter(|&v| v <= max)
    }

    /// `ALG 0xKEY` after `-E` or `-A`.
    fn keyed_alg(&mut self, kind: AlgKind, last: &mut LastAlg<'s>) -> Option<KeyedAlg> {
        let (name, span) = self.word()?;
        let alg = match *last {
            Some((n, a)) if n == name => a,
            _ => {
                let a = usable_keyed(kind, name)?;
                *last = Some((name, a));
                a
            }
        };
        let (digits, key_span) = self.hex_key()?;
        // An odd count gets a warning from the parser.
        if digits == 0 || digits % 2 == 1 {
            return None;
        }
        let bits = digits / 2 * 8;
        if bits > MAX_KEY_BITS || alg.check_key_bits(bits as u32).is_err() {
            return None;
        }
        Some(KeyedAlg {
            alg,
            extra_flags: 0,
            key: Some(KeyText {
                span: key_span,
                form: KeyForm::Hex,
            }),
            span,
        })
    }
}

/// The last algorithm name of one kind that [`usable_keyed`] accepted, and what it named:
/// a script's statements repeat the same few, so most lookups are one comparison.
pub(super) type LastAlg<'s> = Option<(&'s str, &'static alg::Algorithm)>;

/// What `kind` of algorithm `name` is, if the parser would take it without a word: not
/// one of setkey's old names for other algorithms (which it warns about), one that Linux
/// can use and that takes a key.
fn usable_keyed(kind: AlgKind, name: &str) -> Option<&'static alg::Algorithm> {
    if matches!(name, "des-deriv" | "des-32iv" | "3des-deriv" | "simple") {
        return None;
    }
    let alg = alg::lookup(kind, name)?;
    (alg.usability == Usability::Usable && alg.key_bits != KeyBits::None).then_some(alg)
}

/// The last algorithms [`add`] accepted: encryption, authentication.
pub(super) type LastAlgs<'s> = (LastAlg<'s>, LastAlg<'s>);

/// The `add` statement that starts at or after `at` (after blank lines and comments) in
/// `bytes` (a prefix of `src`), and where the byte after its `;` is; `None`, having
/// consumed nothing, if what is there is not the common shape (see the module docs).
pub(super) fn add<'s>(
    src: &'s str,
    bytes: &'s [u8],
    at: usize,
    last: &mut LastAlgs<'s>,
) -> Option<(Statement, usize)> {
    let mut c = Cursor { src, bytes, i: at };
    c.between_statements();
    let (kw, ks) = c.word()?;
    if kw != "add" {
        return None;
    }
    let src_end = c.endpoint()?;
    let dst_end = c.endpoint()?;
    let proto = match c.word()?.0 {
        "esp" => SaProto::Esp,
        "ah" => SaProto::Ah,
        _ => return None,
    };
    let spi = parse_number(c.word()?.0)
        .filter(|&v| v != 0)
        .and_then(|v| u32::try_from(v).ok())?;
    let mut sa = SaOptions::default();
    let mut algs = Algorithms::default();
    let semi = loop {
        let (opt, _) = match c.next()? {
            Tok::Semi(s) => break s,
            Tok::Word(w, s) => (w, s),
        };
        match opt {
            "-m" if sa.mode.is_none() => {
                sa.mode = Some(match c.word()?.0 {
                    "transport" => Mode::Transport,
                    "tunnel" => Mode::Tunnel,
                    "any" => Mode::Any,
                    "beet" => Mode::Beet,
                    _ => return None,
                })
            }
            // Above 32 the parser warns (Linux caps the window).
            "-r" if sa.replay.is_none() => sa.replay = Some(c.number(32)? as u8),
            "-u" if sa.reqid.is_none() => sa.reqid = Some(c.number(u32::MAX.into())? as u32),
            "-E" if algs.enc.is_none() => {
                algs.enc = Some(c.keyed_alg(AlgKind::Encrypt, &mut last.0)?)
            }
            "-A" if algs.auth.is_none() => {
                algs.auth = Some(c.keyed_alg(AlgKind::Auth, &mut last.1)?)
            }
            _ => return None,
        }
    };
    let complete = match proto {
        SaProto::Esp => algs.enc.is_some(),
        _ => algs.enc.is_none() && algs.auth.is_some(),
    };
    if !complete {
        return None;
    }
    let statement = Statement {
        command: Command::Add(SaAdd {
            opts: AddrOpts::default(),
            src: src_end,
            dst: dst_end,
            proto,
            spi,
            sa,
            algs,
        }),
        span: ks.to(semi),
    };
    Some((statement, c.i))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::parser::{parse_general, parse_one_piece, Parsed};

    /// Everything a parse says, as text: the statements (spans, values, algorithms, key
    /// places), the diagnostics, the count, whether it ended at `exit`.
    fn outcome(p: &Parsed) -> String {
        format!(
            "{:#?}\n{:#?}\n{:?}\n{}\n{}",
            p.statements, p.diags, p.indices, p.count, p.exited
        )
    }

    /// Parses `src` with and without the fast path and requires the same outcome; whether
    /// the fast path took the first statement.
    fn same_both_ways(src: &str) -> bool {
        let general = parse_general(src);
        let fast = parse_one_piece(src);
        assert_eq!(
            outcome(&fast),
            outcome(&general),
            "the fast path changed the parse of {src:?}"
        );
        super::add(src, src.as_bytes(), 0, &mut (None, None)).is_some()
    }

    const AUTH: &str = "0x1111111111111111111111111111111111111111";
    const ENC: &str = "0x22222222222222222222222222222222";

    /// The workload's statement: taken by the fast path.
    #[test]
    fn the_common_statement_takes_the_fast_path_and_parses_the_same() {
        let s = format!("add 10.0.0.1 10.128.0.1 esp 0x1000 -m transport -E aes-cbc {ENC} -A hmac-sha1 {AUTH};\n");
        assert!(same_both_ways(&s));
        let two = format!("{s}# next\n\n{s}");
        assert!(same_both_ways(&two));
        assert_eq!(parse_one_piece(&two).count, 2);
    }

    /// One change at a time to the common statement, each either taken with the same
    /// result or left to the parser: every variation the fast path knows and the
    /// near-misses next to each (the parser's warnings and errors included).
    #[test]
    fn each_variation_parses_the_same_and_only_the_common_shape_is_taken() {
        let base = [
            "add",
            "10.0.0.1",
            "10.128.0.1",
            "esp",
            "0x1000",
            "-m transport",
            &format!("-E aes-cbc {ENC}"),
            &format!("-A hmac-sha1 {AUTH}"),
        ]
        .map(str::to_string);
        let alternatives: [&[&str]; 8] = [
            &[
                "update",
                "get",
                "delete",
                "Add",
                "add2",
                "spdadd",
                "deleteall",
            ],
            &[
                "0.0.0.0",
                "255.255.255.255",
                "256.1.1.1",
                "01.2.3.4",
                "1.2.3",
                "1.2.3.4.5",
                "1.2.3.1234",
                "10.0.0.1[500]",
                "10.0.0.1[any]",
                "10.0.0.1/24",
                "::1",
                "fe80::1%eth0",
                "host.example",
                "-4 10.0.0.1",
                "-n 10.0.0.1",
                "1..2.3",
                "1.2.3.4x",
                "1.2.3.4;",
                "1.2.3.04",
                "10.0.0.10",
                "100.200.250.255",
            ],
            &["::1", "10.0.0.1[4500]", "", "10.1.1.1 10.2.2.2"],
            &[
                "ah",
                "ipcomp",
                "esp-udp",
                "esp-old",
                "ah-old",
                "tcp",
                "ESP",
                "esp-udp 1.2.3.4",
            ],
            &[
                "4096",
                "0",
                "0x0",
                "0xffffffff",
                "0x100000000",
                "0xg",
                "1e3",
                "0X10",
                "",
                "0x",
                "99999999999999999999999",
            ],
            &[
                "-m tunnel",
                "-m any",
                "-m beet",
                "-m bogus",
                "-m",
                "-r 0",
                "-r 32",
                "-r 33",
                "-r 256",
                "-u 5",
                "-u 0x3fff",
                "-u 99999999999",
                "-u x",
                "-f zero-pad",
                "-lh 100",
                "-ctx 1 1 \"x\"",
                "-m transport -m tunnel",
                "-R",
                "-P in none",
                "",
            ],
            &[
                "-E aes-cbc 0x2222222222222222222222222222222",
                "-E aes-cbc 0x222222222222222222222222222222",
                "-E aes-cbc 0x22222222222222222222222222222222222222222222222222222222222222222222",
                "-E aes-cbc 0X2222222222222222222222222222222A",
                "-E aes-cbc 0x2222222222222222222222222222222g",
                "-E aes-cbc 0x22222222222222222222222222222222g",
                "-E aes-cbc \"0123456789abcdef\"",
                "-E aes-cbc <redacted>",
                "-E aes-cbc",
                "-E 3des-cbc 0x222222222222222222222222222222222222222222222222",
                "-E des-deriv 0x2222222222222222",
                "-E des-32iv 0x2222222222222222",
                "-E simple",
                "-E null",
                "-E null 0x00",
                "-E aes-gcm-16 0x2222222222222222222222222222222222222222",
                "-E rijndael-cbc 0x22222222222222222222222222222222",
                "-E 12 0x22222222222222222222222222222222",
                "-E AES-CBC 0x22222222222222222222222222222222",
                "-E hmac-sha1 0x1111111111111111111111111111111111111111",
                "-E twofish-cbc 0x22222222222222222222222222222222",
                "-E des-cbc 0x2222222222222222",
                "-E aes-ctr 0x2222222222222222222222222222222222222222",
                "-C deflate",
                "",
            ],
            &[
                "-A hmac-sha256 0x1111111111111111111111111111111111111111111111111111111111111111",
                "-A hmac-md5 0X11111111111111111111111111111111",
                "-A hmac-sha1 0x111111111111111111111111111111111111111",
                "-A null",
                "-A aes-cbc 0x22222222222222222222222222222222",
                "-A aes-xcbc-mac 0x11111111111111111111111111111111",
                "-A hmac-sha1 \"01234567890123456789\"",
                "-A keyed-md5 0x11111111111111111111111111111111",
                "-A hmac-sha1",
                "-A hmac-sha1 -E aes-cbc 0x22222222222222222222222222222222",
                "",
            ],
        ];
        let mut taken = 0;
        let mut total = 0;
        for (i, alts) in alternatives.iter().enumerate() {
            for alt in alts.iter() {
                let mut words = base.clone();
                words[i] = alt.to_string();
                let stmt = format!("{};", words.join(" "));
                total += 1;
                if same_both_ways(&stmt) {
                    taken += 1;
                }
                // The same inside a script: before and after a common statement, and
                // without its `;` before one (the parser's recovery).
                let common = format!("{};", base.join(" "));
                same_both_ways(&format!("{common}\n{stmt}\n{common}\n"));
                same_both_ways(&format!("{}\n{common}\n{common}", words.join(" ")));
            }
        }
        // AH with -E is refused, so an AH variant alone is not taken: the counts only show
        // that both kinds occur.
        assert!(taken > 20 && taken < total - 40, "{taken} of {total} taken");
    }

    /// Separators, comments, line breaks and ends around and inside the statement.
    #[test]
    fn layout_parses_the_same_and_a_line_break_inside_is_left_to_the_parser() {
        let words = format!("add 10.0.0.1 10.0.0.2 ah 300 -A hmac-sha1 {AUTH}");
        let cases = [
            format!("{words};"),
            format!("\u{feff}{words};"),
            format!("  \t{words} ;"),
            format!("{words};;"),
            format!("{words}; # comment"),
            format!("# comment ; add\n{words};"),
            words.clone(),
            format!("{words}\n;"),
            format!("{words} # comment\n;"),
            format!("{}\n{};", &words[..3], &words[3..]),
            format!("{words}\r\n;"),
            format!("{words};\r\n"),
            format!("{}\t{};", &words[..3], &words[4..]),
            format!("{words}\x0c;"),
            format!("{words}\x01;"),
            format!("{words}é;"),
            format!("{words};exit;{words};"),
            format!("exit;{words};"),
            format!(
                "{words};\nflush;\n{words}\nadd 1.2.3.4 5.6.7.8 ah 1 -A hmac-md5 0x{};",
                "11".repeat(16)
            ),
        ];
        for c in &cases {
            same_both_ways(c);
        }
        assert!(same_both_ways(&cases[0]));
        assert!(same_both_ways(&cases[1][3..]));
        assert!(!same_both_ways(&cases[9]));
    }

    /// Words drawn from the language's vocabulary and near-misses, joined by any
    /// separator: the fast path never changes a parse.
    const WORDS: &[&str] = &[
        "add",
        "add",
        "add",
        "update",
        "get",
        "10.0.0.1",
        "10.0.0.1",
        "1.2.3.4",
        "256.0.0.1",
        "01.0.0.1",
        "::1",
        "host",
        "esp",
        "esp",
        "ah",
        "ipcomp",
        "0x1000",
        "4096",
        "0",
        "-m",
        "transport",
        "tunnel",
        "-r",
        "32",
        "33",
        "-u",
        "7",
        "-E",
        "-E",
        "aes-cbc",
        "3des-cbc",
        "null",
        "simple",
        "des-deriv",
        "-A",
        "-A",
        "hmac-sha1",
        "hmac-md5",
        "hmac-sha256",
        "0x22222222222222222222222222222222",
        "0x1111111111111111111111111111111111111111",
        "0x11111111111111111111111111111111",
        "0x111",
        "0xzz",
        "\"0123456789abcdef\"",
        ";",
        ";",
        ";",
        "[",
        "]",
        "/",
        "#",
        "\"",
        "-C",
        "deflate",
        "-f",
        "zero-pad",
        "exit",
    ];
    const SEPARATORS: &[&str] = &[" ", " ", " ", "\t", "\n", "", "  ", "\r\n", " # c\n"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn generated_scripts_parse_the_same_with_and_without_the_fast_path(
            parts in proptest::collection::vec(
                (proptest::sample::select(WORDS), proptest::sample::select(SEPARATORS)),
                0..40,
            )
        ) {
            let src: String = parts.iter().flat_map(|(w, s)| [*w, *s]).collect();
            same_both_ways(&src);
        }

        #[test]
        fn mutated_common_statements_parse_the_same(
            edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4)
        ) {
            let mut b = format!(
                "add 10.0.0.1 10.128.0.1 esp 0x1000 -m transport -E aes-cbc {ENC} -A hmac-sha1 {AUTH};\n"
            ).into_bytes();
            for (at, byte) in edits {
                let i = at.index(b.len());
                // Mostly the bytes the language is made of, sometimes any byte.
                b[i] = if byte < 200 { b" ;#\"/[]-.0123456789abcdefx\n\tAZ"[usize::from(byte) % 30] } else { byte };
            }
            let src = String::from_utf8_lossy(&b);
            same_both_ways(&src);
        }
    }
}
