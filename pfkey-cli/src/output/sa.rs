//! SAs for people and for programs: a readable text block ([`write_text`]) and the
//! stable JSON object of JSON.md, "SA" ([`json`]).
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

/// Width of the label column of the text block.
const LABEL: usize = 12;

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

/// An IP address as `Display` writes it (IPv4 dotted quads without `fmt`).
fn ip(w: &mut impl Write, addr: IpAddr) -> io::Result<()> {
    match addr {
        IpAddr::V4(a) => {
            let [a, b, c, d] = a.octets();
            num(w, a)?;
            for o in [b, c, d] {
                w.write_all(b".")?;
                num(w, o)?;
            }
            Ok(())
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
    let mut rest = flags;
    for &(bit, name) in SA_FLAG_NAMES {
        if flags & bit != 0 {
            names.push(name.to_owned());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("0x{rest:x}"));
    }
    names
}

fn nat_t_type_name(t: u8) -> String {
    match t {
        UDP_ENCAP_ESPINUDP => "espinudp".into(),
        UDP_ENCAP_ESPINUDP_NON_IKE => "espinudp-non-ike".into(),
        other => format!("unknown({other})"),
    }
}

/// A PROXY selector worth showing: anything narrower than "everything" (Linux reports
/// `0.0.0.0/0` for SAs added without one).
fn interesting_proxy(sa: &SaInfo) -> Option<&pfkey::repr::Address> {
    sa.proxy.as_ref().filter(|p| p.prefix_len != 0)
}

/// `  name` padded to the label column.
fn label(w: &mut impl Write, name: &str) -> io::Result<()> {
    const PAD: &[u8; LABEL] = b"            ";
    w.write_all(b"  ")?;
    w.write_all(name.as_bytes())?;
    w.write_all(&PAD[name.len().min(LABEL)..])
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
        label(w, "context")?;
        let text = c.ctx.split(|&b| b == 0).next().unwrap_or_default();
        writeln!(
            w,
            "{} (alg {}, doi {})",
            String::from_utf8_lossy(text),
            c.alg,
            c.doi
        )?;
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

/// A name from a table (`esp`, `aes-cbc`), or the text made for a value the table does
/// not know (`unknown(9)`): borrowed in the common case, so building the view of an SA
/// allocates nothing.
pub type Name = Cow<'static, str>;

/// The name of a wire enum value, as its `Display` shows it.
fn enum_name(name: Option<&'static str>, value: impl std::fmt::Display) -> Name {
    name.map_or_else(|| Cow::Owned(value.to_string()), Cow::Borrowed)
}

/// An algorithm's name, as [`display_id`] shows it.
fn alg_json_name(kind: AlgKind, id: u8) -> Name {
    enum_name(by_id(kind, id).map(|a| a.name), display_id(kind, id))
}

/// An SPI serialised as `0x%08x`, without making a `String`.
#[derive(Debug, Clone, Copy)]
pub struct SpiHex(pub u32);

impl Serialize for SpiHex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = hex32_text(self.0);
        s.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
    }
}

/// One SA (JSON.md, "SA").
#[derive(Debug, Serialize)]
pub struct SaJson<'a> {
    /// `esp`, `ah`, `ipcomp`.
    pub satype: Name,
    /// `sadb_msg_satype`.
    pub satype_id: u8,
    /// SPI (CPI for IPComp), host order.
    pub spi: u32,
    /// The SPI as `0x%08x`.
    pub spi_hex: SpiHex,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// `larval`, `mature`, `dying`, `dead`.
    pub state: Name,
    /// `transport`, `tunnel`, `beet`, `any`.
    pub mode: Name,
    /// Request id.
    pub reqid: u32,
    /// Replay window in packets (0: off).
    pub replay: u8,
    /// `sadb_sa_flags`.
    pub flags: u32,
    /// Names of the set flags.
    pub flag_names: Vec<String>,
    /// Encryption algorithm and key; null for AH and IPComp.
    pub encrypt: Option<AlgJson<'a>>,
    /// Authentication algorithm and key; null when none.
    pub auth: Option<AlgJson<'a>>,
    /// Compression algorithm; null except for IPComp.
    pub comp: Option<CompJson>,
    /// Limits and counters.
    pub lifetime: LifetimesJson,
    /// UDP encapsulation; null when none.
    pub nat_t: Option<NatTJson>,
    /// The SA's source selector (`SADB_EXT_ADDRESS_PROXY`); null when the kernel sent none.
    pub proxy: Option<SelectorJson>,
    /// Security context; null when none.
    pub sec_ctx: Option<SecCtxJson>,
}

/// An algorithm with its key.
#[derive(Debug, Serialize)]
pub struct AlgJson<'a> {
    /// Canonical name (`aes-cbc`, `hmac-sha256`, `unknown (N)`).
    pub name: Name,
    /// SADB algorithm id.
    pub id: u8,
    /// Key length in bits (0 for none).
    pub key_bits: u16,
    /// The key in lowercase hex; present only with `--show-keys`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<HexKey<'a>>,
}

/// A compression algorithm.
#[derive(Debug, Serialize)]
pub struct CompJson {
    /// Canonical name (`deflate`).
    pub name: Name,
    /// SADB compression id.
    pub id: u8,
}

/// Hard, soft and current lifetimes.
#[derive(Debug, Serialize)]
pub struct LifetimesJson {
    /// Hard limits; null when the kernel sent none.
    pub hard: Option<LimitJson>,
    /// Soft limits; null when the kernel sent none.
    pub soft: Option<LimitJson>,
    /// Counters; null when the kernel sent none.
    pub current: Option<CurrentJson>,
}

/// Limits (0 = unlimited).
#[derive(Debug, Serialize)]
pub struct LimitJson {
    /// Seconds after the SA was added.
    pub add_seconds: u64,
    /// Seconds after its first use.
    pub use_seconds: u64,
    /// Bytes.
    pub bytes: u64,
    /// Packets (PF_KEY allocations).
    pub packets: u32,
}

/// Counters.
#[derive(Debug, Serialize)]
pub struct CurrentJson {
    /// Bytes processed.
    pub bytes: u64,
    /// Packets processed.
    pub packets: u32,
    /// When the SA was added (Unix time).
    pub add_time: u64,
    /// When it was first used (Unix time); null if never.
    pub use_time: Option<u64>,
}

/// UDP encapsulation.
#[derive(Debug, Serialize)]
pub struct NatTJson {
    /// `espinudp`, `espinudp-non-ike`, `unknown(N)`.
    #[serde(rename = "type")]
    pub encap_type: String,
    /// `sadb_x_nat_t_type_type`.
    pub type_id: u8,
    /// UDP source port.
    pub sport: u16,
    /// UDP destination port.
    pub dport: u16,
    /// Original address; null when none.
    pub oa: Option<IpAddr>,
}

/// A selector address.
#[derive(Debug, Serialize)]
pub struct SelectorJson {
    /// Address.
    pub address: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// Upper-layer protocol (255 = any).
    pub proto: u8,
    /// Its name, null when unknown.
    pub proto_name: Option<&'static str>,
}

/// A security context.
#[derive(Debug, Serialize)]
pub struct SecCtxJson {
    /// `sadb_x_ctx_alg`.
    pub alg: u8,
    /// `sadb_x_ctx_doi`.
    pub doi: u8,
    /// The context up to its NUL (invalid UTF-8 replaced).
    pub context: String,
}

fn alg_json<'a>(kind: AlgKind, id: u8, key: Option<&'a Key>, show_keys: bool) -> AlgJson<'a> {
    AlgJson {
        name: alg_json_name(kind, id),
        id,
        key_bits: key.map_or(0, |k| k.bits),
        key: key
            .filter(|k| show_keys && k.bits > 0)
            .map(|k| HexKey(&k.data[..])),
    }
}

fn limit_json(l: &Lifetime) -> LimitJson {
    LimitJson {
        add_seconds: l.addtime,
        use_seconds: l.usetime,
        bytes: l.bytes,
        packets: l.allocations,
    }
}

/// The JSON view of an SA; keys only with `show_keys`.
pub fn json(sa: &SaInfo, show_keys: bool) -> SaJson<'_> {
    let (encrypt, auth, comp) = match sa.satype {
        SaType::IpComp => (
            None,
            None,
            Some(CompJson {
                name: alg_json_name(AlgKind::Compress, sa.encrypt),
                id: sa.encrypt,
            }),
        ),
        t => {
            let enc = (t != SaType::Ah || sa.encrypt != 0)
                .then(|| alg_json(enc_kind(t), sa.encrypt, sa.key_encrypt.as_ref(), show_keys));
            let auth = (sa.auth != 0)
                .then(|| alg_json(AlgKind::Auth, sa.auth, sa.key_auth.as_ref(), show_keys));
            (enc, auth, None)
        }
    };
    SaJson {
        satype: enum_name(sa.satype.name(), sa.satype),
        satype_id: sa.satype.value(),
        spi: sa.spi,
        spi_hex: SpiHex(sa.spi),
        src: sa.src.addr.ip(),
        dst: sa.dst.addr.ip(),
        state: enum_name(sa.state.name(), sa.state),
        mode: enum_name(sa.mode.name(), sa.mode),
        reqid: sa.reqid,
        replay: sa.replay,
        flags: sa.flags,
        flag_names: flag_names(sa.flags),
        encrypt,
        auth,
        comp,
        lifetime: LifetimesJson {
            hard: sa.hard.as_ref().map(limit_json),
            soft: sa.soft.as_ref().map(limit_json),
            current: sa.current.as_ref().map(|c| CurrentJson {
                bytes: c.bytes,
                packets: c.allocations,
                add_time: c.addtime,
                use_time: (c.usetime != 0).then_some(c.usetime),
            }),
        },
        nat_t: sa.nat_t.as_ref().map(|n| NatTJson {
            encap_type: nat_t_type_name(n.encap_type),
            type_id: n.encap_type,
            sport: n.sport,
            dport: n.dport,
            oa: n.oa.as_ref().map(|a| a.addr.ip()),
        }),
        proxy: sa.proxy.as_ref().map(|p| SelectorJson {
            address: p.addr.ip(),
            prefix_len: p.prefix_len,
            proto: p.proto,
            proto_name: ip_proto_name(p.proto),
        }),
        sec_ctx: sa.sec_ctx.as_ref().map(|c| SecCtxJson {
            alg: c.alg,
            doi: c.doi,
            context: String::from_utf8_lossy(c.ctx.split(|&b| b == 0).next().unwrap_or_default())
                .into_owned(),
        }),
    }
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
}
