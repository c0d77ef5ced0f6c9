//! Typed requests (what to ask the kernel) and replies (what it answered).
#![forbid(unsafe_code)]

use core::net::{IpAddr, SocketAddr};

use crate::builder::MessageBuilder;
use crate::error::BuildError;
use crate::message::Message;
use crate::policy::{IpsecRequest, Policy};
use crate::repr::{Address, Header, Key, Lifetime, MessageRepr, Sa, Sa2, SupportedAlg};
use crate::wire::*;

/// An algorithm id with its key (the key is zeroized on drop and redacted in `Debug`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgKey {
    /// The SADB algorithm id ([`crate::alg`]).
    pub id: u8,
    /// The key; [`Key::empty`] for the NULL algorithms.
    pub key: Key,
}

/// UDP encapsulation for NAT traversal (RFC 3948; Linux `SADB_X_EXT_NAT_T_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatT {
    /// `sadb_x_nat_t_type_type`: [`UDP_ENCAP_ESPINUDP`] (2) is what af_key accepts.
    pub encap_type: u8,
    /// UDP source port (host order; sent big-endian).
    pub sport: u16,
    /// UDP destination port.
    pub dport: u16,
    /// `SADB_X_EXT_NAT_T_OA`, the original address (validated, then dropped by Linux).
    pub oa: Option<Address>,
}

impl NatT {
    /// ESP in UDP (RFC 3948) between two ports.
    pub fn esp_in_udp(sport: u16, dport: u16) -> Self {
        NatT {
            encap_type: UDP_ENCAP_ESPINUDP,
            sport,
            dport,
            oa: None,
        }
    }
}

/// A security context (`SADB_X_EXT_SEC_CTX`, used by SELinux labelled IPsec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecCtx {
    /// `sadb_x_ctx_alg` (1 = SELinux).
    pub alg: u8,
    /// `sadb_x_ctx_doi`.
    pub doi: u8,
    /// The context string.
    pub ctx: Vec<u8>,
}

/// Everything an ADD or UPDATE can say about an SA (RFC 2367 §3.1.2–3.1.3; the
/// extensions af_key `pfkey_msg2xfrm_state` reads).
///
/// `Debug` shows the keys' lengths only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaSpec {
    /// AH, ESP or IPComp.
    pub satype: SaType,
    /// SPI in host order (for IPComp, the CPI).
    pub spi: u32,
    /// Source address of the SA.
    pub src: IpAddr,
    /// Destination address of the SA (with the SPI and protocol, the SA's identity).
    pub dst: IpAddr,
    /// `SADB_EXT_ADDRESS_PROXY`: on Linux the SA's inner source selector.
    pub proxy: Option<Address>,
    /// IPsec mode (`SADB_X_EXT_SA2`; [`Mode::Any`] means transport on Linux).
    pub mode: Mode,
    /// Request id binding the SA to `unique` policies (`SADB_X_EXT_SA2`).
    pub reqid: u32,
    /// Replay window in packets; Linux caps it at 32.
    pub replay: u8,
    /// Authentication algorithm and key (`SADB_EXT_KEY_AUTH`); required for AH.
    pub auth: Option<AlgKey>,
    /// Encryption algorithm and key (`SADB_EXT_KEY_ENCRYPT`); required for ESP
    /// (use the NULL cipher, id 11, with an empty key for none).
    pub enc: Option<AlgKey>,
    /// Compression algorithm id, for IPComp (`sadb_sa_encrypt`).
    pub comp: Option<u8>,
    /// `SADB_SAFLAGS_*`.
    pub flags: u32,
    /// Hard lifetime. af_key needs HARD and SOFT together: if only one is given the
    /// other is sent as unlimited (all zero).
    pub hard: Option<Lifetime>,
    /// Soft lifetime.
    pub soft: Option<Lifetime>,
    /// UDP encapsulation.
    pub nat_t: Option<NatT>,
    /// Security context.
    pub sec_ctx: Option<SecCtx>,
    /// The `sadb_msg_seq` of the ACQUIRE this SA answers: af_key then completes the
    /// larval state the ACQUIRE created instead of adding a second one.
    pub acquire_seq: Option<u32>,
}

impl SaSpec {
    /// An SA of `satype` with the given SPI and endpoints, mode any, no algorithms.
    pub fn new(satype: SaType, spi: u32, src: IpAddr, dst: IpAddr) -> Self {
        SaSpec {
            satype,
            spi,
            src,
            dst,
            proxy: None,
            mode: Mode::Any,
            reqid: 0,
            replay: 0,
            auth: None,
            enc: None,
            comp: None,
            flags: 0,
            hard: None,
            soft: None,
            nat_t: None,
            sec_ctx: None,
            acquire_seq: None,
        }
    }

    /// The SA's identity (for GET and DELETE).
    pub fn id(&self) -> SaId {
        SaId {
            satype: self.satype,
            spi: self.spi,
            src: self.src,
            dst: self.dst,
        }
    }

    /// Writes the extensions of an ADD or UPDATE, in the order af_key itself uses.
    pub fn emit(&self, b: &mut MessageBuilder<'_>) -> Result<(), BuildError> {
        let encrypt = match (&self.enc, self.comp) {
            (Some(e), _) => e.id,
            (None, Some(c)) => c,
            (None, None) => 0,
        };
        b.sa(&Sa {
            spi: self.spi,
            replay: self.replay,
            state: SaState::Mature,
            auth: self.auth.as_ref().map_or(0, |a| a.id),
            encrypt,
            flags: self.flags,
        })?;
        if self.hard.is_some() || self.soft.is_some() {
            b.lifetime(ExtType::LifetimeHard, &self.hard.unwrap_or_default())?;
            b.lifetime(ExtType::LifetimeSoft, &self.soft.unwrap_or_default())?;
        }
        b.address(ExtType::AddressSrc, &Address::host(self.src))?;
        b.address(ExtType::AddressDst, &Address::host(self.dst))?;
        if let Some(p) = &self.proxy {
            b.address(ExtType::AddressProxy, p)?;
        }
        if let Some(a) = &self.auth {
            b.key(ExtType::KeyAuth, a.key.bits, &a.key.data)?;
        }
        if let Some(e) = &self.enc {
            b.key(ExtType::KeyEncrypt, e.key.bits, &e.key.data)?;
        }
        b.sa2(&Sa2 {
            mode: self.mode,
            sequence: 0,
            reqid: self.reqid,
        })?;
        if let Some(n) = &self.nat_t {
            b.nat_t_type(n.encap_type)?;
            b.nat_t_port(ExtType::NatTSport, n.sport)?;
            b.nat_t_port(ExtType::NatTDport, n.dport)?;
            if let Some(oa) = &n.oa {
                b.address(ExtType::NatTOa, oa)?;
            }
        }
        if let Some(c) = &self.sec_ctx {
            b.sec_ctx(c.alg, c.doi, &c.ctx)?;
        }
        Ok(())
    }
}

/// An SA's identity for GET and DELETE (RFC 2367 §3.1.4–3.1.5). Linux looks the SA up
/// by (destination, SPI, protocol); the source is sent because the message needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaId {
    /// AH, ESP or IPComp.
    pub satype: SaType,
    /// SPI in host order.
    pub spi: u32,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
}

impl SaId {
    /// Writes SA, SRC and DST.
    pub fn emit(&self, b: &mut MessageBuilder<'_>) -> Result<(), BuildError> {
        b.sa(&Sa {
            spi: self.spi,
            ..Sa::default()
        })?;
        b.address(ExtType::AddressSrc, &Address::host(self.src))?;
        b.address(ExtType::AddressDst, &Address::host(self.dst))?;
        Ok(())
    }
}

/// A GETSPI request (RFC 2367 §3.1.1; af_key `pfkey_getspi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpiRequest {
    /// AH, ESP or IPComp.
    pub satype: SaType,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// SPI range, host order, inclusive. Linux's default is 0x100–0x0fffffff; for
    /// IPComp the CPI must stay below 0x10000.
    pub range: Option<(u32, u32)>,
    /// Mode (`SADB_X_EXT_SA2`).
    pub mode: Mode,
    /// Request id (`SADB_X_EXT_SA2`).
    pub reqid: u32,
    /// The ACQUIRE's `sadb_msg_seq`: af_key then gives the SPI to the larval state
    /// that ACQUIRE created instead of making a new one.
    pub acquire_seq: Option<u32>,
}

impl SpiRequest {
    /// A GETSPI between two hosts, any SPI, mode any, reqid 0.
    pub fn new(satype: SaType, src: IpAddr, dst: IpAddr) -> Self {
        SpiRequest {
            satype,
            src,
            dst,
            range: None,
            mode: Mode::Any,
            reqid: 0,
            acquire_seq: None,
        }
    }

    /// Writes SRC, DST, SA2 and SPIRANGE.
    pub fn emit(&self, b: &mut MessageBuilder<'_>) -> Result<(), BuildError> {
        b.address(ExtType::AddressSrc, &Address::host(self.src))?;
        b.address(ExtType::AddressDst, &Address::host(self.dst))?;
        b.sa2(&Sa2 {
            mode: self.mode,
            sequence: 0,
            reqid: self.reqid,
        })?;
        if let Some((min, max)) = self.range {
            b.spirange(min, max)?;
        }
        Ok(())
    }
}

/// A security policy with its selector, for SPDADD / SPDUPDATE / SPDDELETE.
///
/// af_key builds the selector from the address extensions: prefixes from both,
/// ports (full mask when non-zero), and the upper-layer protocol, which it reads
/// from both addresses; this type writes the same protocol into both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    /// Source selector: address, prefix length, port (0 = any).
    pub src: Address,
    /// Destination selector.
    pub dst: Address,
    /// Upper-layer protocol, [`IPSEC_ULPROTO_ANY`] (255) for any.
    pub proto: u8,
    /// Action, direction, priority and templates.
    pub policy: Policy,
    /// Hard lifetime.
    pub hard: Option<Lifetime>,
    /// Soft lifetime.
    pub soft: Option<Lifetime>,
    /// Security context.
    pub sec_ctx: Option<SecCtx>,
}

impl PolicySpec {
    /// A policy for traffic from `src` to `dst` (any protocol).
    pub fn new(src: Address, dst: Address, policy: Policy) -> Self {
        PolicySpec {
            src,
            dst,
            proto: IPSEC_ULPROTO_ANY,
            policy,
            hard: None,
            soft: None,
            sec_ctx: None,
        }
    }

    /// Writes SRC, DST, X_POLICY, lifetimes and security context.
    pub fn emit(&self, b: &mut MessageBuilder<'_>) -> Result<(), BuildError> {
        b.address(
            ExtType::AddressSrc,
            &Address {
                proto: self.proto,
                ..self.src
            },
        )?;
        b.address(
            ExtType::AddressDst,
            &Address {
                proto: self.proto,
                ..self.dst
            },
        )?;
        if let Some(h) = &self.hard {
            b.lifetime(ExtType::LifetimeHard, h)?;
        }
        if let Some(s) = &self.soft {
            b.lifetime(ExtType::LifetimeSoft, s)?;
        }
        b.policy(&self.policy)?;
        if let Some(c) = &self.sec_ctx {
            b.sec_ctx(c.alg, c.doi, &c.ctx)?;
        }
        Ok(())
    }
}

/// The algorithms a REGISTER reply lists (RFC 2367 §3.1.7; af_key
/// `compose_sadb_supported`: the same lists for every SA type, no compression list).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Supported {
    /// `SADB_EXT_SUPPORTED_AUTH`.
    pub auth: Vec<SupportedAlg>,
    /// `SADB_EXT_SUPPORTED_ENCRYPT`.
    pub encrypt: Vec<SupportedAlg>,
}

impl Supported {
    /// Reads the two lists (each absent when empty).
    pub fn from_message(m: &Message<'_>) -> Self {
        let conv = |v: Option<crate::message::SupportedView<'_>>| -> Vec<SupportedAlg> {
            v.map(|s| {
                s.algs()
                    .iter()
                    .map(|a| SupportedAlg {
                        id: a.id,
                        ivlen: a.ivlen,
                        min_bits: a.minbits.get(),
                        max_bits: a.maxbits.get(),
                        reserved: a.reserved.get(),
                    })
                    .collect()
            })
            .unwrap_or_default()
        };
        Supported {
            auth: conv(m.supported_auth()),
            encrypt: conv(m.supported_encrypt()),
        }
    }
}

/// Owned values built from a received message, for replies, dump entries and events.
pub trait FromMessage: Sized {
    /// Converts; fails with the missing extension when one the type needs is absent.
    fn from_message(m: &Message<'_>) -> Result<Self, ExtType>;
}

/// Keeps nothing of the reply: for requests whose success is all the caller needs
/// (e.g. a script's ADD, whose reply repeats the keys), so no copy of it is made.
impl FromMessage for () {
    fn from_message(_: &Message<'_>) -> Result<Self, ExtType> {
        Ok(())
    }
}

impl FromMessage for MessageRepr {
    fn from_message(m: &Message<'_>) -> Result<Self, ExtType> {
        Ok(MessageRepr::from_message(m))
    }
}

/// One SA as the kernel reports it (af_key `pfkey_xfrm_state2msg`): the reply to
/// ADD, UPDATE, GET, DELETE and GETSPI, a dump entry, or an EXPIRE.
///
/// Keys are present in ADD/UPDATE/GET/DELETE replies and dumps; they are zeroized
/// when this value is dropped and never shown by `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaInfo {
    /// The message header (type, satype, seq, pid).
    pub header: Header,
    /// The SA type (from the header).
    pub satype: SaType,
    /// SPI in host order (CPI for IPComp).
    pub spi: u32,
    /// State: larval (from GETSPI/ACQUIRE), mature, dying (soft lifetime passed), dead.
    pub state: SaState,
    /// Replay window in packets.
    pub replay: u8,
    /// Authentication algorithm id (0 = none).
    pub auth: u8,
    /// Encryption algorithm id, or the compression algorithm for IPComp.
    pub encrypt: u8,
    /// `SADB_SAFLAGS_*`.
    pub flags: u32,
    /// Source address.
    pub src: Address,
    /// Destination address.
    pub dst: Address,
    /// `SADB_EXT_ADDRESS_PROXY`: the SA's source selector when it differs from `src`.
    pub proxy: Option<Address>,
    /// Authentication key.
    pub key_auth: Option<Key>,
    /// Encryption key.
    pub key_encrypt: Option<Key>,
    /// Counters: packets, bytes, creation time and first use (seconds since the epoch).
    pub current: Option<Lifetime>,
    /// Hard limits (0 = unlimited).
    pub hard: Option<Lifetime>,
    /// Soft limits (0 = unlimited).
    pub soft: Option<Lifetime>,
    /// Mode (transport when the kernel sends no `SADB_X_EXT_SA2`).
    pub mode: Mode,
    /// Request id.
    pub reqid: u32,
    /// UDP encapsulation.
    pub nat_t: Option<NatT>,
    /// Security context.
    pub sec_ctx: Option<SecCtx>,
}

impl SaInfo {
    /// The compression algorithm of an IPComp SA.
    pub fn comp(&self) -> Option<u8> {
        (self.satype == SaType::IpComp).then_some(self.encrypt)
    }

    /// The SA's identity.
    pub fn id(&self) -> SaId {
        SaId {
            satype: self.satype,
            spi: self.spi,
            src: self.src.addr.ip(),
            dst: self.dst.addr.ip(),
        }
    }
}

fn sec_ctx_of(m: &Message<'_>) -> Option<SecCtx> {
    m.sec_ctx().map(|c| SecCtx {
        alg: c.header().alg,
        doi: c.header().doi,
        ctx: c.context().to_vec(),
    })
}

impl FromMessage for SaInfo {
    fn from_message(m: &Message<'_>) -> Result<Self, ExtType> {
        let sa = m.sa().ok_or(ExtType::Sa)?;
        let src = m.src().ok_or(ExtType::AddressSrc)?;
        let dst = m.dst().ok_or(ExtType::AddressDst)?;
        let sa2 = m.sa2().map(Sa2::from_wire);
        let nat_t = m.nat_t_type().map(|t| NatT {
            encap_type: t.nat_t_type,
            sport: m.nat_t_sport().unwrap_or(0),
            dport: m.nat_t_dport().unwrap_or(0),
            oa: m.nat_t_oa().map(|a| Address::from_view(&a)),
        });
        let sa = Sa::from_wire(sa);
        Ok(SaInfo {
            header: Header::from_wire(m.header()),
            satype: m.satype(),
            spi: sa.spi,
            state: sa.state,
            replay: sa.replay,
            auth: sa.auth,
            encrypt: sa.encrypt,
            flags: sa.flags,
            src: Address::from_view(&src),
            dst: Address::from_view(&dst),
            proxy: m.proxy().map(|a| Address::from_view(&a)),
            key_auth: m.key_auth().map(|k| Key::from_view(&k)),
            key_encrypt: m.key_encrypt().map(|k| Key::from_view(&k)),
            current: m.lifetime_current().map(Lifetime::from_wire),
            hard: m.lifetime_hard().map(Lifetime::from_wire),
            soft: m.lifetime_soft().map(Lifetime::from_wire),
            mode: sa2.map_or(Mode::Transport, |s| s.mode),
            reqid: sa2.map_or(0, |s| s.reqid),
            nat_t,
            sec_ctx: sec_ctx_of(m),
        })
    }
}

/// One policy as the kernel reports it (af_key `pfkey_xfrm_policy2msg`): the reply
/// to SPDADD/SPDUPDATE/SPDDELETE/SPDGET/SPDDELETE2, a dump entry, or an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    /// The message header; Linux puts the policy's reference count in `reserved`.
    pub header: Header,
    /// Source selector (address, prefix length, port, protocol).
    pub src: Address,
    /// Destination selector.
    pub dst: Address,
    /// Action, direction, kernel-assigned id, priority and templates.
    pub policy: Policy,
    /// Counters.
    pub current: Option<Lifetime>,
    /// Hard limits.
    pub hard: Option<Lifetime>,
    /// Soft limits.
    pub soft: Option<Lifetime>,
    /// Security context.
    pub sec_ctx: Option<SecCtx>,
}

impl PolicyInfo {
    /// The templates of the policy.
    pub fn requests(&self) -> &[IpsecRequest] {
        &self.policy.requests
    }
}

impl FromMessage for PolicyInfo {
    fn from_message(m: &Message<'_>) -> Result<Self, ExtType> {
        let src = m.src().ok_or(ExtType::AddressSrc)?;
        let dst = m.dst().ok_or(ExtType::AddressDst)?;
        let pol = m.policy().ok_or(ExtType::Policy)?;
        Ok(PolicyInfo {
            header: Header::from_wire(m.header()),
            src: Address::from_view(&src),
            dst: Address::from_view(&dst),
            policy: Policy::from_view(&pol),
            current: m.lifetime_current().map(Lifetime::from_wire),
            hard: m.lifetime_hard().map(Lifetime::from_wire),
            soft: m.lifetime_soft().map(Lifetime::from_wire),
            sec_ctx: sec_ctx_of(m),
        })
    }
}

/// The endpoints of a NAT-T mapping change: address and UDP port.
pub(crate) fn with_port(a: &crate::message::AddressView<'_>, port: Option<u16>) -> SocketAddr {
    SocketAddr::new(a.ip(), port.unwrap_or(0))
}
