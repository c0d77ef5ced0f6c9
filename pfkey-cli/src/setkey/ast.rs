//! The syntax tree of a setkey(8) script: one [`Statement`] per `;`-terminated command,
//! with byte [`Span`]s into the source so that later stages (name resolution in
//! [`super::lower`]) can still point at what the user wrote.
//!
//! Values are already checked where the language alone decides (numbers in range, key
//! lengths against the algorithm, prefix lengths against the family); what needs the outside
//! world (host names) is left for lowering. Keys stay in the source ([`KeyText`]): they are
//! decoded into a [`pfkey::repr::Key`] (zeroized on drop, no key material in `Debug`) only
//! when a statement becomes a message.

use std::net::{IpAddr, SocketAddr};

use pfkey::alg::Algorithm;
use pfkey::repr::Key;
use pfkey::wire::{Direction, Level, Mode, PolicyType, SaType};

/// A byte range `start..end` of the script source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The range `start..end`.
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// One statement, from its keyword to its `;`.
#[derive(Debug)]
pub struct Statement {
    /// What it asks for.
    pub command: Command,
    /// The whole statement, keyword to `;` inclusive.
    pub span: Span,
}

impl Statement {
    /// The command keyword as written (`add`, `spdadd`, …).
    pub fn keyword(&self) -> &'static str {
        self.command.keyword()
    }
}

/// The commands of the language (setkey(8) "Configuration syntax"; `update` and `getspi` as
/// NetBSD's setkey added them).
#[derive(Debug)]
pub enum Command {
    /// `add`: install a new SA (`SADB_ADD`).
    Add(SaAdd),
    /// `update`: change an SA (`SADB_UPDATE`); same syntax as `add`.
    Update(SaAdd),
    /// `get`: show one SA (`SADB_GET`).
    Get(SaRef),
    /// `delete`: remove one SA (`SADB_DELETE`).
    Delete(SaRef),
    /// `deleteall`: remove every SA of a protocol between two hosts.
    DeleteAll(SaPair),
    /// `getspi`: reserve an SPI, creating a larval SA (`SADB_GETSPI`).
    GetSpi(GetSpi),
    /// `flush [PROTO]`: remove every SA (of one protocol).
    Flush(Option<SaProto>),
    /// `dump [PROTO]`: list every SA (of one protocol).
    Dump(Option<SaProto>),
    /// `spdadd`: add a policy (`SADB_X_SPDADD`).
    SpdAdd(SpdEntry),
    /// `spdupdate`: add or replace a policy (`SADB_X_SPDUPDATE`).
    SpdUpdate(SpdEntry),
    /// `spddelete`: remove a policy (`SADB_X_SPDDELETE`).
    SpdDelete(SpdEntry),
    /// `spdflush`: remove every global policy.
    SpdFlush,
    /// `spddump`: list every policy.
    SpdDump,
    /// `exit`, `quit` or `bye`: ignore the rest of the script.
    Exit,
}

impl Command {
    /// The keyword that starts the statement.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::Add(_) => "add",
            Command::Update(_) => "update",
            Command::Get(_) => "get",
            Command::Delete(_) => "delete",
            Command::DeleteAll(_) => "deleteall",
            Command::GetSpi(_) => "getspi",
            Command::Flush(_) => "flush",
            Command::Dump(_) => "dump",
            Command::SpdAdd(_) => "spdadd",
            Command::SpdUpdate(_) => "spdupdate",
            Command::SpdDelete(_) => "spddelete",
            Command::SpdFlush => "spdflush",
            Command::SpdDump => "spddump",
            Command::Exit => "exit",
        }
    }
}

/// Address family restriction from `-4` / `-6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `-4`: IPv4 only.
    V4,
    /// `-6`: IPv6 only.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(ip: &IpAddr) -> Family {
        if ip.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    /// "IPv4" or "IPv6".
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }

    /// Full prefix length: 32 or 128.
    pub fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

/// The `-4`, `-6` and `-n` flags that may follow a command keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddrOpts {
    /// `-4` or `-6`.
    pub family: Option<Family>,
    /// `-n`: host names are refused (numeric addresses only).
    pub numeric: bool,
}

/// A host as written: a numeric address, or a name resolved at lowering time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A numeric address; IPv6 may carry a `%scope` (interface name or number).
    Ip {
        /// The address.
        addr: IpAddr,
        /// The zone after `%`, as written.
        scope: Option<String>,
    },
    /// A host name, resolved by the lowering's resolver (setkey uses `getaddrinfo`).
    Name(String),
}

/// A host with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// The host.
    pub host: Host,
    /// Its token.
    pub span: Span,
}

impl HostSpec {
    /// The address when numeric.
    pub fn ip(&self) -> Option<IpAddr> {
        match &self.host {
            Host::Ip { addr, .. } => Some(*addr),
            Host::Name(_) => None,
        }
    }
}

/// An SA endpoint: `ADDR` or `ADDR[PORT]` (the port matters only for `esp-udp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaEndpoint {
    /// The host.
    pub host: HostSpec,
    /// `[PORT]`.
    pub port: Option<u16>,
}

/// The protocol of an SA statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaProto {
    /// `esp`.
    Esp,
    /// `ah`.
    Ah,
    /// `ipcomp`.
    IpComp,
    /// `esp-old`: ESP with the KAME "old" flag (RFC 1827 framing; Linux ignores the flag).
    EspOld,
    /// `ah-old`: AH with the "old" flag (RFC 1826; Linux ignores the flag).
    AhOld,
    /// `esp-udp [OA]`: ESP in UDP (RFC 3948), with an optional NAT-OA address.
    EspUdp {
        /// The original address (`SADB_X_EXT_NAT_T_OA`; Linux validates it, then drops it).
        oa: Option<HostSpec>,
    },
}

impl SaProto {
    /// The SA type it is keyed under.
    pub fn satype(&self) -> SaType {
        match self {
            SaProto::Esp | SaProto::EspOld | SaProto::EspUdp { .. } => SaType::Esp,
            SaProto::Ah | SaProto::AhOld => SaType::Ah,
            SaProto::IpComp => SaType::IpComp,
        }
    }

    /// The keyword as written.
    pub fn keyword(&self) -> &'static str {
        match self {
            SaProto::Esp => "esp",
            SaProto::Ah => "ah",
            SaProto::IpComp => "ipcomp",
            SaProto::EspOld => "esp-old",
            SaProto::AhOld => "ah-old",
            SaProto::EspUdp { .. } => "esp-udp",
        }
    }

    /// `esp-old` / `ah-old`.
    pub fn is_old(&self) -> bool {
        matches!(self, SaProto::EspOld | SaProto::AhOld)
    }
}

/// `-f` values, each a bit of `sadb_sa_flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SaFlagOpts {
    /// `-f nocyclic-seq`: clears KAME's CYCSEQ bit (0x40), which setkey sets by default.
    pub nocyclic_seq: bool,
    /// `-f zero-pad` (0x200).
    pub zero_pad: bool,
    /// `-f random-pad` (0x100).
    pub random_pad: bool,
    /// `-f seq-pad` (no bit: the KAME default).
    pub seq_pad: bool,
    /// `-f noecn` (pfkey extension): `SADB_SAFLAGS_NOECN`, honoured by Linux.
    pub noecn: bool,
    /// `-f decap-dscp` (pfkey extension): `SADB_SAFLAGS_DECAP_DSCP`, honoured by Linux.
    pub decap_dscp: bool,
    /// `-f nopmtudisc` (pfkey extension): `SADB_SAFLAGS_NOPMTUDISC`, honoured by Linux.
    pub nopmtudisc: bool,
}

/// One lifetime kind (HARD or SOFT) as the options set it; unset fields are 0 (unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LifetimeOpts {
    /// `-lh` / `-ls`: seconds after creation.
    pub addtime: Option<u64>,
    /// `-bh` / `-bs`: bytes.
    pub bytes: Option<u64>,
    /// `-ph` / `-ps` (pfkey extension): packets (`sadb_lifetime_allocations` on Linux).
    pub packets: Option<u32>,
    /// `-uh` / `-us` (pfkey extension): seconds after first use.
    pub usetime: Option<u64>,
}

impl LifetimeOpts {
    /// Whether any limit was given.
    pub fn is_set(&self) -> bool {
        self.addtime.is_some()
            || self.bytes.is_some()
            || self.packets.is_some()
            || self.usetime.is_some()
    }
}

/// `-ctx DOI ALG "LABEL"`: an LSM security context (`SADB_X_EXT_SEC_CTX`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecCtx {
    /// `sadb_x_ctx_doi`.
    pub doi: u8,
    /// `sadb_x_ctx_alg`.
    pub alg: u8,
    /// The label, without the terminating NUL that goes on the wire.
    pub label: Vec<u8>,
}

/// The SA options (`-m -r -u -f -lh -ls -bh -bs -ctx`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaOptions {
    /// `-m`: SA2 mode (default any = 0, which Linux treats as transport).
    pub mode: Option<Mode>,
    /// `-r`: replay window in packets.
    pub replay: Option<u8>,
    /// `-u`: SA2 reqid.
    pub reqid: Option<u32>,
    /// `-f` values.
    pub flags: SaFlagOpts,
    /// `-lh`, `-bh`, `-ph`, `-uh`.
    pub hard: LifetimeOpts,
    /// `-ls`, `-bs`, `-ps`, `-us`.
    pub soft: LifetimeOpts,
    /// `-ctx`.
    pub sec_ctx: Option<SecCtx>,
}

/// A key as the script writes it: checked by the parser (hex digits, length for the
/// algorithm) but left in the source, and decoded only when its statement is translated
/// into a message. The syntax tree holds no copy of key material, and checking a script
/// copies no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyText {
    /// The key token: `0x…`, or `"…"` with its quotes.
    pub span: Span,
    /// How it is written.
    pub form: KeyForm,
}

/// How a key is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyForm {
    /// `0x` and hex digits (an odd count gets a leading zero nibble, as setkey does).
    Hex,
    /// A quoted string: its bytes, as they are.
    Quoted,
}

impl KeyText {
    /// The key, decoded from `src` (the script it was parsed from); `None` if `src` is not
    /// that script.
    pub fn decode(&self, src: &str) -> Option<Key> {
        let text = src.get(self.span.start..self.span.end)?;
        let mut bytes = match self.form {
            KeyForm::Hex => {
                let hex = text
                    .strip_prefix("0x")
                    .or_else(|| text.strip_prefix("0X"))?;
                super::parser::decode_hex_padded(hex)?
            }
            KeyForm::Quoted => {
                let inner = text.strip_prefix('"')?.strip_suffix('"')?;
                zeroize::Zeroizing::new(inner.as_bytes().to_vec())
            }
        };
        // Moved, not copied: `Key` zeroizes it from here on.
        Key::new(std::mem::take(&mut *bytes)).ok()
    }
}

/// An encryption or authentication algorithm with its key.
#[derive(Debug, Clone)]
pub struct KeyedAlg {
    /// The algorithm (from [`pfkey::alg`]).
    pub alg: &'static Algorithm,
    /// Extra SA flags of setkey's DES variants (`des-deriv` 0x20, `des-32iv` 0x10).
    pub extra_flags: u32,
    /// The key; `None` for the NULL algorithms, which take no key token.
    pub key: Option<KeyText>,
    /// The algorithm name token.
    pub span: Span,
}

/// `-C ALG [-R]`.
#[derive(Debug, Clone)]
pub struct CompAlg {
    /// The compression algorithm.
    pub alg: &'static Algorithm,
    /// `-R`: the CPI is used as is (`SADB_X_EXT_RAWCPI`, 0x80; ignored by Linux).
    pub raw_cpi: bool,
}

/// The algorithms of an `add`/`update`.
#[derive(Debug, Clone, Default)]
pub struct Algorithms {
    /// `-E`.
    pub enc: Option<KeyedAlg>,
    /// `-A`.
    pub auth: Option<KeyedAlg>,
    /// `-C`.
    pub comp: Option<CompAlg>,
}

/// `add` / `update`.
#[derive(Debug, Clone)]
pub struct SaAdd {
    /// `-4 -6 -n`.
    pub opts: AddrOpts,
    /// Source.
    pub src: SaEndpoint,
    /// Destination.
    pub dst: SaEndpoint,
    /// Protocol.
    pub proto: SaProto,
    /// SPI (CPI for IPComp).
    pub spi: u32,
    /// SA options.
    pub sa: SaOptions,
    /// Algorithms and keys.
    pub algs: Algorithms,
}

/// `get` / `delete`: one SA by (src, dst, protocol, SPI).
#[derive(Debug, Clone)]
pub struct SaRef {
    /// `-4 -6 -n`.
    pub opts: AddrOpts,
    /// Source.
    pub src: SaEndpoint,
    /// Destination.
    pub dst: SaEndpoint,
    /// Protocol.
    pub proto: SaProto,
    /// SPI.
    pub spi: u32,
    /// SA options (only `-m` and `-u` reach the kernel, in SA2).
    pub sa: SaOptions,
}

/// `deleteall`: every SA of a protocol between two hosts.
#[derive(Debug, Clone)]
pub struct SaPair {
    /// `-4 -6 -n`.
    pub opts: AddrOpts,
    /// Source.
    pub src: SaEndpoint,
    /// Destination.
    pub dst: SaEndpoint,
    /// Protocol.
    pub proto: SaProto,
}

/// `getspi SRC DST PROTO [MIN-MAX] [-m MODE] [-u REQID]`.
#[derive(Debug, Clone)]
pub struct GetSpi {
    /// `-4 -6 -n`.
    pub opts: AddrOpts,
    /// Source.
    pub src: SaEndpoint,
    /// Destination.
    pub dst: SaEndpoint,
    /// Protocol.
    pub proto: SaProto,
    /// SPI range (`SADB_EXT_SPIRANGE`); `None` leaves the kernel's default.
    pub range: Option<(u32, u32)>,
    /// SA options (`-m`, `-u`).
    pub sa: SaOptions,
}

/// A policy selector address: `ADDR[/PLEN][[PORT]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The host or network address.
    pub host: HostSpec,
    /// `/PLEN`; `None` means the full length.
    pub prefix: Option<u8>,
    /// `[PORT]`; `None` or `[any]` mean 0.
    pub port: Option<u16>,
}

/// What follows some upper-layer protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpperMisc {
    /// ICMP / ICMPv6 / MH `TYPE[,CODE]`: the type travels in the source port, the code in
    /// the destination port.
    TypeCode {
        /// Message type.
        typ: u16,
        /// Message code.
        code: Option<u16>,
    },
    /// GRE key (`a.b.c.d` or a number): high 16 bits in the source port, low 16 in the
    /// destination port.
    GreKey(u32),
}

/// The upper-layer protocol of a selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upper {
    /// IP protocol number; 255 (`IPSEC_ULPROTO_ANY`) for `any`.
    pub proto: u8,
    /// ICMP type/code or GRE key.
    pub misc: Option<UpperMisc>,
}

/// A policy priority (`prio …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    /// The value sent (`sadb_x_policy_priority`; lower wins).
    pub value: u32,
}

/// One rule of an `ipsec` policy: `PROTO/MODE/[SRC-DST]/LEVEL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `esp`, `ah` or `ipcomp`.
    pub proto: SaType,
    /// `transport`, `tunnel` (or `beet`, a pfkey extension).
    pub mode: Mode,
    /// Tunnel endpoints (outer source, outer destination).
    pub endpoints: Option<(SocketAddr, SocketAddr)>,
    /// Level (`default` when omitted).
    pub level: Level,
    /// `unique:N`.
    pub reqid: u32,
    /// The rule's tokens.
    pub span: Span,
}

/// The text after `-P`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    /// `in`, `out` or `fwd`.
    pub dir: Direction,
    /// `prio …`.
    pub priority: Option<Priority>,
    /// The action; `None` for the direction-only form of `spddelete`.
    pub action: Option<PolicyType>,
    /// Rules of an `ipsec` policy.
    pub rules: Vec<Rule>,
    /// From the direction to the last rule.
    pub span: Span,
}

/// `spdadd` / `spdupdate` / `spddelete`.
#[derive(Debug, Clone)]
pub struct SpdEntry {
    /// `-4 -6 -n`.
    pub opts: AddrOpts,
    /// Source range.
    pub src: Selector,
    /// Destination range.
    pub dst: Selector,
    /// Upper-layer protocol.
    pub upper: Upper,
    /// `-ctx`.
    pub sec_ctx: Option<SecCtx>,
    /// `-P …`.
    pub policy: PolicySpec,
}
