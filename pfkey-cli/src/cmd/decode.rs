//! `pfkey decode`: raw PF_KEY messages (binary or hex text) to text or JSON.
//!
//! Input is one message or several concatenated ones; each is framed by its
//! `sadb_msg_len` (RFC 2367 §2.1: length in 64-bit words, header included). A
//! message that does not parse is reported with its number and input offset and
//! decoding goes on with the next one (its length is still known); a header whose
//! length cannot be trusted ends the input. Any failure makes the exit status 65.

use std::io::{self, Read, Write as _};
use std::path::Path;

use pfkey::wire::{SadbMsg, WORD};
use pfkey::Message;

use crate::cli::DecodeArgs;
use crate::exit::{Exit, Failure};
use crate::output::{json, text, Format, Output};

/// Runs `pfkey decode`.
pub fn run(args: &DecodeArgs, out: &mut Output) -> Result<(), Failure> {
    let (data, source) = read_input(args.file.as_deref())?;
    let hex = if args.hex {
        true
    } else if args.binary {
        false
    } else {
        looks_like_text(&data)
    };
    let bytes = if hex {
        parse_hex(&data).map_err(|e| Failure::new(Exit::DataError, format!("{source}: {e}")))?
    } else {
        data
    };
    out.note(
        1,
        &format!(
            "{source}: {} input, {} bytes of messages",
            if hex { "hex text" } else { "binary" },
            bytes.len()
        ),
    );
    if bytes.is_empty() {
        return Err(Failure::new(
            Exit::DataError,
            format!("{source}: no messages (the input is empty)"),
        ));
    }

    let mut failed = 0usize;
    let mut offset = 0usize;
    let mut number = 0usize;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        if number > 0 && rest.iter().all(|&b| b == 0) {
            out.warn(&format!(
                "{source}: ignoring {} zero bytes after the last message (padding?)",
                rest.len()
            ));
            break;
        }
        number += 1;
        let len = match frame(rest) {
            Ok(len) => len,
            Err(problem) => {
                failed += 1;
                report(out, number, offset, rest.len(), None, &problem)?;
                break;
            }
        };
        let raw = &rest[..len];
        match Message::parse(raw) {
            Ok(msg) => show(out, number, offset, &msg, args.show_keys)?,
            Err(e) => {
                failed += 1;
                report(
                    out,
                    number,
                    offset,
                    len,
                    Some(json::error(&e)),
                    &e.to_string(),
                )?;
            }
        }
        offset += len;
    }
    if failed > 0 {
        out.note(
            1,
            &format!("{source}: {failed} of {number} messages could not be decoded"),
        );
        return Err(Failure::Reported(Exit::DataError));
    }
    Ok(())
}

/// Reads the whole input: a file, or standard input for `None` and `-`.
fn read_input(file: Option<&Path>) -> Result<(Vec<u8>, String), Failure> {
    let mut data = Vec::new();
    match file {
        None => read_stdin(&mut data)?,
        Some(p) if p == Path::new("-") => read_stdin(&mut data)?,
        Some(p) => {
            let name = p.display().to_string();
            let mut f = std::fs::File::open(p).map_err(|e| {
                Failure::new(
                    Exit::NoInput,
                    format!("cannot open {name}: {}", io_text(&e)),
                )
            })?;
            f.read_to_end(&mut data).map_err(|e| {
                Failure::new(Exit::Io, format!("cannot read {name}: {}", io_text(&e)))
            })?;
            return Ok((data, name));
        }
    }
    Ok((data, "standard input".to_owned()))
}

fn read_stdin(data: &mut Vec<u8>) -> Result<(), Failure> {
    io::stdin().lock().read_to_end(data).map_err(|e| {
        Failure::new(
            Exit::Io,
            format!("cannot read standard input: {}", io_text(&e)),
        )
    })?;
    Ok(())
}

/// An I/O error without Rust's "(os error N)" suffix.
fn io_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// True when the input can be hex text: no control bytes besides whitespace.
/// Binary PF_KEY always has one: every message starts with version byte 2.
fn looks_like_text(data: &[u8]) -> bool {
    data.iter()
        .all(|&b| !b.is_ascii_control() || matches!(b, b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
}

/// Hex text to bytes. Ignored: whitespace, `:` `,` `-` separators, `#` comments to
/// the end of the line. A token may start with `0x`; such a token is a whole
/// number of bytes, so an odd-length one gets a leading 0 (`0x2,0x5d` is 02 5d).
/// Unprefixed digits run on across separators (`0203 0a0b`, `02:03`).
fn parse_hex(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len() / 2);
    let mut half: Option<u8> = None; // a pending high nibble
    for (lineno, line) in data.split(|&b| b == b'\n').enumerate() {
        let line = match line.iter().position(|&b| b == b'#') {
            Some(i) => &line[..i],
            None => line,
        };
        let mut col = 0;
        while col < line.len() {
            let c = line[col];
            if c.is_ascii_whitespace() || matches!(c, b':' | b',' | b'-') {
                col += 1;
                continue;
            }
            let token_start = col == 0 || {
                let p = line[col - 1];
                p.is_ascii_whitespace() || matches!(p, b':' | b',' | b'-')
            };
            if token_start && c == b'0' && matches!(line.get(col + 1), Some(b'x' | b'X')) {
                let start = col + 2;
                let end = line[start..]
                    .iter()
                    .position(|b| !b.is_ascii_hexdigit())
                    .map_or(line.len(), |n| start + n);
                if end == start {
                    return Err(format!(
                        "line {}, column {}: `0x` without hex digits",
                        lineno + 1,
                        col + 1
                    ));
                }
                if half.is_some() {
                    return Err(format!(
                        "line {}, column {}: `0x` number starts in the middle of a byte \
                         (an odd number of hex digits comes before it)",
                        lineno + 1,
                        col + 1
                    ));
                }
                let digits = &line[start..end];
                if digits.len() % 2 == 1 {
                    half = Some(0);
                }
                for &d in digits {
                    push_digit(&mut out, &mut half, d);
                }
                col = end;
                continue;
            }
            if !c.is_ascii_hexdigit() {
                let shown = std::str::from_utf8(&line[col..])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .map_or_else(|| format!("byte 0x{c:02x}"), |ch| format!("{ch:?}"));
                return Err(format!(
                    "line {}, column {}: {shown} is not a hex digit",
                    lineno + 1,
                    col + 1
                ));
            }
            push_digit(&mut out, &mut half, c);
            col += 1;
        }
    }
    if half.is_some() {
        return Err(format!(
            "odd number of hex digits ({} and a half bytes)",
            out.len()
        ));
    }
    Ok(out)
}

fn push_digit(out: &mut Vec<u8>, half: &mut Option<u8>, d: u8) {
    let v = match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        _ => d.wrapping_sub(b'A').wrapping_add(10) & 0x0f,
    };
    match half.take() {
        Some(hi) => out.push(hi << 4 | v),
        None => *half = Some(v),
    }
}

/// The length of the message at the start of `rest`, from its `sadb_msg_len`, or
/// why it cannot be known (then nothing after it can be framed either).
fn frame(rest: &[u8]) -> Result<usize, String> {
    if rest.len() < SadbMsg::SIZE {
        return Err(format!(
            "only {} bytes left, fewer than the 16-byte sadb_msg header",
            rest.len()
        ));
    }
    let words = u16::from_ne_bytes([rest[4], rest[5]]);
    let len = words as usize * WORD;
    if len < SadbMsg::SIZE {
        return Err(format!(
            "sadb_msg_len is {words} words; a message is at least 2 words (16 bytes), \
             so the rest of the input cannot be split into messages"
        ));
    }
    if len > rest.len() {
        return Err(format!(
            "sadb_msg_len is {words} words ({len} bytes) but only {} bytes are left: \
             the message is truncated",
            rest.len()
        ));
    }
    Ok(len)
}

fn show(
    out: &mut Output,
    number: usize,
    offset: usize,
    msg: &Message<'_>,
    show_keys: bool,
) -> Result<(), Failure> {
    let len = msg.as_bytes().len();
    match out.format {
        Format::Text => {
            let verbose = out.verbose;
            let w = out.stdout();
            let r = (|| {
                if number > 1 {
                    writeln!(w)?;
                }
                if verbose > 0 {
                    writeln!(w, "# message {number}: input offset {offset}, {len} bytes")?;
                }
                text::message(w, msg, show_keys)
            })();
            r.map_err(Failure::stdout)
        }
        Format::Json => {
            let line = json::DecodedJson {
                number,
                offset,
                length: len,
                message: Some(json::message(msg, show_keys)),
                error: None,
            };
            json::line(out.stdout(), &line).map_err(Failure::stdout)
        }
    }
}

/// Reports a message that did not decode: on stderr always, and as a JSON line
/// with `--json`.
fn report(
    out: &mut Output,
    number: usize,
    offset: usize,
    length: usize,
    error: Option<json::ErrorJson>,
    problem: &str,
) -> Result<(), Failure> {
    out.error(&format!(
        "message {number} (input offset {offset}): {problem}"
    ));
    if out.format == Format::Json {
        let line = json::DecodedJson {
            number,
            offset,
            length,
            message: None,
            error: Some(error.unwrap_or_else(|| json::ErrorJson {
                message: problem.to_owned(),
                ext: None,
                at: None,
            })),
        };
        json::line(out.stdout(), &line).map_err(Failure::stdout)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms() {
        assert_eq!(parse_hex(b"0203 0a0B\n").unwrap(), [2, 3, 10, 11]);
        assert_eq!(
            parse_hex(b"02:03:0a # comment 0xzz\n0b").unwrap(),
            [2, 3, 10, 11]
        );
        assert_eq!(parse_hex(b"0x2,0x5d,0x0,0xff").unwrap(), [2, 0x5d, 0, 0xff]);
        assert_eq!(parse_hex(b"0x0203\r\n0X0a").unwrap(), [2, 3, 10]);
        assert_eq!(parse_hex(b"0\n2").unwrap(), [2]);
        assert_eq!(parse_hex(b"# only a comment\n").unwrap(), [] as [u8; 0]);
    }

    #[test]
    fn hex_errors_say_where() {
        assert_eq!(
            parse_hex(b"0203\n02g3").unwrap_err(),
            "line 2, column 3: 'g' is not a hex digit"
        );
        assert_eq!(
            parse_hex(b"020").unwrap_err(),
            "odd number of hex digits (1 and a half bytes)"
        );
        assert!(parse_hex(b"0 0x12")
            .unwrap_err()
            .contains("middle of a byte"));
        assert!(parse_hex(b"0x").unwrap_err().contains("without hex digits"));
        assert_eq!(
            parse_hex("é".as_bytes()).unwrap_err(),
            "line 1, column 1: 'é' is not a hex digit"
        );
    }

    #[test]
    fn detection() {
        assert!(looks_like_text(b"0203 # x\r\n\t"));
        assert!(!looks_like_text(&[2, 10, 0, 3]));
        assert!(looks_like_text("# café\n02".as_bytes()));
    }

    #[test]
    fn framing() {
        let mut h = [0u8; 24];
        h[4] = 3;
        assert_eq!(frame(&h), Ok(24));
        assert!(frame(&h[..16]).unwrap_err().contains("truncated"));
        assert!(frame(&h[..8]).unwrap_err().contains("fewer than"));
        h[4] = 1;
        assert!(frame(&h).unwrap_err().contains("at least 2 words"));
    }
}
