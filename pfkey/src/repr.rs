//! Owned, typed representations of messages and extensions.
//!
//! These are plain values, convenient for the CLI and for daemons: parse them from
//! a [`Message`] view with [`MessageRepr::from_message`] / [`Extension::from_ext`],
//! emit them with [`MessageRepr::emit`] / [`MessageBuilder::extension`]. Unknown
//! extension types and unknown enumeration values are kept, so
//! `parse → repr → emit` reproduces the original bytes for every message whose
//! reserved fields and padding are zero (which is every message Linux builds).
//!
//! Keys are held in [`Key`], which zeroizes its bytes on drop and never prints them
//! in `Debug`.
#![forbid(unsafe_code)]

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use zeroize::Zeroizing;

use crate::builder::MessageBuilder;
use crate::error::{BuildError, ParseError};
use crate::message::{Ext, Message};
use crate::policy::Policy;
use crate::wire::*;

/// The base header's meaningful fields (`sadb_msg`; version and length are implied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// `sadb_msg_type`.
    pub msg_type: MsgType,
    /// `sadb_msg_satype`.
    pub satype: SaType,
    /// `sadb_msg_errno`.
    pub errno: u8,
    /// `sadb_msg_reserved`: 0 on send (Linux rejects anything else).
    pub reserved: u16,
    /// `sadb_msg_seq`.
    pub seq: u32,
    /// `sadb_msg_pid`.
    pub pid: u32,
}

impl Header {
    /// A request header with errno and reserved set to 0.
    pub const fn new(msg_type: MsgType, satype: SaType, seq: u32, pid: u32) -> Self {
        Header {
            msg_type,
            satype,
            errno: 0,
            reserved: 0,
            seq,
            pid,
        }
    }

    /// Reads the header of a message.
    pub fn from_wire(h: &SadbMsg) -> Self {
        Header {
            msg_type: MsgType::from_value(h.msg_type),
            satype: SaType::from_value(h.satype),
            errno: h.errno,
            reserved: h.reserved.get(),
            seq: h.seq.get(),
            pid: h.pid.get(),
        }
    }
}

/// `SADB_EXT_SA` (RFC 2367 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sa {
    /// SPI in host order (emitted big-endian); for IPComp the CPI.
    pub spi: u32,
    /// Replay window in packets (Linux caps it at 32).
    pub replay: u8,
    /// SA state (ignored by Linux on input).
    pub state: SaState,
    /// Authentication algorithm id ([`crate::alg`]).
    pub auth: u8,
    /// Encryption algorithm id, or compression id for IPComp.
    pub encrypt: u8,
    /// `SADB_SAFLAGS_*`.
    pub flags: u32,
}

impl Default for Sa {
    /// SPI 0, no replay window, state MATURE, no algorithms, no flags.
    fn default() -> Self {
        Sa {
            spi: 0,
            replay: 0,
            state: SaState::Mature,
            auth: 0,
            encrypt: 0,
            flags: 0,
        }
    }
}

impl Sa {
    /// Reads the wire structure.
    pub fn from_wire(s: &SadbSa) -> Self {
        Sa {
            spi: s.spi.get(),
            replay: s.replay,
            state: SaState::from_value(s.state),
            auth: s.auth,
            encrypt: s.encrypt,
            flags: s.flags.get(),
        }
    }

    /// The wire structure, its `len` and `exttype` left zero for the builder (or the
    /// caller) to set.
    pub fn to_wire(&self) -> SadbSa {
        SadbSa {
            len: U16::ZERO,
            ext_type: U16::ZERO,
            spi: BeU32::new(self.spi),
            replay: self.replay,
            state: self.state.value(),
            auth: self.auth,
            encrypt: self.encrypt,
            flags: U32::new(self.flags),
        }
    }
}

/// A lifetime (RFC 2367 §2.3.2): limits for HARD/SOFT, counters for CURRENT.
/// Zero means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lifetime {
    /// Packets on Linux (RFC 2367: allocations).
    pub allocations: u32,
    /// Bytes.
    pub bytes: u64,
    /// Seconds after creation (CURRENT: creation time, seconds since the epoch).
    pub addtime: u64,
    /// Seconds after first use (CURRENT: first-use time, seconds since the epoch).
    pub usetime: u64,
}

impl Lifetime {
    /// Reads the wire structure.
    pub fn from_wire(l: &SadbLifetime) -> Self {
        Lifetime {
            allocations: l.allocations.get(),
            bytes: l.bytes.get(),
            addtime: l.addtime.get(),
            usetime: l.usetime.get(),
        }
    }
}

/// An address extension (RFC 2367 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    /// Upper-layer protocol, [`IPSEC_ULPROTO_ANY`] (255) for any.
    pub proto: u8,
    /// Prefix length: 32/128 for an SA endpoint, the selector width in policies.
    pub prefix_len: u8,
    /// Address and port (0 = any).
    pub addr: SocketAddr,
}

impl Address {
    /// A host address as SA messages use it: any protocol, full prefix, port 0.
    pub fn host(ip: IpAddr) -> Self {
        Address {
            proto: IPSEC_ULPROTO_ANY,
            prefix_len: if ip.is_ipv4() { 32 } else { 128 },
            addr: SocketAddr::new(ip, 0),
        }
    }

    /// Reads an address view.
    pub fn from_view(v: &crate::message::AddressView<'_>) -> Self {
        Address {
            proto: v.proto(),
            prefix_len: v.prefix_len(),
            addr: v.socket_addr(),
        }
    }
}

/// Key material (RFC 2367 §2.3.4). Zeroized on drop; `Debug` shows only the length.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    /// Key length in bits.
    pub bits: u16,
    /// `ceil(bits / 8)` bytes of key.
    pub data: Zeroizing<Vec<u8>>,
}

impl Key {
    /// A key of `data.len() * 8` bits. Fails if that exceeds 65 535 bits.
    pub fn new(data: Vec<u8>) -> Result<Self, BuildError> {
        let data = Zeroizing::new(data);
        let bits = u16::try_from(data.len() * 8).map_err(|_| BuildError::KeyTooLong(data.len()))?;
        Ok(Key { bits, data })
    }

    /// An empty, 0-bit key (the NULL algorithms).
    pub fn empty() -> Self {
        Key {
            bits: 0,
            data: Zeroizing::new(Vec::new()),
        }
    }

    /// Copies a key view.
    pub fn from_view(v: &crate::message::KeyView<'_>) -> Self {
        Key {
            bits: v.bits(),
            data: Zeroizing::new(v.bytes().to_vec()),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({} bits, redacted)", self.bits)
    }
}

/// `SADB_X_EXT_SA2`: mode and reqid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sa2 {
    /// IPsec mode.
    pub mode: Mode,
    /// `sadb_x_sa2_sequence` (ignored by Linux).
    pub sequence: u32,
    /// Request id binding the SA to `unique` policies.
    pub reqid: u32,
}

impl Sa2 {
    /// Reads the wire structure.
    pub fn from_wire(s: &SadbXSa2) -> Self {
        Sa2 {
            mode: Mode::from_value(s.mode),
            sequence: s.sequence.get(),
            reqid: s.reqid.get(),
        }
    }

    /// The wire structure, its `len` and `exttype` left zero for the builder (or the
    /// caller) to set.
    pub fn to_wire(&self) -> SadbXSa2 {
        SadbXSa2 {
            len: U16::ZERO,
            ext_type: U16::ZERO,
            mode: self.mode.value(),
            reserved1: 0,
            reserved2: U16::ZERO,
            sequence: U32::new(self.sequence),
            reqid: U32::new(self.reqid),
        }
    }
}

/// One supported algorithm from a REGISTER reply (`struct sadb_alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportedAlg {
    /// Algorithm id.
    pub id: u8,
    /// IV length in bits (unreliable on Linux).
    pub ivlen: u8,
    /// Minimum key bits.
    pub min_bits: u16,
    /// Maximum key bits.
    pub max_bits: u16,
    /// `sadb_alg_reserved`.
    pub reserved: u16,
}

/// One algorithm combination of a proposal (`struct sadb_comb`, RFC 2367 §2.3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Comb {
    /// Authentication algorithm id.
    pub auth: u8,
    /// Encryption algorithm id.
    pub encrypt: u8,
    /// Flags.
    pub flags: u16,
    /// Authentication key bits, minimum.
    pub auth_minbits: u16,
    /// Authentication key bits, maximum.
    pub auth_maxbits: u16,
    /// Encryption key bits, minimum.
    pub encrypt_minbits: u16,
    /// Encryption key bits, maximum.
    pub encrypt_maxbits: u16,
    /// `sadb_comb_reserved`.
    pub reserved: u32,
    /// Soft lifetime, packets.
    pub soft_allocations: u32,
    /// Hard lifetime, packets.
    pub hard_allocations: u32,
    /// Soft lifetime, bytes.
    pub soft_bytes: u64,
    /// Hard lifetime, bytes.
    pub hard_bytes: u64,
    /// Soft lifetime, seconds after creation.
    pub soft_addtime: u64,
    /// Hard lifetime, seconds after creation.
    pub hard_addtime: u64,
    /// Soft lifetime, seconds after first use.
    pub soft_usetime: u64,
    /// Hard lifetime, seconds after first use.
    pub hard_usetime: u64,
}

impl Comb {
    /// Reads the wire structure.
    pub fn from_wire(c: &SadbComb) -> Self {
        Comb {
            auth: c.auth,
            encrypt: c.encrypt,
            flags: c.flags.get(),
            auth_minbits: c.auth_minbits.get(),
            auth_maxbits: c.auth_maxbits.get(),
            encrypt_minbits: c.encrypt_minbits.get(),
            encrypt_maxbits: c.encrypt_maxbits.get(),
            reserved: c.reserved.get(),
            soft_allocations: c.soft_allocations.get(),
            hard_allocations: c.hard_allocations.get(),
            soft_bytes: c.soft_bytes.get(),
            hard_bytes: c.hard_bytes.get(),
            soft_addtime: c.soft_addtime.get(),
            hard_addtime: c.hard_addtime.get(),
            soft_usetime: c.soft_usetime.get(),
            hard_usetime: c.hard_usetime.get(),
        }
    }

    fn to_wire(self) -> SadbComb {
        SadbComb {
            auth: self.auth,
            encrypt: self.encrypt,
            flags: U16::new(self.flags),
            auth_minbits: U16::new(self.auth_minbits),
            auth_maxbits: U16::new(self.auth_maxbits),
            encrypt_minbits: U16::new(self.encrypt_minbits),
            encrypt_maxbits: U16::new(self.encrypt_maxbits),
            reserved: U32::new(self.reserved),
            soft_allocations: U32::new(self.soft_allocations),
            hard_allocations: U32::new(self.hard_allocations),
            soft_bytes: U64::new(self.soft_bytes),
            hard_bytes: U64::new(self.hard_bytes),
            soft_addtime: U64::new(self.soft_addtime),
            hard_addtime: U64::new(self.hard_addtime),
            soft_usetime: U64::new(self.soft_usetime),
            hard_usetime: U64::new(self.hard_usetime),
        }
    }
}

/// An address-prefix filter for DUMP (`struct sadb_x_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    /// Source address; IPv4 addresses use the first 4 of the 16 address bytes.
    pub src: IpAddr,
    /// Source prefix length.
    pub src_prefix: u8,
    /// Destination address.
    pub dst: IpAddr,
    /// Destination prefix length.
    pub dst_prefix: u8,
}

impl Filter {
    /// Reads the wire structure; `None` if the family is neither IPv4 nor IPv6.
    pub fn from_wire(f: &SadbXFilter) -> Option<Self> {
        let conv = |b: &[u8; 16]| -> Option<IpAddr> {
            match f.family.get() {
                AF_INET => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
                AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(*b))),
                _ => None,
            }
        };
        Some(Filter {
            src: conv(&f.saddr)?,
            src_prefix: f.splen,
            dst: conv(&f.daddr)?,
            dst_prefix: f.dplen,
        })
    }

    fn to_wire(self) -> SadbXFilter {
        let bytes = |ip: IpAddr| -> [u8; 16] {
            match ip {
                IpAddr::V4(a) => {
                    let mut b = [0u8; 16];
                    b[..4].copy_from_slice(&a.octets());
                    b
                }
                IpAddr::V6(a) => a.octets(),
            }
        };
        SadbXFilter {
            len: U16::ZERO,
            ext_type: U16::ZERO,
            saddr: bytes(self.src),
            daddr: bytes(self.dst),
            family: U16::new(if self.src.is_ipv4() {
                AF_INET
            } else {
                AF_INET6
            }),
            splen: self.src_prefix,
            dplen: self.dst_prefix,
        }
    }
}

/// One extension, owned. Variants that share a structure carry their [`ExtType`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Extension {
    /// `SADB_EXT_SA`.
    Sa(Sa),
    /// `SADB_EXT_LIFETIME_{CURRENT,HARD,SOFT}`.
    Lifetime(ExtType, Lifetime),
    /// `SADB_EXT_ADDRESS_{SRC,DST,PROXY}`, `SADB_X_EXT_NAT_T_OA`.
    Address(ExtType, Address),
    /// `SADB_EXT_KEY_{AUTH,ENCRYPT}`.
    Key(ExtType, Key),
    /// `SADB_EXT_IDENTITY_{SRC,DST}`: type, id, and the bytes after the header.
    Identity {
        /// Which identity.
        ext: ExtType,
        /// `sadb_ident_type`.
        ident_type: u16,
        /// `sadb_ident_reserved`.
        reserved: u16,
        /// `sadb_ident_id`.
        id: u64,
        /// The string and its padding.
        data: Vec<u8>,
    },
    /// `SADB_EXT_SENSITIVITY`: the header fields and the raw bitmaps.
    Sensitivity {
        /// The fixed header as received (length fields are recomputed on emit).
        header: SadbSens,
        /// The bitmaps.
        data: Vec<u8>,
    },
    /// `SADB_EXT_PROPOSAL`.
    Proposal {
        /// `sadb_prop_replay`.
        replay: u8,
        /// The combinations.
        combs: Vec<Comb>,
    },
    /// `SADB_EXT_SUPPORTED_{AUTH,ENCRYPT}`.
    Supported(ExtType, Vec<SupportedAlg>),
    /// `SADB_EXT_SPIRANGE`.
    SpiRange {
        /// Lowest SPI.
        min: u32,
        /// Highest SPI.
        max: u32,
    },
    /// `SADB_X_EXT_KMPRIVATE`: bytes after the 8-byte header.
    KmPrivate(Vec<u8>),
    /// `SADB_X_EXT_POLICY`.
    Policy(Policy),
    /// `SADB_X_EXT_SA2`.
    Sa2(Sa2),
    /// `SADB_X_EXT_NAT_T_TYPE`.
    NatTType(u8),
    /// `SADB_X_EXT_NAT_T_{SPORT,DPORT}` (host-order port).
    NatTPort(ExtType, u16),
    /// `SADB_X_EXT_SEC_CTX`.
    SecCtx {
        /// `sadb_x_ctx_alg`.
        alg: u8,
        /// `sadb_x_ctx_doi`.
        doi: u8,
        /// The context string.
        ctx: Vec<u8>,
    },
    /// `SADB_X_EXT_KMADDRESS`.
    KmAddress {
        /// Local address.
        local: SocketAddr,
        /// Remote address.
        remote: SocketAddr,
    },
    /// `SADB_X_EXT_FILTER`.
    Filter(Filter),
    /// Any extension kept as raw bytes, header included (unknown types, or known
    /// ones this representation cannot hold losslessly).
    Raw(Vec<u8>),
}

impl Extension {
    /// Converts a borrowed extension view to an owned value.
    pub fn from_ext(e: &Ext<'_>) -> Self {
        match *e {
            Ext::Sa(s) => Extension::Sa(Sa::from_wire(s)),
            Ext::Lifetime(t, l) => Extension::Lifetime(t, Lifetime::from_wire(l)),
            Ext::Address(t, a) => Extension::Address(t, Address::from_view(&a)),
            Ext::Key(t, k) => Extension::Key(t, Key::from_view(&k)),
            Ext::Identity(t, i) => Extension::Identity {
                ext: t,
                ident_type: i.header().ident_type.get(),
                reserved: i.header().reserved.get(),
                id: i.header().id.get(),
                data: i.data().to_vec(),
            },
            Ext::Sensitivity(s) => Extension::Sensitivity {
                // The length and type are recomputed on emit; keep them out of the value.
                header: SadbSens {
                    len: U16::ZERO,
                    ext_type: U16::ZERO,
                    ..*s.header()
                },
                data: s.data().to_vec(),
            },
            Ext::Proposal(p) => Extension::Proposal {
                replay: p.header().replay,
                combs: p.combs().iter().map(Comb::from_wire).collect(),
            },
            Ext::Supported(t, s) => Extension::Supported(
                t,
                s.algs()
                    .iter()
                    .map(|a| SupportedAlg {
                        id: a.id,
                        ivlen: a.ivlen,
                        min_bits: a.minbits.get(),
                        max_bits: a.maxbits.get(),
                        reserved: a.reserved.get(),
                    })
                    .collect(),
            ),
            Ext::SpiRange(r) => Extension::SpiRange {
                min: r.min.get(),
                max: r.max.get(),
            },
            Ext::KmPrivate(b) => Extension::KmPrivate(b.get(8..).unwrap_or_default().to_vec()),
            Ext::Policy(p) => Extension::Policy(Policy::from_view(&p)),
            Ext::Sa2(s) => Extension::Sa2(Sa2::from_wire(s)),
            Ext::NatTType(t) => Extension::NatTType(t.nat_t_type),
            Ext::NatTPort(t, p) => Extension::NatTPort(t, p.port.get()),
            Ext::SecCtx(c) => Extension::SecCtx {
                alg: c.header().alg,
                doi: c.header().doi,
                ctx: c.context().to_vec(),
            },
            Ext::KmAddress(k) => Extension::KmAddress {
                local: k.local(),
                remote: k.remote(),
            },
            Ext::Filter(f) => match Filter::from_wire(f) {
                Some(f) => Extension::Filter(f),
                None => Extension::Raw(f_bytes(f)),
            },
            Ext::Unknown { bytes, .. } => Extension::Raw(bytes.to_vec()),
        }
    }

    /// Appends this extension to a message being built.
    pub fn emit(&self, b: &mut MessageBuilder<'_>) -> Result<(), BuildError> {
        match self {
            Extension::Sa(s) => b.sa(s).map(drop)?,
            Extension::Lifetime(t, l) => b.lifetime(*t, l).map(drop)?,
            Extension::Address(t, a) => b.address(*t, a).map(drop)?,
            Extension::Key(t, k) => b.key(*t, k.bits, &k.data).map(drop)?,
            Extension::Identity {
                ext,
                ident_type,
                reserved,
                id,
                data,
            } => {
                let h = SadbIdent {
                    len: U16::ZERO,
                    ext_type: U16::ZERO,
                    ident_type: U16::new(*ident_type),
                    reserved: U16::new(*reserved),
                    id: U64::new(*id),
                };
                struct_ext(b, *ext, h.as_bytes_ref(), data)?
            }
            Extension::Sensitivity { header, data } => {
                struct_ext(b, ExtType::Sensitivity, header.as_bytes_ref(), data)?
            }
            Extension::Proposal { replay, combs } => {
                let h = SadbProp {
                    len: U16::ZERO,
                    ext_type: U16::ZERO,
                    replay: *replay,
                    reserved: [0; 3],
                };
                let len = SadbProp::SIZE + combs.len() * SadbComb::SIZE;
                b.extension_with(ExtType::Proposal, len, |r| {
                    copy_at(r, 0, h.as_bytes_ref());
                    for (i, c) in combs.iter().enumerate() {
                        copy_at(
                            r,
                            SadbProp::SIZE + i * SadbComb::SIZE,
                            c.to_wire().as_bytes_ref(),
                        );
                    }
                })
                .map(drop)?
            }
            Extension::Supported(t, algs) => {
                let len = SadbSupported::SIZE + algs.len() * SadbAlg::SIZE;
                b.extension_with(*t, len, |r| {
                    for (i, a) in algs.iter().enumerate() {
                        let w = SadbAlg {
                            id: a.id,
                            ivlen: a.ivlen,
                            minbits: U16::new(a.min_bits),
                            maxbits: U16::new(a.max_bits),
                            reserved: U16::new(a.reserved),
                        };
                        copy_at(r, SadbSupported::SIZE + i * SadbAlg::SIZE, w.as_bytes_ref());
                    }
                })
                .map(drop)?
            }
            Extension::SpiRange { min, max } => b.spirange(*min, *max).map(drop)?,
            Extension::KmPrivate(data) => b
                .extension_with(ExtType::KmPrivate, 8 + data.len(), |r| copy_at(r, 8, data))
                .map(drop)?,
            Extension::Policy(p) => b.policy(p).map(drop)?,
            Extension::Sa2(s) => b.sa2(s).map(drop)?,
            Extension::NatTType(t) => b.nat_t_type(*t).map(drop)?,
            Extension::NatTPort(t, p) => b.nat_t_port(*t, *p).map(drop)?,
            Extension::SecCtx { alg, doi, ctx } => b.sec_ctx(*alg, *doi, ctx).map(drop)?,
            Extension::KmAddress { local, remote } => {
                if local.is_ipv4() != remote.is_ipv4() {
                    return Err(BuildError::Unrepresentable {
                        ext: ExtType::KmAddress,
                        what: "local and remote addresses of different families",
                    });
                }
                let mut tmp = [0u8; 2 * SockaddrIn6::SIZE];
                let n = crate::builder::write_sockaddr(local, &mut tmp);
                let m = crate::builder::write_sockaddr(remote, &mut tmp[n..]);
                b.extension_with(ExtType::KmAddress, 8 + n + m, |r| {
                    copy_at(r, 8, &tmp[..n + m])
                })
                .map(drop)?
            }
            Extension::Filter(f) => {
                if f.src.is_ipv4() != f.dst.is_ipv4() {
                    return Err(BuildError::Unrepresentable {
                        ext: ExtType::Filter,
                        what: "source and destination of different families",
                    });
                }
                let w = f.to_wire();
                struct_ext(b, ExtType::Filter, w.as_bytes_ref(), &[])?
            }
            Extension::Raw(bytes) => b.raw_extension(bytes).map(drop)?,
        };
        Ok(())
    }

    /// The extension's type.
    pub fn ext_type(&self) -> ExtType {
        match self {
            Extension::Sa(_) => ExtType::Sa,
            Extension::Lifetime(t, _)
            | Extension::Address(t, _)
            | Extension::Key(t, _)
            | Extension::Supported(t, _)
            | Extension::NatTPort(t, _) => *t,
            Extension::Identity { ext, .. } => *ext,
            Extension::Sensitivity { .. } => ExtType::Sensitivity,
            Extension::Proposal { .. } => ExtType::Proposal,
            Extension::SpiRange { .. } => ExtType::SpiRange,
            Extension::KmPrivate(_) => ExtType::KmPrivate,
            Extension::Policy(_) => ExtType::Policy,
            Extension::Sa2(_) => ExtType::Sa2,
            Extension::NatTType(_) => ExtType::NatTType,
            Extension::SecCtx { .. } => ExtType::SecCtx,
            Extension::KmAddress { .. } => ExtType::KmAddress,
            Extension::Filter(_) => ExtType::Filter,
            Extension::Raw(b) => ExtType::from_value(
                b.get(2..4)
                    .map(|x| u16::from_ne_bytes([x[0], x[1]]))
                    .unwrap_or(0),
            ),
        }
    }
}

/// A filter whose family is neither IPv4 nor IPv6, kept raw: the 40-byte structure
/// with its length field set to match (bytes after the structure are not kept, like
/// every other fixed-size extension), so that emitting and re-parsing it gives the
/// same value.
fn f_bytes(f: &SadbXFilter) -> Vec<u8> {
    let mut w = *f;
    w.len = U16::new((SadbXFilter::SIZE / WORD) as u16);
    zerocopy::IntoBytes::as_bytes(&w).to_vec()
}

/// `as_bytes` under a name that does not clash with inherent methods.
trait AsBytesRef {
    fn as_bytes_ref(&self) -> &[u8];
}

impl<T: zerocopy::IntoBytes + zerocopy::Immutable> AsBytesRef for T {
    fn as_bytes_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

fn copy_at(region: &mut [u8], at: usize, src: &[u8]) {
    if let Some(dst) = region.get_mut(at..at + src.len()) {
        dst.copy_from_slice(src);
    }
}

/// Emits a fixed structure (whose first 4 bytes the builder overwrites) plus a tail.
fn struct_ext(
    b: &mut MessageBuilder<'_>,
    t: ExtType,
    head: &[u8],
    tail: &[u8],
) -> Result<(), BuildError> {
    b.extension_with(t, head.len() + tail.len(), |r| {
        copy_at(r, 0, head);
        copy_at(r, head.len(), tail);
    })?;
    Ok(())
}

/// A whole message, owned: header and extensions in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRepr {
    /// The header.
    pub header: Header,
    /// The extensions, in the order they appear (or will be emitted).
    pub extensions: Vec<Extension>,
}

impl MessageRepr {
    /// Converts a validated view into owned values.
    pub fn from_message(m: &Message<'_>) -> Self {
        MessageRepr {
            header: Header::from_wire(m.header()),
            extensions: m.extensions().map(|e| Extension::from_ext(&e)).collect(),
        }
    }

    /// Parses and converts in one step.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        Ok(Self::from_message(&Message::parse(bytes)?))
    }

    /// Emits the message, appended to `out`.
    pub fn emit_vec(&self, out: &mut Vec<u8>) -> Result<(), BuildError> {
        let mut b = MessageBuilder::new_vec(out, &self.header);
        for e in &self.extensions {
            e.emit(&mut b)?;
        }
        b.finish()?;
        Ok(())
    }

    /// Emits the message into `buf`, returning its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        let mut b = MessageBuilder::new(buf, &self.header)?;
        for e in &self.extensions {
            e.emit(&mut b)?;
        }
        Ok(b.finish()?.len())
    }

    /// The message as a new `Vec`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, BuildError> {
        let mut v = Vec::new();
        self.emit_vec(&mut v)?;
        Ok(v)
    }

    /// The first extension of type `t`.
    pub fn get(&self, t: ExtType) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.ext_type() == t)
    }
}
