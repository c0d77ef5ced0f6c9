//! SAs for people and for programs: a readable text block ([`write_text`]) and the
//! stable JSON object of JSON.md, "SA" ([`write_json`]).
//!
//! Both are built from [`SaInfo`], the client's owned view of an SA message (a dump
//! entry, a GET reply). Keys are shown only when asked: the text says `<hidden>`, the
//! JSON leaves the `key` field out.

use std::borrow::Cow;
use std::io::{self, Write};
use std::net::IpAddr;

use pfkey::alg::{by_id, display_id, AlgKind};
use pfkey::client::SaInfo;
use pfkey::render::{ip_proto_name, SA_FLAG_NAMES};
use pfkey::repr::{Key, Lifetime};
use pfkey::wire::{SaType, UDP_ENCAP_ESPINUDP, UDP_ENCAP_ESPINUDP_NON_IKE};
use serde::{Serialize, Serializer};
use zeroize::Zeroizing;

use super::text::{label, sec_ctx};

pub use super::time::now;

/// The system time zone (`TZ`, else `/etc/localtime`, else UTC), read once.
fn zone() -> &'static jiff::tz::TimeZone {
    static ZONE: std::sync::OnceLock<jiff::tz::TimeZone> = std::sync::OnceLock::new();
    ZONE.get_or_init(jiff::tz::TimeZone::system)
}

// The text block is written piece by piece straight into the (buffered) writer: no
// `String` per line, no `format!`, and integers through `itoa` rather than the `fmt`
// machinery. A dump prints tens of thousands of blocks, and under emulation every
// instruction counts.

/// An integer in decimal.
fn num(w: &mut impl Write, n: impl itoa::Integer) -> io::Result<()> {
    w.write_all(itoa::Buffer::new().format(n).as_bytes())
}

/// `0x%08x`, as ASCII.
fn hex32_text(v: u32) -> [u8; 10] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = *b"0x00000000";
    for (i, d) in text[2..].iter_mut().enumerate() {
        *d = DIGITS[(v >> (28 - 4 * i) & 0xf) as usize];
    }
    text
}

/// `0x%08x`.
fn hex32(w: &mut impl Write, v: u32) -> io::Result<()> {
    w.write_all(&hex32_text(v))
}

/// An IP address as `Display` writes it (IPv4 dotted quads without `fmt`, made on the
/// stack and written at once: every SA line has two or three).
fn ip(w: &mut impl Write, addr: IpAddr) -> io::Result<()> {
    match addr {
        IpAddr::V4(a) => {
            // At most `255.255.255.255`, 15 bytes.
            let mut text = [0u8; 15];
            let mut len = 0;
            for (i, o) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    text[len] = b'.';
                    len += 1;
                }
                if o >= 100 {
                    text[len] = b'0' + o / 100;
                    len += 1;
                }
                if o >= 10 {
                    text[len] = b'0' + o / 10 % 10;
                    len += 1;
                }
                text[len] = b'0' + o % 10;
                len += 1;
            }
            w.write_all(&text[..len])
        }
        IpAddr::V6(a) => write!(w, "{a}"),
    }
}

/// A wire enum's name (`esp`, `mature`), or its `Display` (`unknown(N)`) when unnamed.
fn name(w: &mut impl Write, name: Option<&str>, value: impl std::fmt::Display) -> io::Result<()> {
    match name {
        Some(n) => w.write_all(n.as_bytes()),
        None => write!(w, "{value}"),
    }
}

/// An algorithm's name, as [`display_id`] shows it.
fn alg_name(w: &mut impl Write, kind: AlgKind, id: u8) -> io::Result<()> {
    name(w, by_id(kind, id).map(|a| a.name), display_id(kind, id))
}

/// A span of seconds as `1h30m`, `2d`, `45s` (the forms `--hard-time` accepts).
fn write_span(w: &mut impl Write, secs: u64) -> io::Result<()> {
    if secs == 0 {
        return w.write_all(b"0s");
    }
    let mut rest = secs;
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        let q = rest / n;
        if q > 0 {
            num(w, q)?;
            w.write_all(unit.as_bytes())?;
            rest %= n;
        }
    }
    Ok(())
}

/// A byte count, with a binary-unit approximation from 1 KiB on:
/// `512 bytes`, `104857600 bytes (100 MiB)`.
fn write_byte_count(w: &mut impl Write, n: u64) -> io::Result<()> {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    num(w, n)?;
    w.write_all(b" bytes")?;
    if n < 1024 {
        return Ok(());
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let approx = format!("{v:.1}");
    let approx = approx.strip_suffix(".0").unwrap_or(&approx);
    write!(w, " ({approx} {})", UNITS[unit])
}

/// A Unix time as local time (`TZ`, `/etc/localtime`; UTC when neither is set):
/// `2026-11-27 08:05:12 CET`.
pub fn local_time(t: u64) -> String {
    let formatted = i64::try_from(t)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|ts| {
            ts.to_zoned(zone().clone())
                .strftime("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        });
    formatted.unwrap_or_else(|| format!("@{t}"))
}

/// [`local_time`], remembering the last time formatted: the SAs of a dump were mostly
/// added in batches, so neighbours share their second, and the time-zone conversion
/// costs more than all the rest of a text block.
fn write_local_time(w: &mut impl Write, t: u64) -> io::Result<()> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(u64, String)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| {
        let text = match last {
            Some((at, text)) if *at == t => text,
            _ => &last.insert((t, local_time(t))).1,
        };
        w.write_all(text.as_bytes())
    })
}

/// `2026-11-27 08:05:12 UTC (3m5s ago)`.
fn time_and_age(w: &mut impl Write, t: u64, now: u64) -> io::Result<()> {
    write_local_time(w, t)?;
    if now >= t {
        w.write_all(b" (")?;
        write_span(w, now - t)?;
        w.write_all(b" ago)")
    } else {
        w.write_all(b" (in ")?;
        write_span(w, t - now)?;
        w.write_all(b")")
    }
}

/// The algorithm kind of `sadb_sa_encrypt` for an SA type (IPComp: compression).
fn enc_kind(satype: SaType) -> AlgKind {
    if satype == SaType::IpComp {
        AlgKind::Compress
    } else {
        AlgKind::Encrypt
    }
}

/// Names of the set `SADB_SAFLAGS_*` bits; unnamed bits as one `0x…` entry.
pub fn flag_names(flags: u32) -> Vec<String> {
    let mut names = Vec::new();
    let _ = each_flag_name(flags, |part| {
        names.push(part.map_or_else(|rest| format!("0x{rest:x}"), str::to_owned));
        Ok(())
    });
    names
}

/// `espinudp`, `espinudp-non-ike`, `unknown(N)`.
fn nat_t_type_name(t: u8) -> Cow<'static, str> {
    match t {
        UDP_ENCAP_ESPINUDP => "espinudp".into(),
        UDP_ENCAP_ESPINUDP_NON_IKE => "espinudp-non-ike".into(),
        other => format!("unknown({other})").into(),
    }
}

/// A PROXY selector worth showing: anything narrower than "everything" (Linux reports
/// `0.0.0.0/0` for SAs added without one).
fn interesting_proxy(sa: &SaInfo) -> Option<&pfkey::repr::Address> {
    sa.proxy.as_ref().filter(|p| p.prefix_len != 0)
}

/// `aes-cbc, 128-bit key <hidden>` / `… key 0x0011…`.
fn write_alg(
    w: &mut impl Write,
    kind: AlgKind,
    id: u8,
    key: Option<&Key>,
    show_keys: bool,
) -> io::Result<()> {
    alg_name(w, kind, id)?;
    match key {
        Some(k) if k.bits > 0 => {
            w.write_all(b", ")?;
            num(w, k.bits)?;
            w.write_all(b"-bit key ")?;
            if show_keys {
                let text = Zeroizing::new(hex::encode(&k.data[..]));
                w.write_all(b"0x")?;
                w.write_all(text.as_bytes())?;
            } else {
                w.write_all(b"<hidden>")?;
            }
        }
        Some(_) => w.write_all(b", no key")?,
        None => {}
    }
    w.write_all(b"\n")
}

/// The parts of a hard or soft lifetime that are set, or `none`, and a newline.
fn limits(w: &mut impl Write, l: &Lifetime) -> io::Result<()> {
    let mut sep: &[u8] = b"";
    if l.addtime != 0 {
        write_span(w, l.addtime)?;
        w.write_all(b" after add")?;
        sep = b", ";
    }
    if l.usetime != 0 {
        w.write_all(sep)?;
        write_span(w, l.usetime)?;
        w.write_all(b" after first use")?;
        sep = b", ";
    }
    if l.bytes != 0 {
        w.write_all(sep)?;
        write_byte_count(w, l.bytes)?;
        sep = b", ";
    }
    if l.allocations != 0 {
        w.write_all(sep)?;
        num(w, l.allocations)?;
        w.write_all(b" packets")?;
        sep = b", ";
    }
    if sep.is_empty() {
        w.write_all(b"none")?;
    }
    w.write_all(b"\n")
}

/// Writes one SA as a text block: a title line (protocol, SPI in hex and decimal,
/// endpoints) and one indented `label value` line per property, then nothing else (the
/// caller separates blocks). `now` is the current Unix time, for ages.
pub fn write_text(w: &mut impl Write, sa: &SaInfo, show_keys: bool, now: u64) -> io::Result<()> {
    name(w, sa.satype.name(), sa.satype)?;
    w.write_all(b" spi ")?;
    hex32(w, sa.spi)?;
    w.write_all(b" (")?;
    num(w, sa.spi)?;
    w.write_all(b") ")?;
    ip(w, sa.src.addr.ip())?;
    w.write_all(b" -> ")?;
    ip(w, sa.dst.addr.ip())?;
    w.write_all(b"\n")?;
    label(w, "state")?;
    name(w, sa.state.name(), sa.state)?;
    w.write_all(b"\n")?;
    label(w, "mode")?;
    name(w, sa.mode.name(), sa.mode)?;
    w.write_all(b"\n")?;
    label(w, "reqid")?;
    num(w, sa.reqid)?;
    w.write_all(b"\n")?;
    label(w, "replay")?;
    if sa.replay == 0 {
        w.write_all(b"off\n")?;
    } else {
        num(w, sa.replay)?;
        w.write_all(b" packets\n")?;
    }
    match sa.satype {
        SaType::IpComp => {
            label(w, "compression")?;
            write_alg(w, AlgKind::Compress, sa.encrypt, None, show_keys)?;
        }
        t => {
            if t != SaType::Ah || sa.encrypt != 0 {
                label(w, "encryption")?;
                write_alg(
                    w,
                    enc_kind(t),
                    sa.encrypt,
                    sa.key_encrypt.as_ref(),
                    show_keys,
                )?;
            }
            label(w, "auth")?;
            write_alg(w, AlgKind::Auth, sa.auth, sa.key_auth.as_ref(), show_keys)?;
        }
    }
    if sa.flags != 0 {
        label(w, "flags")?;
        writeln!(w, "{}", flag_names(sa.flags).join(","))?;
    }
    if let Some(n) = &sa.nat_t {
        label(w, "nat-t")?;
        write!(
            w,
            "{}, sport {}, dport {}",
            nat_t_type_name(n.encap_type),
            n.sport,
            n.dport
        )?;
        if let Some(oa) = &n.oa {
            write!(w, ", original address {}", oa.addr.ip())?;
        }
        writeln!(w)?;
    }
    if let Some(p) = interesting_proxy(sa) {
        label(w, "selector")?;
        write!(w, "{}/{}", p.addr.ip(), p.prefix_len)?;
        match ip_proto_name(p.proto) {
            Some("any") | None if p.proto == 255 => {}
            Some(name) => write!(w, " proto {name}")?,
            None => write!(w, " proto {}", p.proto)?,
        }
        writeln!(w)?;
    }
    if let Some(c) = &sa.sec_ctx {
        sec_ctx(w, c)?;
    }
    if let Some(h) = &sa.hard {
        label(w, "hard limit")?;
        limits(w, h)?;
    }
    if let Some(s) = &sa.soft {
        label(w, "soft limit")?;
        limits(w, s)?;
    }
    if let Some(c) = &sa.current {
        label(w, "current")?;
        write_byte_count(w, c.bytes)?;
        w.write_all(b", ")?;
        num(w, c.allocations)?;
        w.write_all(b" packets\n")?;
        if c.addtime != 0 {
            label(w, "added")?;
            time_and_age(w, c.addtime, now)?;
            w.write_all(b"\n")?;
        }
        label(w, "first use")?;
        if c.usetime == 0 {
            w.write_all(b"never\n")?;
        } else {
            time_and_age(w, c.usetime, now)?;
            w.write_all(b"\n")?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// JSON (JSON.md, "SA")
// ---------------------------------------------------------------------------------------

// The SA object is written by hand, like the text block, rather than through serde: a
// dump prints one per SA, and serde_json escapes every field name and value byte by
// byte. Field names and punctuation are literals made at compile time ([`key!`]); the
// values are numbers, hex, IP addresses and names from the library's tables, none of
// which can need escaping (a test checks every table name), so they are written as they
// are. Only the security context, which is arbitrary text, goes through serde_json.
// The field order is JSON.md's (a test checks it against the table there).

/// Key bytes serialised as lowercase hex through a zeroizing string.
#[derive(Clone, Copy)]
pub struct HexKey<'a>(pub &'a [u8]);

impl Serialize for HexKey<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(hex::encode(self.0));
        s.serialize_str(&text)
    }
}

impl std::fmt::Debug for HexKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HexKey({} bytes, redacted)", self.0.len())
    }
}

/// A field name with its punctuation as one literal: `{"name":` for the first field of
/// an object, `,"name":` for the others.
macro_rules! key {
    (first $name:literal) => {
        concat!("{\"", $name, "\":")
    };
    ($name:literal) => {
        concat!(",\"", $name, "\":")
    };
}

/// Literal JSON text.
fn lit(w: &mut impl Write, text: &str) -> io::Result<()> {
    w.write_all(text.as_bytes())
}

/// A field (its `key!` literal) with an integer value.
fn num_field(w: &mut impl Write, key: &str, n: impl itoa::Integer) -> io::Result<()> {
    lit(w, key)?;
    num(w, n)
}

/// A string that needs no escaping, written by `value` between the quotes.
fn quoted<W: Write>(w: &mut W, value: impl FnOnce(&mut W) -> io::Result<()>) -> io::Result<()> {
    lit(w, "\"")?;
    value(w)?;
    lit(w, "\"")
}

/// A field (its `key!` literal) with a string value that needs no escaping.
fn plain_field<W: Write>(
    w: &mut W,
    key: &str,
    value: impl FnOnce(&mut W) -> io::Result<()>,
) -> io::Result<()> {
    lit(w, key)?;
    quoted(w, value)
}

/// A field (its `key!` literal) whose value is `null`, or what `value` writes.
fn opt_field<W: Write, T>(
    w: &mut W,
    key: &str,
    v: Option<T>,
    value: impl FnOnce(&mut W, T) -> io::Result<()>,
) -> io::Result<()> {
    lit(w, key)?;
    match v {
        Some(v) => value(w, v),
        None => lit(w, "null"),
    }
}

/// The names of the set `SADB_SAFLAGS_*` bits, then the unnamed rest (`0x…`) if any.
fn each_flag_name(
    flags: u32,
    mut f: impl FnMut(Result<&'static str, u32>) -> io::Result<()>,
) -> io::Result<()> {
    let mut rest = flags;
    for &(bit, name) in SA_FLAG_NAMES {
        if flags & bit != 0 {
            f(Ok(name))?;
            rest &= !bit;
        }
    }
    if rest != 0 {
        f(Err(rest))?;
    }
    Ok(())
}

/// `["pfs","0x8"]`.
fn json_flag_names(w: &mut impl Write, flags: u32) -> io::Result<()> {
    let mut sep = "[\"";
    each_flag_name(flags, |part| {
        lit(w, sep)?;
        sep = "\",\"";
        match part {
            Ok(name) => lit(w, name),
            Err(rest) => write!(w, "0x{rest:x}"),
        }
    })?;
    lit(w, if sep == "[\"" { "[]" } else { "\"]" })
}

/// An algorithm object: `{"name":…,"id":…,"key_bits":…}`, and `"key"` (hex, from a
/// zeroizing string) only with `show_keys` and a key.
fn json_alg(
    w: &mut impl Write,
    kind: AlgKind,
    id: u8,
    key: Option<&Key>,
    show_keys: bool,
) -> io::Result<()> {
    plain_field(w, key!(first "name"), |w| alg_name(w, kind, id))?;
    num_field(w, key!("id"), id)?;
    num_field(w, key!("key_bits"), key.map_or(0, |k| k.bits))?;
    if let Some(k) = key.filter(|k| show_keys && k.bits > 0) {
        let text = Zeroizing::new(hex::encode(&k.data[..]));
        plain_field(w, key!("key"), |w| lit(w, &text))?;
    }
    lit(w, "}")
}

/// A hard or soft lifetime object.
fn json_limit(w: &mut impl Write, l: &Lifetime) -> io::Result<()> {
    num_field(w, key!(first "add_seconds"), l.addtime)?;
    num_field(w, key!("use_seconds"), l.usetime)?;
    num_field(w, key!("bytes"), l.bytes)?;
    num_field(w, key!("packets"), l.allocations)?;
    lit(w, "}")
}

/// The current lifetime object (`use_time` null if never used).
fn json_current(w: &mut impl Write, c: &Lifetime) -> io::Result<()> {
    num_field(w, key!(first "bytes"), c.bytes)?;
    num_field(w, key!("packets"), c.allocations)?;
    num_field(w, key!("add_time"), c.addtime)?;
    opt_field(
        w,
        key!("use_time"),
        (c.usetime != 0).then_some(c.usetime),
        num,
    )?;
    lit(w, "}")
}

/// Writes one SA as its JSON object (JSON.md, "SA") and a newline; keys only with
/// `show_keys`.
pub fn write_json(w: &mut impl Write, sa: &SaInfo, show_keys: bool) -> io::Result<()> {
    plain_field(w, key!(first "satype"), |w| {
        name(w, sa.satype.name(), sa.satype)
    })?;
    num_field(w, key!("satype_id"), sa.satype.value())?;
    num_field(w, key!("spi"), sa.spi)?;
    plain_field(w, key!("spi_hex"), |w| hex32(w, sa.spi))?;
    plain_field(w, key!("src"), |w| ip(w, sa.src.addr.ip()))?;
    plain_field(w, key!("dst"), |w| ip(w, sa.dst.addr.ip()))?;
    plain_field(w, key!("state"), |w| name(w, sa.state.name(), sa.state))?;
    plain_field(w, key!("mode"), |w| name(w, sa.mode.name(), sa.mode))?;
    num_field(w, key!("reqid"), sa.reqid)?;
    num_field(w, key!("replay"), sa.replay)?;
    num_field(w, key!("flags"), sa.flags)?;
    lit(w, key!("flag_names"))?;
    json_flag_names(w, sa.flags)?;
    let ipcomp = sa.satype == SaType::IpComp;
    let encrypt = !ipcomp && (sa.satype != SaType::Ah || sa.encrypt != 0);
    opt_field(
        w,
        key!("encrypt"),
        encrypt.then_some(sa.encrypt),
        |w, id| {
            let key = sa.key_encrypt.as_ref();
            json_alg(w, enc_kind(sa.satype), id, key, show_keys)
        },
    )?;
    let auth = !ipcomp && sa.auth != 0;
    opt_field(w, key!("auth"), auth.then_some(sa.auth), |w, id| {
        json_alg(w, AlgKind::Auth, id, sa.key_auth.as_ref(), show_keys)
    })?;
    opt_field(w, key!("comp"), sa.comp(), |w, id| {
        plain_field(w, key!(first "name"), |w| {
            alg_name(w, AlgKind::Compress, id)
        })?;
        num_field(w, key!("id"), id)?;
        lit(w, "}")
    })?;
    lit(w, key!("lifetime"))?;
    opt_field(w, key!(first "hard"), sa.hard.as_ref(), json_limit)?;
    opt_field(w, key!("soft"), sa.soft.as_ref(), json_limit)?;
    opt_field(w, key!("current"), sa.current.as_ref(), json_current)?;
    lit(w, "}")?;
    opt_field(w, key!("nat_t"), sa.nat_t.as_ref(), |w, n| {
        plain_field(w, key!(first "type"), |w| {
            lit(w, &nat_t_type_name(n.encap_type))
        })?;
        num_field(w, key!("type_id"), n.encap_type)?;
        num_field(w, key!("sport"), n.sport)?;
        num_field(w, key!("dport"), n.dport)?;
        opt_field(w, key!("oa"), n.oa.as_ref(), |w, a| {
            quoted(w, |w| ip(w, a.addr.ip()))
        })?;
        lit(w, "}")
    })?;
    opt_field(w, key!("proxy"), sa.proxy.as_ref(), |w, p| {
        plain_field(w, key!(first "address"), |w| ip(w, p.addr.ip()))?;
        num_field(w, key!("prefix_len"), p.prefix_len)?;
        num_field(w, key!("proto"), p.proto)?;
        opt_field(w, key!("proto_name"), ip_proto_name(p.proto), |w, n| {
            quoted(w, |w| lit(w, n))
        })?;
        lit(w, "}")
    })?;
    opt_field(w, key!("sec_ctx"), sa.sec_ctx.as_ref(), |w, c| {
        num_field(w, key!(first "alg"), c.alg)?;
        num_field(w, key!("doi"), c.doi)?;
        lit(w, key!("context"))?;
        // Arbitrary text: serde_json escapes it.
        let text = c.ctx.split(|&b| b == 0).next().unwrap_or_default();
        serde_json::to_writer(&mut *w, &String::from_utf8_lossy(text)).map_err(io::Error::from)?;
        lit(w, "}")
    })?;
    lit(w, "}\n")
}

/// The JSON object of an SA as a value, through [`write_json`] and serde_json's parser.
#[cfg(test)]
pub fn json(sa: &SaInfo, show_keys: bool) -> serde_json::Value {
    let mut line = Vec::new();
    write_json(&mut line, sa, show_keys).expect("writing to a Vec");
    serde_json::from_slice(&line).expect("write_json writes valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pfkey::client::FromMessage;
    use pfkey::Message;

    /// A real Linux 6.1 dump entry (tests/lab capture): tunnel ESP, HMAC-SHA-256 +
    /// AES-CBC-256, reqid 7.
    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../fixtures/{name}.hex", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let hex: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(|l| l.chars())
            .filter(|c| c.is_ascii_hexdigit())
            .collect();
        hex::decode(hex).unwrap()
    }

    fn sa(name: &str) -> SaInfo {
        let bytes = fixture(name);
        SaInfo::from_message(&Message::parse(&bytes).unwrap()).unwrap()
    }

    #[test]
    fn text_block_hides_keys_and_names_everything() {
        let sa = sa("dump-esp-sa");
        let mut out = Vec::new();
        let now = sa.current.unwrap().addtime + 65;
        write_text(&mut out, &sa, false, now).unwrap();
        let text = String::from_utf8(out).unwrap();
        let first = text.lines().next().unwrap();
        assert!(first.starts_with("esp spi 0x"), "{text}");
        assert!(first.contains(&format!("({})", sa.spi)), "{text}");
        assert!(text.contains("  mode        tunnel\n"), "{text}");
        assert!(text.contains("  reqid       7\n"), "{text}");
        assert!(text.contains("hmac-sha256, 256-bit key <hidden>"), "{text}");
        assert!(text.contains("aes-cbc, 256-bit key <hidden>"), "{text}");
        assert!(text.contains("(1m5s ago)"), "{text}");
        let key = sa.key_encrypt.as_ref().unwrap();
        let key_hex = hex::encode(&key.data[..]);
        assert!(!text.contains(&key_hex));
        let mut out = Vec::new();
        write_text(&mut out, &sa, true, now).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(&format!("0x{key_hex}")), "{text}");
    }

    #[test]
    fn json_leaves_keys_out_unless_asked() {
        let sa = sa("dump-esp-sa");
        let v = serde_json::to_value(json(&sa, false)).unwrap();
        assert_eq!(v["satype"], "esp");
        assert_eq!(v["mode"], "tunnel");
        assert_eq!(v["encrypt"]["name"], "aes-cbc");
        assert_eq!(v["encrypt"]["key_bits"], 256);
        assert!(v["encrypt"].get("key").is_none());
        assert_eq!(v["auth"]["name"], "hmac-sha256");
        assert!(v["comp"].is_null());
        assert_eq!(v["spi_hex"], format!("0x{:08x}", sa.spi));
        assert!(v["lifetime"]["current"]["use_time"].is_null());
        let v = serde_json::to_value(json(&sa, true)).unwrap();
        let key = hex::encode(&sa.key_encrypt.as_ref().unwrap().data[..]);
        assert_eq!(v["encrypt"]["key"], key);
    }

    #[test]
    fn ipcomp_and_natt() {
        let sa = sa("add-ipcomp-reply");
        let v = serde_json::to_value(json(&sa, false)).unwrap();
        assert_eq!(v["comp"]["name"], "deflate");
        assert!(v["encrypt"].is_null());
        let mut out = Vec::new();
        write_text(&mut out, &sa, false, 0).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("compression deflate"));
        let sa = self::sa("add-esp6-natt");
        let v = serde_json::to_value(json(&sa, false)).unwrap();
        assert_eq!(v["nat_t"]["type"], "espinudp");
        assert_eq!(v["nat_t"]["sport"], 4500);
    }

    /// Field names in the first column of the JSON.md table under `heading`.
    fn documented_fields(heading: &str) -> Vec<String> {
        let doc = include_str!("../../JSON.md");
        let section = doc.split(heading).nth(1).expect("section in JSON.md");
        let table = section
            .lines()
            .skip_while(|l| !l.starts_with("| field"))
            .skip(2)
            .take_while(|l| l.starts_with('|'));
        let mut names = Vec::new();
        for row in table {
            let first = row.split('|').nth(1).unwrap_or_default();
            for part in first.split(',') {
                names.push(part.trim().trim_matches('`').to_string());
            }
        }
        names
    }

    #[test]
    fn json_md_documents_exactly_the_sa_fields() {
        let sa = sa("dump-esp-sa");
        let v = serde_json::to_value(json(&sa, false)).unwrap();
        let mut got: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        let mut doc = documented_fields("## SA:");
        got.sort();
        doc.sort();
        assert_eq!(got, doc);
    }

    /// What a writer function writes, as a string.
    fn text(f: impl Fn(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn span(secs: u64) -> String {
        text(|w| write_span(w, secs))
    }

    fn byte_count(n: u64) -> String {
        text(|w| write_byte_count(w, n))
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(5400), "1h30m");
        assert_eq!(span(172_800), "2d");
        assert_eq!(span(3661), "1h1m1s");
        assert_eq!(byte_count(512), "512 bytes");
        assert_eq!(byte_count(100 << 20), "104857600 bytes (100 MiB)");
        assert_eq!(byte_count(1536), "1536 bytes (1.5 KiB)");
        assert_eq!(flag_names(0x8000_0001), vec!["pfs", "noecn"]);
    }

    // The hand-written JSON against serde_json, on every SA fixture and odd variants.

    use pfkey::client::{NatT, SecCtx};
    use pfkey::repr::Address;
    use pfkey::wire::{Mode, SaState};
    use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess};
    use serde_json::{json, Value};

    /// Every fixture that is one SA message (what `SaInfo` is made from), by name.
    fn sa_fixtures() -> Vec<(String, SaInfo)> {
        let dir = format!("{}/../fixtures", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".hex").map(str::to_owned))
            .collect();
        names.sort();
        let found: Vec<(String, SaInfo)> = names
            .into_iter()
            .filter_map(|n| {
                let bytes = fixture(&n);
                let msg = Message::parse(&bytes).ok()?;
                let sa = SaInfo::from_message(&msg).ok()?;
                Some((n, sa))
            })
            .collect();
        for known in [
            "dump-esp-sa",
            "add-esp6-natt",
            "add-ipcomp-reply",
            "getspi-reply",
        ] {
            assert!(found.iter().any(|(n, _)| n == known), "{known} not found");
        }
        found
    }

    /// `sa` with what the fixtures leave out: unknown values, unnamed flags, limits,
    /// a first use; NAT-T with an unknown type and an IPv6 original address; a selector
    /// with an unnamed protocol; a context that needs escaping and is not UTF-8; an AH
    /// SA with an unknown algorithm and an empty key.
    fn unusual(sa: &SaInfo) -> Vec<SaInfo> {
        let life = |bytes, allocations, addtime, usetime| Lifetime {
            allocations,
            bytes,
            addtime,
            usetime,
        };
        let mut odd = sa.clone();
        odd.flags = 0x8000_0003;
        odd.replay = 0;
        odd.state = SaState::from_value(9);
        odd.mode = Mode::from_value(7);
        odd.auth = 250;
        odd.encrypt = 0;
        odd.hard = Some(life(100 << 20, 1000, 86_400, 5400));
        odd.soft = None;
        odd.current = Some(life(u64::MAX, u32::MAX, 1, u64::MAX));
        odd.nat_t = Some(NatT {
            encap_type: 9,
            sport: 0,
            dport: 65535,
            oa: Some(Address::host("2001:db8::1".parse().unwrap())),
        });
        let mut proxy = Address::host("::ffff:192.0.2.1".parse().unwrap());
        proxy.proto = 200;
        proxy.prefix_len = 96;
        odd.proxy = Some(proxy);
        odd.sec_ctx = Some(SecCtx {
            alg: 1,
            doi: 255,
            ctx: b"u:r:\"x\"\\\n\t\x01\x7f\xff\xfe\xe2\x82\xac\0after".to_vec(),
        });
        let mut ah = sa.clone();
        ah.satype = SaType::Ah;
        ah.encrypt = 0;
        ah.auth = 251;
        ah.key_auth = Some(Key {
            bits: 0,
            data: Zeroizing::new(Vec::new()),
        });
        ah.sec_ctx = Some(SecCtx {
            alg: 0,
            doi: 0,
            ctx: Vec::new(),
        });
        let mut unknown = sa.clone();
        unknown.satype = SaType::from_value(77);
        unknown.flags = 0xffff_ffff;
        vec![odd, ah, unknown]
    }

    /// What JSON.md says the SA object is, built with serde_json from `sa` directly.
    fn expected(sa: &SaInfo, show_keys: bool) -> Value {
        let alg = |kind, id: u8, key: Option<&Key>| {
            let mut v = json!({
                "name": display_id(kind, id).to_string(),
                "id": id,
                "key_bits": key.map_or(0, |k| k.bits),
            });
            if let Some(k) = key.filter(|k| show_keys && k.bits > 0) {
                v["key"] = json!(hex::encode(&k.data[..]));
            }
            v
        };
        let limit = |l: &Lifetime| {
            json!({"add_seconds": l.addtime, "use_seconds": l.usetime, "bytes": l.bytes,
                   "packets": l.allocations})
        };
        let mut flags: Vec<String> = SA_FLAG_NAMES
            .iter()
            .filter(|(bit, _)| sa.flags & bit != 0)
            .map(|(_, n)| n.to_string())
            .collect();
        let rest = SA_FLAG_NAMES.iter().fold(sa.flags, |r, (bit, _)| r & !bit);
        if rest != 0 {
            flags.push(format!("0x{rest:x}"));
        }
        let ipcomp = sa.satype == SaType::IpComp;
        let has_enc = !ipcomp && (sa.satype != SaType::Ah || sa.encrypt != 0);
        json!({
            "satype": sa.satype.to_string(),
            "satype_id": sa.satype.value(),
            "spi": sa.spi,
            "spi_hex": format!("0x{:08x}", sa.spi),
            "src": sa.src.addr.ip().to_string(),
            "dst": sa.dst.addr.ip().to_string(),
            "state": sa.state.to_string(),
            "mode": sa.mode.to_string(),
            "reqid": sa.reqid,
            "replay": sa.replay,
            "flags": sa.flags,
            "flag_names": flags,
            "encrypt": has_enc.then(|| alg(enc_kind(sa.satype), sa.encrypt, sa.key_encrypt.as_ref())),
            "auth": (!ipcomp && sa.auth != 0).then(|| alg(AlgKind::Auth, sa.auth, sa.key_auth.as_ref())),
            "comp": ipcomp.then(|| json!({
                "name": display_id(AlgKind::Compress, sa.encrypt).to_string(),
                "id": sa.encrypt,
            })),
            "lifetime": {
                "hard": sa.hard.as_ref().map(limit),
                "soft": sa.soft.as_ref().map(limit),
                "current": sa.current.as_ref().map(|c| json!({
                    "bytes": c.bytes,
                    "packets": c.allocations,
                    "add_time": c.addtime,
                    "use_time": (c.usetime != 0).then_some(c.usetime),
                })),
            },
            "nat_t": sa.nat_t.as_ref().map(|n| json!({
                "type": nat_t_type_name(n.encap_type),
                "type_id": n.encap_type,
                "sport": n.sport,
                "dport": n.dport,
                "oa": n.oa.as_ref().map(|a| a.addr.ip().to_string()),
            })),
            "proxy": sa.proxy.as_ref().map(|p| json!({
                "address": p.addr.ip().to_string(),
                "prefix_len": p.prefix_len,
                "proto": p.proto,
                "proto_name": ip_proto_name(p.proto),
            })),
            "sec_ctx": sa.sec_ctx.as_ref().map(|c| json!({
                "alg": c.alg,
                "doi": c.doi,
                "context": String::from_utf8_lossy(c.ctx.split(|&b| b == 0).next().unwrap()),
            })),
        })
    }

    /// The line [`write_json`] writes.
    fn json_line(sa: &SaInfo, show_keys: bool) -> String {
        text(|w| write_json(w, sa, show_keys))
    }

    #[test]
    fn json_writer_matches_a_serde_json_round_trip() {
        let mut checked = 0;
        for (name, sa) in sa_fixtures() {
            let mut all = unusual(&sa);
            all.insert(0, sa);
            for sa in &all {
                for show_keys in [false, true] {
                    let line = json_line(sa, show_keys);
                    assert_eq!(line.find('\n'), Some(line.len() - 1), "{name}: {line}");
                    let got: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
                    assert_eq!(got, expected(sa, show_keys), "{name}: {line}");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 9 * 4 * 2, "{checked}");
    }

    /// A JSON value's object keys in the order they stand, nested objects included
    /// (serde_json's `Value` sorts them).
    #[derive(Debug, Default)]
    struct Shape(Vec<(String, Shape)>);

    impl<'de> Deserialize<'de> for Shape {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl<'de> de::Visitor<'de> for Visitor {
                type Value = Shape;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("JSON")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Shape, A::Error> {
                    let mut fields = Vec::new();
                    while let Some(entry) = m.next_entry()? {
                        fields.push(entry);
                    }
                    Ok(Shape(fields))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Shape, A::Error> {
                    while s.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Shape::default())
                }
                fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                    Ok(Shape::default())
                }
                fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
                    Ok(Shape::default())
                }
                fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                    Ok(Shape::default())
                }
                fn visit_unit<E>(self) -> Result<Shape, E> {
                    Ok(Shape::default())
                }
            }
            d.deserialize_any(Visitor)
        }
    }

    impl Shape {
        fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(k, _)| k.as_str()).collect()
        }

        fn get(&self, key: &str) -> &Shape {
            &self.0.iter().find(|(k, _)| k == key).unwrap().1
        }
    }

    /// The backquoted names in the first `{…}` of JSON.md's SA section after `after`,
    /// leaving out what stands in parentheses.
    fn documented_object(after: &str) -> Vec<String> {
        let doc = include_str!("../../JSON.md");
        let section = doc.split("## SA:").nth(1).unwrap();
        let from = section.find(after).unwrap_or_else(|| panic!("{after}"));
        let text = &section[from..];
        let body = &text[text.find('{').unwrap() + 1..text.find('}').unwrap()];
        let mut depth = 0;
        let outside: String = body
            .chars()
            .filter(|&c| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => return depth == 0,
                }
                false
            })
            .collect();
        outside
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn json_fields_stand_in_json_md_order() {
        let fixtures = sa_fixtures();
        let ipcomp = &fixtures
            .iter()
            .find(|(n, _)| n == "add-ipcomp-reply")
            .unwrap()
            .1;
        let mut sa = unusual(&sa("dump-esp-sa")).remove(0);
        sa.auth = 5;
        sa.encrypt = 12;
        sa.soft = sa.hard;
        for (sa, show_keys) in [(&sa, true), (ipcomp, false)] {
            let line = json_line(sa, show_keys);
            let shape: Shape = serde_json::from_str(&line).unwrap();
            assert_eq!(shape.keys(), documented_fields("## SA:"), "{line}");
            let objects: &[(&[&str], &str)] = if sa.satype == SaType::IpComp {
                &[(&["comp"], "| `comp` |")]
            } else {
                &[
                    (&["encrypt"], "Algorithm: "),
                    (&["auth"], "Algorithm: "),
                    (&["lifetime"], "| `lifetime` |"),
                    (&["lifetime", "hard"], "`lifetime.hard` and"),
                    (&["lifetime", "soft"], "`lifetime.hard` and"),
                    (&["lifetime", "current"], "`lifetime.current`:"),
                    (&["nat_t"], "| `nat_t` |"),
                    (&["proxy"], "| `proxy` |"),
                    (&["sec_ctx"], "| `sec_ctx` |"),
                ]
            };
            for (path, doc) in objects {
                let obj = path.iter().fold(&shape, |s, k| s.get(k));
                assert_eq!(obj.keys(), documented_object(doc), "{path:?}: {line}");
            }
        }
    }

    #[test]
    fn ipv4_is_written_as_display_writes_it() {
        for o in 0..=255u8 {
            for addr in [
                [o, 0, 9, 10],
                [99, o, 100, 255],
                [1, 22, o, 133],
                [255, 254, 0, o],
            ] {
                let addr = IpAddr::from(addr);
                assert_eq!(text(|w| ip(w, addr)), addr.to_string());
            }
        }
    }

    /// Names from the library's tables go out unescaped: none may need escaping.
    #[test]
    fn table_names_need_no_json_escaping() {
        let plain = |s: &str| assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{s}\""));
        for v in 0..=255u8 {
            let t = SaType::from_value(v);
            plain(&text(|w| name(w, t.name(), t)));
            let s = SaState::from_value(v);
            plain(&text(|w| name(w, s.name(), s)));
            let m = Mode::from_value(v);
            plain(&text(|w| name(w, m.name(), m)));
            for kind in [AlgKind::Auth, AlgKind::Encrypt, AlgKind::Compress] {
                plain(&text(|w| alg_name(w, kind, v)));
            }
            plain(ip_proto_name(v).unwrap_or_default());
            plain(&nat_t_type_name(v));
        }
        for &(_, n) in SA_FLAG_NAMES {
            plain(n);
        }
    }
}
