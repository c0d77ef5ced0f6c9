//! Parsing what administrators type: keys, SPIs, addresses, durations, byte counts
//! and algorithm names, with errors that say what is wrong and what would be right.

use std::io::Read;
use std::net::IpAddr;

use pfkey::alg::{self, AlgKind, Algorithm};
use zeroize::Zeroizing;

/// A user input error, one line, ready to print after `pfkey: `.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputError {
    /// Bad key text.
    #[error("{what}: {problem}")]
    Key {
        /// Which key (`--enc-key`, `--auth-key`).
        what: String,
        /// What is wrong.
        problem: String,
    },
    /// Any other bad value.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> InputError {
    InputError::Invalid(msg.into())
}

/// Where a key came from; keys typed on the command line are visible to other
/// users in `ps` and `/proc/PID/cmdline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `0x…` or `"…"` on the command line.
    CommandLine,
    /// `@FILE`.
    File,
    /// `-` (standard input).
    Stdin,
    /// `random`: generated here.
    Random,
}

/// Key material read from the user, zeroized on drop.
pub struct KeyInput {
    /// The key bytes.
    pub bytes: Zeroizing<Vec<u8>>,
    /// Where they came from.
    pub origin: KeyOrigin,
}

impl std::fmt::Debug for KeyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KeyInput({} bytes from {:?}, redacted)",
            self.bytes.len(),
            self.origin
        )
    }
}

/// The forms a key may take, for error messages.
pub const KEY_FORMS: &str =
    "give 0x-prefixed hex, a \"quoted string\", @FILE, - for standard input, or random";

/// Parses a key argument.
///
/// - `0x0123…`: hex, an even number of digits;
/// - `"text"` (the quotes are part of the argument, so quote them for the shell:
///   `'"text"'`): the bytes between the quotes, as setkey takes them;
/// - `@PATH`: the file's contents, in either of the forms above, or raw bytes if
///   neither (a trailing newline after a text form is ignored);
/// - `-`: the same, from standard input;
/// - `random`: `random_bits` fresh bits from the kernel's generator.
pub fn parse_key(what: &str, arg: &str, random_bits: u32) -> Result<KeyInput, InputError> {
    let err = |problem: String| InputError::Key {
        what: what.to_string(),
        problem,
    };
    match arg {
        "random" => {
            if random_bits == 0 {
                return Err(err("this algorithm takes no key".into()));
            }
            let mut bytes = Zeroizing::new(vec![0u8; random_bits.div_ceil(8) as usize]);
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut bytes))
                .map_err(|e| err(format!("cannot read /dev/urandom: {e}")))?;
            Ok(KeyInput {
                bytes,
                origin: KeyOrigin::Random,
            })
        }
        "-" => {
            let mut raw = Zeroizing::new(Vec::new());
            std::io::stdin()
                .read_to_end(&mut raw)
                .map_err(|e| err(format!("cannot read standard input: {e}")))?;
            Ok(KeyInput {
                bytes: key_from_contents(&raw).map_err(err)?,
                origin: KeyOrigin::Stdin,
            })
        }
        _ if arg.starts_with('@') => {
            let path = &arg[1..];
            let raw = Zeroizing::new(
                std::fs::read(path)
                    .map_err(|e| err(format!("cannot read key file {path}: {e}")))?,
            );
            Ok(KeyInput {
                bytes: key_from_contents(&raw).map_err(err)?,
                origin: KeyOrigin::File,
            })
        }
        _ => Ok(KeyInput {
            bytes: key_from_text(arg.as_bytes())
                .ok_or_else(|| err(format!("'{}…' is not a key: {KEY_FORMS}", preview(arg))))?
                .map_err(err)?,
            origin: KeyOrigin::CommandLine,
        }),
    }
}

/// Shows at most the first 4 characters of something that may be secret.
fn preview(s: &str) -> String {
    s.chars().take(4).collect()
}

/// `Some(Ok)` for hex or a quoted string, `Some(Err)` for malformed hex, `None` for
/// neither form.
fn key_from_text(t: &[u8]) -> Option<Result<Zeroizing<Vec<u8>>, String>> {
    if let Some(hex) = t.strip_prefix(b"0x").or_else(|| t.strip_prefix(b"0X")) {
        return Some(decode_hex(hex));
    }
    if t.len() >= 2 && t[0] == b'"' && t[t.len() - 1] == b'"' {
        return Some(Ok(Zeroizing::new(t[1..t.len() - 1].to_vec())));
    }
    None
}

fn decode_hex(hex: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    if hex.is_empty() {
        return Err("0x needs hex digits after it".into());
    }
    if let Some(pos) = hex.iter().position(|c| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "'{}' at position {} is not a hex digit",
            hex[pos].escape_ascii(),
            pos + 3
        ));
    }
    if !hex.len().is_multiple_of(2) {
        return Err(format!(
            "{} hex digits is an odd number; a key is whole bytes (two digits each)",
            hex.len()
        ));
    }
    let mut out = Zeroizing::new(vec![0u8; hex.len() / 2]);
    hex::decode_to_slice(hex, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn key_from_contents(raw: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    let trimmed = raw.strip_suffix(b"\n").unwrap_or(raw);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    match key_from_text(trimmed) {
        Some(r) => r,
        None if raw.is_empty() => Err("the key is empty".into()),
        None => Ok(Zeroizing::new(raw.to_vec())),
    }
}

/// Parses an SPI (decimal or `0x` hex). SPI 0 is reserved (RFC 4303 §2.1); an
/// IPComp CPI is 16 bits (RFC 3173 §2.2).
pub fn parse_spi(arg: &str, ipcomp: bool) -> Result<u32, InputError> {
    let v = parse_u64(arg).ok_or_else(|| {
        invalid(format!(
            "SPI '{arg}' is not a number (decimal, or hex with 0x)"
        ))
    })?;
    let max: u64 = if ipcomp { 0xffff } else { u32::MAX as u64 };
    if v == 0 {
        return Err(invalid(
            "SPI 0 is reserved (RFC 4303 §2.1); use 0x100 or above",
        ));
    }
    if v > max {
        return Err(invalid(if ipcomp {
            format!("CPI {arg} is out of range: an IPComp CPI is 16 bits (at most 0xffff)")
        } else {
            format!("SPI {arg} is out of range: an SPI is 32 bits (at most 0xffffffff)")
        }));
    }
    Ok(v as u32)
}

/// Parses `MIN-MAX` for GETSPI (each decimal or `0x` hex).
pub fn parse_spi_range(arg: &str) -> Result<(u32, u32), InputError> {
    let (a, b) = arg.split_once('-').ok_or_else(|| {
        invalid(format!(
            "SPI range '{arg}' must be MIN-MAX, e.g. 0x100-0xfff"
        ))
    })?;
    let lo = parse_spi(a.trim(), false)?;
    let hi = parse_spi(b.trim(), false)?;
    if lo > hi {
        return Err(invalid(format!(
            "SPI range '{arg}' is empty: {a} is above {b}"
        )));
    }
    Ok((lo, hi))
}

/// Parses a decimal or `0x` hexadecimal unsigned number.
pub fn parse_u64(arg: &str) -> Option<u64> {
    let arg = arg.trim();
    match arg.strip_prefix("0x").or_else(|| arg.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => arg.parse().ok(),
    }
}

/// Parses an IP address (no prefix, no port), naming the option in the error.
pub fn parse_addr(what: &str, arg: &str) -> Result<IpAddr, InputError> {
    arg.parse().map_err(|_| {
        let hint = if arg.contains('/') {
            " (an SA endpoint is one host: drop the prefix)"
        } else if arg
            .chars()
            .any(|c| c.is_ascii_alphabetic() && !c.is_ascii_hexdigit())
        {
            " (give a numeric IPv4 or IPv6 address; names are not resolved)"
        } else {
            ""
        };
        invalid(format!("{what} '{arg}' is not an IP address{hint}"))
    })
}

/// Checks that source and destination are of one family (af_key requires it).
pub fn same_family(src: IpAddr, dst: IpAddr) -> Result<(), InputError> {
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(invalid(format!(
            "source {src} and destination {dst} mix IPv4 and IPv6; both ends of an SA must be of one family"
        )));
    }
    Ok(())
}

/// Parses a duration: plain seconds, or numbers with units `s`, `m`, `h`, `d`, `w`
/// (e.g. `90`, `1h30m`, `2d`).
pub fn parse_duration(arg: &str) -> Result<u64, InputError> {
    let bad = || {
        invalid(format!(
            "duration '{arg}' is not seconds or a span like 90s, 30m, 1h30m, 2d"
        ))
    };
    let s = arg.trim();
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(v) = s.parse::<u64>() {
        return Ok(v);
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// Parses a byte count: a number with an optional binary suffix `K`, `M`, `G`, `T`
/// (also `KiB` … ) meaning powers of 1024.
pub fn parse_bytes(arg: &str) -> Result<u64, InputError> {
    let bad = || {
        invalid(format!(
            "byte count '{arg}' is not a number like 1000000, 512K, 100M or 2G"
        ))
    };
    let s = arg.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// Resolves an algorithm name of one kind, refusing what Linux PF_KEY cannot do,
/// with a suggestion for typos.
pub fn parse_alg(kind: AlgKind, name: &str) -> Result<&'static Algorithm, InputError> {
    if let Some(a) = alg::lookup(kind, name) {
        if !a.usability.is_usable() {
            return Err(invalid(format!(
                "{kind} algorithm '{name}' ({}) cannot be used through Linux PF_KEY: {}",
                a.name,
                a.usability.reason()
            )));
        }
        return Ok(a);
    }
    if let Some(hint) = alg::unsupported_hint(kind, name) {
        return Err(invalid(format!("{kind} algorithm '{name}': {hint}")));
    }
    let mut msg = format!("unknown {kind} algorithm '{name}'");
    if let Some(s) = alg::suggest(kind, name) {
        msg.push_str(&format!(" (did you mean {s}?)"));
    }
    msg.push_str("; `pfkey algorithms` lists what this kernel supports");
    Err(invalid(msg))
}

/// Checks a key's length against the algorithm's valid sizes.
pub fn check_key(alg: &Algorithm, option: &str, key: &KeyInput) -> Result<(), InputError> {
    let bits = key.bytes.len() as u32 * 8;
    alg.check_key_bits(bits)
        .map_err(|e| invalid(format!("{option}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_every_form() {
        let k = parse_key("--enc-key", "0x00112233", 0).unwrap();
        assert_eq!(&k.bytes[..], &[0, 0x11, 0x22, 0x33]);
        assert_eq!(k.origin, KeyOrigin::CommandLine);
        let k = parse_key("--enc-key", "\"abc\"", 0).unwrap();
        assert_eq!(&k.bytes[..], b"abc");
        let k = parse_key("--auth-key", "random", 160).unwrap();
        assert_eq!(k.bytes.len(), 20);
        assert_eq!(k.origin, KeyOrigin::Random);
        let dir = std::env::temp_dir().join(format!("pfkey-key-{}", std::process::id()));
        std::fs::write(&dir, "0xaabb\n").unwrap();
        let k = parse_key("--auth-key", &format!("@{}", dir.display()), 0).unwrap();
        assert_eq!(&k.bytes[..], &[0xaa, 0xbb]);
        assert_eq!(k.origin, KeyOrigin::File);
        std::fs::write(&dir, [1u8, 2, 3]).unwrap();
        let k = parse_key("--auth-key", &format!("@{}", dir.display()), 0).unwrap();
        assert_eq!(&k.bytes[..], &[1, 2, 3]);
        std::fs::remove_file(&dir).unwrap();
        assert!(!format!("{k:?}").contains("1, 2, 3"));
    }

    #[test]
    fn key_errors_are_precise() {
        let e = parse_key("--enc-key", "0x123", 0).unwrap_err().to_string();
        assert_eq!(
            e,
            "--enc-key: 3 hex digits is an odd number; a key is whole bytes (two digits each)"
        );
        let e = parse_key("--enc-key", "0x12zz", 0).unwrap_err().to_string();
        assert_eq!(e, "--enc-key: 'z' at position 5 is not a hex digit");
        let e = parse_key("--enc-key", "secretvalue", 0)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--enc-key: 'secr…' is not a key"), "{e}");
        assert!(
            !e.contains("secretvalue"),
            "the error must not echo the key: {e}"
        );
        let e = parse_key("--auth-key", "@/nonexistent/key", 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read key file /nonexistent/key"), "{e}");
        assert!(parse_key("--enc-key", "0x", 0).is_err());
        assert!(parse_key("--enc-key", "random", 0).is_err());
    }

    #[test]
    fn spis() {
        assert_eq!(parse_spi("0x1000", false), Ok(0x1000));
        assert_eq!(parse_spi("4096", false), Ok(4096));
        assert_eq!(parse_spi("0xffffffff", false), Ok(u32::MAX));
        assert!(parse_spi("0x100000000", false)
            .unwrap_err()
            .to_string()
            .contains("32 bits"));
        assert!(parse_spi("0", false)
            .unwrap_err()
            .to_string()
            .contains("reserved"));
        assert!(parse_spi("0x10000", true)
            .unwrap_err()
            .to_string()
            .contains("16 bits"));
        assert!(parse_spi("abc", false).is_err());
        assert_eq!(parse_spi_range("0x100-0x1ff"), Ok((0x100, 0x1ff)));
        assert!(parse_spi_range("0x200-0x100").is_err());
        assert!(parse_spi_range("100").is_err());
    }

    #[test]
    fn addresses() {
        assert!(parse_addr("--src", "10.0.0.1").is_ok());
        assert!(parse_addr("--src", "2001:db8::1").is_ok());
        let e = parse_addr("--src", "10.0.0.1/24").unwrap_err().to_string();
        assert!(e.contains("drop the prefix"), "{e}");
        let e = parse_addr("--dst", "example.org").unwrap_err().to_string();
        assert!(e.contains("numeric"), "{e}");
        let e = same_family("10.0.0.1".parse().unwrap(), "::1".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("mix IPv4 and IPv6"), "{e}");
    }

    #[test]
    fn durations_and_bytes() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert!(parse_duration("1x").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("10m5").is_err());
        assert_eq!(parse_bytes("512K"), Ok(512 * 1024));
        assert_eq!(parse_bytes("100M"), Ok(100 << 20));
        assert_eq!(parse_bytes("7"), Ok(7));
        assert!(parse_bytes("5Q").is_err());
        assert!(parse_bytes("99999999999999999999T").is_err());
    }

    #[test]
    fn algorithms() {
        assert_eq!(parse_alg(AlgKind::Encrypt, "aes").unwrap().id, 12);
        assert_eq!(parse_alg(AlgKind::Auth, "md5").unwrap().id, 2);
        let e = parse_alg(AlgKind::Encrypt, "aes-gcm")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be used through Linux PF_KEY"), "{e}");
        let e = parse_alg(AlgKind::Encrypt, "aes-cbx")
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean"), "{e}");
        let aes = parse_alg(AlgKind::Encrypt, "aes").unwrap();
        let k = parse_key("--enc-key", "0x0011", 0).unwrap();
        let e = check_key(aes, "--enc-key", &k).unwrap_err().to_string();
        assert!(e.contains("128, 192 or 256"), "{e}");
    }
}
