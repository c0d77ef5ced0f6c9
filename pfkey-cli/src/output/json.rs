//! JSON output: serde view structures built from the library's borrowed message
//! views (the library itself has no serde). The shape is documented in `JSON.md`
//! and is stable: fields are added, never renamed or removed.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use pfkey::alg::{display_id, AlgKind};
use pfkey::message::{AddressView, Ext, PolicyView, RequestView};
use pfkey::render::{errno_name, ident_type_name, ip_proto_name, SA_FLAG_NAMES};
use pfkey::wire::*;
use pfkey::{Message, ParseError};
use serde::Serialize;

/// One message (JSON.md, "Message").
#[derive(Debug, Serialize)]
pub struct MessageJson {
    /// Message type name (`DUMP`, `X_SPDADD`, `unknown(N)`).
    #[serde(rename = "type")]
    pub msg_type: String,
    /// `sadb_msg_type`.
    pub type_id: u8,
    /// SA type name (`esp`, `unspec`, `unknown(N)`).
    pub satype: String,
    /// `sadb_msg_satype`.
    pub satype_id: u8,
    /// `sadb_msg_errno`.
    pub errno: u8,
    /// Symbolic errno (`EEXIST`), null when 0 or unknown.
    pub errno_name: Option<&'static str>,
    /// `sadb_msg_seq`.
    pub seq: u32,
    /// `sadb_msg_pid`.
    pub pid: u32,
    /// Length in bytes (`sadb_msg_len` × 8).
    pub len: usize,
    /// `sadb_msg_reserved` (policy refcount in Linux SPD replies).
    pub reserved: u16,
    /// Extensions in wire order.
    pub extensions: Vec<ExtJson>,
}

/// One extension: its type, and the fields of its kind flattened beside it.
#[derive(Debug, Serialize)]
pub struct ExtJson {
    /// Extension type name (`SA`, `KEY_AUTH`, `X_POLICY`, `unknown(N)`).
    #[serde(rename = "type")]
    pub ext_type: String,
    /// `sadb_ext_type`.
    pub type_id: u16,
    /// The decoded fields.
    #[serde(flatten)]
    pub body: ExtBody,
}

/// The fields of each extension kind (JSON.md, "Extensions").
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ExtBody {
    /// `SA`.
    Sa {
        /// SPI (host order).
        spi: u32,
        /// SPI as `0x%08x`.
        spi_hex: String,
        /// Replay window.
        replay: u8,
        /// State name.
        state: String,
        /// Authentication algorithm name.
        auth: String,
        /// Authentication algorithm id.
        auth_id: u8,
        /// Encryption algorithm name (compression algorithm for IPComp).
        encrypt: String,
        /// Encryption (or compression) algorithm id.
        encrypt_id: u8,
        /// `sadb_sa_flags`.
        flags: u32,
        /// Names of the set flag bits; unnamed bits as one `0x…` entry.
        flag_names: Vec<String>,
    },
    /// `LIFETIME_*`.
    Lifetime(LifetimeJson),
    /// `ADDRESS_*`, `X_NAT_T_OA`.
    Address(AddressJson),
    /// `KEY_AUTH`, `KEY_ENCRYPT`.
    Key {
        /// Key length in bits.
        bits: u16,
        /// Hex key with `--show-keys`, else null.
        key: Option<String>,
    },
    /// `IDENTITY_*`.
    Identity {
        /// Identity type name.
        ident_type: String,
        /// `sadb_ident_type`.
        ident_type_id: u16,
        /// `sadb_ident_id`.
        id: u64,
        /// The identity string up to its NUL (invalid UTF-8 replaced).
        text: String,
    },
    /// `SENSITIVITY`.
    Sensitivity {
        /// `sadb_sens_dpd`.
        dpd: u32,
        /// `sadb_sens_sens_level`.
        sens_level: u8,
        /// `sadb_sens_sens_len`.
        sens_len: u8,
        /// `sadb_sens_integ_level`.
        integ_level: u8,
        /// `sadb_sens_integ_len`.
        integ_len: u8,
        /// The bitmaps, hex.
        bitmaps: String,
    },
    /// `PROPOSAL`.
    Proposal {
        /// `sadb_prop_replay`.
        replay: u8,
        /// The combinations.
        combs: Vec<CombJson>,
    },
    /// `SUPPORTED_*`.
    Supported {
        /// The algorithms.
        algorithms: Vec<SupportedJson>,
    },
    /// `SPIRANGE`.
    SpiRange {
        /// Lowest SPI.
        min: u32,
        /// Highest SPI.
        max: u32,
    },
    /// `X_POLICY`.
    Policy(PolicyJson),
    /// `X_SA2`.
    Sa2 {
        /// Mode name.
        mode: String,
        /// Request id.
        reqid: u32,
        /// `sadb_x_sa2_sequence`.
        sequence: u32,
    },
    /// `X_NAT_T_TYPE`.
    NatTType {
        /// Encapsulation name (`espinudp`).
        nat_t_type: String,
        /// `sadb_x_nat_t_type_type`.
        nat_t_type_id: u8,
    },
    /// `X_NAT_T_SPORT`, `X_NAT_T_DPORT`.
    NatTPort {
        /// UDP port.
        port: u16,
    },
    /// `X_SEC_CTX`.
    SecCtx {
        /// `sadb_x_ctx_alg`.
        alg: u8,
        /// `sadb_x_ctx_doi`.
        doi: u8,
        /// The context up to its NUL (invalid UTF-8 replaced).
        context: String,
    },
    /// `X_KMADDRESS`.
    KmAddress {
        /// Local key manager address.
        local: EndpointJson,
        /// Remote key manager address.
        remote: EndpointJson,
    },
    /// `X_FILTER`.
    Filter {
        /// `inet`, `inet6` or `unknown(N)`.
        family: String,
        /// Source prefix address (null for an unknown family).
        src: Option<IpAddr>,
        /// Source prefix length.
        src_prefix_len: u8,
        /// Destination prefix address.
        dst: Option<IpAddr>,
        /// Destination prefix length.
        dst_prefix_len: u8,
    },
    /// `X_KMPRIVATE` and unknown types: the bytes after the 4-byte extension header
    /// (after the 8-byte header for `X_KMPRIVATE`).
    Opaque {
        /// Hex.
        data: String,
    },
}

/// A lifetime (JSON.md).
#[derive(Debug, Serialize)]
pub struct LifetimeJson {
    /// Packets on Linux.
    pub allocations: u32,
    /// Bytes.
    pub bytes: u64,
    /// Seconds (CURRENT: epoch of creation).
    pub addtime: u64,
    /// Seconds (CURRENT: epoch of first use).
    pub usetime: u64,
}

/// An address extension (JSON.md).
#[derive(Debug, Serialize)]
pub struct AddressJson {
    /// `inet` or `inet6`.
    pub family: &'static str,
    /// The IP address.
    pub address: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// Port, 0 for any.
    pub port: u16,
    /// Upper-layer protocol number (255 = any).
    pub proto: u8,
    /// Its name (`any`, `tcp`), null when unknown.
    pub proto_name: Option<&'static str>,
    /// IPv6 only: flow label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flowinfo: Option<u32>,
    /// IPv6 only: scope id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope_id: Option<u32>,
}

/// An address and port.
#[derive(Debug, Serialize)]
pub struct EndpointJson {
    /// The IP address.
    pub address: IpAddr,
    /// The port.
    pub port: u16,
}

/// One proposal combination.
#[derive(Debug, Serialize)]
pub struct CombJson {
    /// Authentication algorithm name.
    pub auth: String,
    /// Its id.
    pub auth_id: u8,
    /// Minimum authentication key bits.
    pub auth_min_bits: u16,
    /// Maximum authentication key bits.
    pub auth_max_bits: u16,
    /// Encryption algorithm name.
    pub encrypt: String,
    /// Its id.
    pub encrypt_id: u8,
    /// Minimum encryption key bits.
    pub encrypt_min_bits: u16,
    /// Maximum encryption key bits.
    pub encrypt_max_bits: u16,
    /// `sadb_comb_flags`.
    pub flags: u16,
    /// Soft limits.
    pub soft: LifetimeJson,
    /// Hard limits.
    pub hard: LifetimeJson,
}

/// One supported algorithm.
#[derive(Debug, Serialize)]
pub struct SupportedJson {
    /// Algorithm name.
    pub name: String,
    /// Algorithm id.
    pub id: u8,
    /// Minimum key bits.
    pub min_bits: u16,
    /// Maximum key bits.
    pub max_bits: u16,
    /// IV length as the kernel reports it.
    pub ivlen: u8,
}

/// A policy (JSON.md).
#[derive(Debug, Serialize)]
pub struct PolicyJson {
    /// `discard`, `none`, `ipsec`, `entrust`, `bypass`.
    pub policy_type: String,
    /// `in`, `out`, `fwd`, …
    pub dir: String,
    /// Kernel policy id.
    pub id: u32,
    /// Priority (lower wins).
    pub priority: u32,
    /// Templates in order.
    pub requests: Vec<RequestJson>,
}

/// One policy template.
#[derive(Debug, Serialize)]
pub struct RequestJson {
    /// `esp`, `ah`, `ipcomp` or `unknown(N)`.
    pub proto: String,
    /// IP protocol number.
    pub proto_id: u16,
    /// Mode name.
    pub mode: String,
    /// Level name.
    pub level: String,
    /// Request id.
    pub reqid: u32,
    /// Tunnel endpoints, null outside tunnel mode.
    pub tunnel: Option<TunnelJson>,
}

/// Tunnel endpoints of a request.
#[derive(Debug, Serialize)]
pub struct TunnelJson {
    /// Outer source.
    pub src: IpAddr,
    /// Outer destination.
    pub dst: IpAddr,
}

/// A message that did not parse (JSON.md, "Errors").
#[derive(Debug, Serialize)]
pub struct ErrorJson {
    /// The error in words.
    pub message: String,
    /// The extension involved, when there is one.
    pub ext: Option<String>,
    /// Byte offset within the message, when known.
    pub at: Option<usize>,
}

/// One line of `pfkey decode --json`.
#[derive(Debug, Serialize)]
pub struct DecodedJson {
    /// 1 for the first message of the input.
    pub number: usize,
    /// Byte offset of the message in the input.
    pub offset: usize,
    /// Its length in bytes.
    pub length: usize,
    /// The decoded message, absent when it did not parse.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageJson>,
    /// Why it did not parse, absent when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorJson>,
}

/// Writes `value` as one line of JSON.
pub fn line(w: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *w, value).map_err(io::Error::from)?;
    w.write_all(b"\n")
}

/// The view of a whole message.
pub fn message(msg: &Message<'_>, show_keys: bool) -> MessageJson {
    let satype = msg.satype();
    MessageJson {
        msg_type: msg.msg_type().to_string(),
        type_id: msg.msg_type().value(),
        satype: satype.to_string(),
        satype_id: satype.value(),
        errno: msg.errno(),
        errno_name: errno_name(msg.errno()),
        seq: msg.seq(),
        pid: msg.pid(),
        len: msg.as_bytes().len(),
        reserved: msg.reserved(),
        extensions: msg
            .extensions()
            .map(|e| extension(&e, satype, show_keys))
            .collect(),
    }
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn lossy_to_nul(bytes: &[u8]) -> String {
    let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(text).into_owned()
}

/// The view of one extension.
pub fn extension(ext: &Ext<'_>, satype: SaType, show_keys: bool) -> ExtJson {
    let t = ext.ext_type();
    let body = match *ext {
        Ext::Sa(s) => {
            let enc_kind = if satype == SaType::IpComp {
                AlgKind::Compress
            } else {
                AlgKind::Encrypt
            };
            let flags = s.flags.get();
            ExtBody::Sa {
                spi: s.spi.get(),
                spi_hex: format!("0x{:08x}", s.spi.get()),
                replay: s.replay,
                state: SaState::from_value(s.state).to_string(),
                auth: display_id(AlgKind::Auth, s.auth).to_string(),
                auth_id: s.auth,
                encrypt: display_id(enc_kind, s.encrypt).to_string(),
                encrypt_id: s.encrypt,
                flags,
                flag_names: flag_names(flags),
            }
        }
        Ext::Lifetime(_, l) => ExtBody::Lifetime(LifetimeJson {
            allocations: l.allocations.get(),
            bytes: l.bytes.get(),
            addtime: l.addtime.get(),
            usetime: l.usetime.get(),
        }),
        Ext::Address(_, a) => ExtBody::Address(address(&a)),
        Ext::Key(_, k) => ExtBody::Key {
            bits: k.bits(),
            key: show_keys.then(|| hex(k.bytes())),
        },
        Ext::Identity(_, i) => {
            let it = i.header().ident_type.get();
            ExtBody::Identity {
                ident_type: ident_type_name(it)
                    .map_or_else(|| format!("unknown({it})"), str::to_owned),
                ident_type_id: it,
                id: i.header().id.get(),
                text: lossy_to_nul(i.text()),
            }
        }
        Ext::Sensitivity(s) => {
            let h = s.header();
            ExtBody::Sensitivity {
                dpd: h.dpd.get(),
                sens_level: h.sens_level,
                sens_len: h.sens_len,
                integ_level: h.integ_level,
                integ_len: h.integ_len,
                bitmaps: hex(s.data()),
            }
        }
        Ext::Proposal(p) => ExtBody::Proposal {
            replay: p.header().replay,
            combs: p.combs().iter().map(comb).collect(),
        },
        Ext::Supported(t, s) => {
            let kind = if t == ExtType::SupportedAuth {
                AlgKind::Auth
            } else {
                AlgKind::Encrypt
            };
            ExtBody::Supported {
                algorithms: s
                    .algs()
                    .iter()
                    .map(|a| SupportedJson {
                        name: display_id(kind, a.id).to_string(),
                        id: a.id,
                        min_bits: a.minbits.get(),
                        max_bits: a.maxbits.get(),
                        ivlen: a.ivlen,
                    })
                    .collect(),
            }
        }
        Ext::SpiRange(r) => ExtBody::SpiRange {
            min: r.min.get(),
            max: r.max.get(),
        },
        Ext::KmPrivate(b) => ExtBody::Opaque {
            data: hex(b.get(SadbXKmprivate::SIZE..).unwrap_or_default()),
        },
        Ext::Policy(p) => ExtBody::Policy(policy(&p)),
        Ext::Sa2(s) => ExtBody::Sa2 {
            mode: Mode::from_value(s.mode).to_string(),
            reqid: s.reqid.get(),
            sequence: s.sequence.get(),
        },
        Ext::NatTType(n) => ExtBody::NatTType {
            nat_t_type: match n.nat_t_type {
                UDP_ENCAP_ESPINUDP => "espinudp".to_owned(),
                UDP_ENCAP_ESPINUDP_NON_IKE => "espinudp-non-ike".to_owned(),
                other => format!("unknown({other})"),
            },
            nat_t_type_id: n.nat_t_type,
        },
        Ext::NatTPort(_, p) => ExtBody::NatTPort { port: p.port.get() },
        Ext::SecCtx(c) => ExtBody::SecCtx {
            alg: c.header().alg,
            doi: c.header().doi,
            context: lossy_to_nul(c.context()),
        },
        Ext::KmAddress(k) => ExtBody::KmAddress {
            local: endpoint(k.local()),
            remote: endpoint(k.remote()),
        },
        Ext::Filter(f) => filter(f),
        Ext::Unknown { bytes, .. } => ExtBody::Opaque {
            data: hex(bytes.get(SadbExt::SIZE..).unwrap_or_default()),
        },
        // `Ext` is non-exhaustive: a kind added to the library later is shown raw.
        _ => ExtBody::Opaque {
            data: String::new(),
        },
    };
    ExtJson {
        ext_type: t.to_string(),
        type_id: t.value(),
        body,
    }
}

fn flag_names(flags: u32) -> Vec<String> {
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

fn address(a: &AddressView<'_>) -> AddressJson {
    let (family, flowinfo, scope_id) = match a.socket_addr() {
        SocketAddr::V4(_) => ("inet", None, None),
        SocketAddr::V6(v6) => ("inet6", Some(v6.flowinfo()), Some(v6.scope_id())),
    };
    AddressJson {
        family,
        address: a.ip(),
        prefix_len: a.prefix_len(),
        port: a.port(),
        proto: a.proto(),
        proto_name: ip_proto_name(a.proto()),
        flowinfo,
        scope_id,
    }
}

fn endpoint(a: SocketAddr) -> EndpointJson {
    EndpointJson {
        address: a.ip(),
        port: a.port(),
    }
}

fn lifetime(allocations: u32, bytes: u64, addtime: u64, usetime: u64) -> LifetimeJson {
    LifetimeJson {
        allocations,
        bytes,
        addtime,
        usetime,
    }
}

fn comb(c: &SadbComb) -> CombJson {
    CombJson {
        auth: display_id(AlgKind::Auth, c.auth).to_string(),
        auth_id: c.auth,
        auth_min_bits: c.auth_minbits.get(),
        auth_max_bits: c.auth_maxbits.get(),
        encrypt: display_id(AlgKind::Encrypt, c.encrypt).to_string(),
        encrypt_id: c.encrypt,
        encrypt_min_bits: c.encrypt_minbits.get(),
        encrypt_max_bits: c.encrypt_maxbits.get(),
        flags: c.flags.get(),
        soft: lifetime(
            c.soft_allocations.get(),
            c.soft_bytes.get(),
            c.soft_addtime.get(),
            c.soft_usetime.get(),
        ),
        hard: lifetime(
            c.hard_allocations.get(),
            c.hard_bytes.get(),
            c.hard_addtime.get(),
            c.hard_usetime.get(),
        ),
    }
}

fn policy(p: &PolicyView<'_>) -> PolicyJson {
    PolicyJson {
        policy_type: p.policy_type().to_string(),
        dir: p.dir().to_string(),
        id: p.id(),
        priority: p.priority(),
        requests: p.requests().map(|r| request(&r)).collect(),
    }
}

fn request(r: &RequestView<'_>) -> RequestJson {
    let proto_id = r.header().proto.get();
    RequestJson {
        proto: r
            .satype()
            .map_or_else(|| format!("unknown({proto_id})"), |t| t.to_string()),
        proto_id,
        mode: r.mode().to_string(),
        level: r.level().to_string(),
        reqid: r.reqid(),
        tunnel: r.tunnel().map(|(s, d)| TunnelJson {
            src: s.ip(),
            dst: d.ip(),
        }),
    }
}

fn filter(f: &SadbXFilter) -> ExtBody {
    let fam = f.family.get();
    let ip = |b: &[u8; 16]| match fam {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(*b))),
        _ => None,
    };
    ExtBody::Filter {
        family: match fam {
            AF_INET => "inet".to_owned(),
            AF_INET6 => "inet6".to_owned(),
            other => format!("unknown({other})"),
        },
        src: ip(&f.saddr),
        src_prefix_len: f.splen,
        dst: ip(&f.daddr),
        dst_prefix_len: f.dplen,
    }
}

/// The view of a parse error: its text, and the extension and offset it names.
pub fn error(e: &ParseError) -> ErrorJson {
    let (ext, at) = match *e {
        ParseError::Truncated { at, .. } => (None, Some(at)),
        ParseError::BadVersion(_) => (None, Some(0)),
        ParseError::LengthMismatch { .. } => (None, Some(4)),
        ParseError::ReservedExtension { at } => (Some(ExtType::Reserved), Some(at)),
        ParseError::BadExtensionLength { ext, at, .. }
        | ParseError::ExtensionTooShort { ext, at, .. }
        | ParseError::DuplicateExtension { ext, at, .. }
        | ParseError::UnsupportedFamily { ext, at, .. }
        | ParseError::AddressLength { ext, at, .. }
        | ParseError::PrefixTooLong { ext, at, .. }
        | ParseError::KeyOverrun { ext, at, .. } => (Some(ext), Some(at)),
        ParseError::SecCtxLength { at, .. } => (Some(ExtType::SecCtx), Some(at)),
        ParseError::BadRequest { at, .. } => (Some(ExtType::Policy), Some(at)),
        _ => (None, None),
    };
    ErrorJson {
        message: e.to_string(),
        ext: ext.map(|t| t.to_string()),
        at,
    }
}
