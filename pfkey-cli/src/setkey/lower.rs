//! From statements to the PF_KEY requests they mean on Linux.
//!
//! Each statement becomes the messages setkey(8) sends for it (reference notes §3, §5, §7),
//! as owned [`MessageRepr`]s in setkey's extension order, with these deliberate choices:
//!
//! - **Header:** `seq` and `pid` are left 0; the executor numbers its requests and sets its
//!   pid so that replies can be correlated (setkey sends `seq 0` and matches nothing).
//! - **SA defaults copied from setkey** (so our bytes equal setkey's, reference §8):
//!   `sadb_sa_state` 0 and `sadb_sa_flags` 0x40 (KAME's CYCSEQ, cleared by
//!   `-f nocyclic-seq`); SA2 mode 0 (any) unless `-m`; addresses with protocol 255 and a
//!   full prefix. Linux ignores the state and every flag but NOECN, DECAP_DSCP and
//!   NOPMTUDISC, so copying costs nothing and keeps traces comparable.
//! - **Lifetimes:** when any of `-lh -ls -bh -bs` is given, *both* LIFETIME_HARD and
//!   LIFETIME_SOFT are sent (the missing one all zero = unlimited). setkey sends only the
//!   kind given, which af_key refuses with `EINVAL` (`pfkey_msg2xfrm_state` wants both or
//!   neither).
//! - **AH with `-A null`** sends a 0-bit KEY_AUTH: af_key requires KEY_AUTH for AH, and
//!   setkey's omission makes such an SA fail with `EINVAL`. ESP with `-E null` sends a 0-bit
//!   KEY_ENCRYPT, as setkey does.
//! - **RFC mode** (setkey's Linux default, [`LowerOptions::fwd_copy`]): every `in` policy of
//!   `spdadd`/`spdupdate`/`spddelete` is followed by the same message with direction `fwd`,
//!   in which each `unique` rule becomes `require` with reqid 0 (setkey rewrites only the
//!   first rule; a second `unique` rule would keep a reqid that Linux's forwarding check
//!   then demands of the SA).
//! - **`deleteall`** becomes [`Request::DeleteAll`]: on Linux the executor dumps the SAs of
//!   that type and deletes each one whose addresses match (af_key's DELETE needs an SPI).
//! - Host names are resolved through a [`Resolver`]; `add`/`get`/`delete`/`deleteall` use
//!   every source × destination pair of one family (as setkey), policies need names that
//!   resolve to exactly one address.
#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};

use pfkey::message::Message;
use pfkey::policy::{IpsecRequest, Policy};
use pfkey::repr::{Address, Extension, Header, Key, Lifetime, MessageRepr, Sa, Sa2};
use pfkey::wire::{BeU16, SadbAddress, SadbKey, SadbMsg, SadbSa, SadbXSa2, SockaddrIn, U16, U32};
use pfkey::wire::{
    Direction, ExtType, Level, Mode, MsgType, PolicyType, SaState, SaType, AF_INET,
    IPSEC_ULPROTO_ANY, PF_KEY_V2, UDP_ENCAP_ESPINUDP,
};
use zerocopy::IntoBytes;

use zeroize::Zeroize;

use super::ast::*;
use super::parser::PRIORITY_DEFAULT;

/// KAME `SADB_X_EXT_OLD`: `esp-old` / `ah-old`.
pub const FLAG_OLD: u32 = 0x1;
/// KAME `SADB_X_EXT_IV4B`: `des-32iv`.
pub const FLAG_IV4B: u32 = 0x10;
/// KAME `SADB_X_EXT_DERIV`: `des-deriv`.
pub const FLAG_DERIV: u32 = 0x20;
/// KAME `SADB_X_EXT_CYCSEQ`: set by default, cleared by `-f nocyclic-seq`.
pub const FLAG_CYCSEQ: u32 = 0x40;
/// KAME `SADB_X_EXT_RAWCPI`: `-C ALG -R`.
pub const FLAG_RAWCPI: u32 = 0x80;
/// KAME `SADB_X_EXT_PRAND`: `-f random-pad`.
pub const FLAG_PRAND: u32 = 0x100;
/// KAME `SADB_X_EXT_PZERO`: `-f zero-pad`.
pub const FLAG_PZERO: u32 = 0x200;

/// The default NAT-T port for `esp-udp` without `[PORT]` (RFC 3948).
pub const NAT_T_PORT: u16 = 4500;

/// One thing the executor does for a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Send this message (fill in `seq` and `pid`) and wait for its reply.
    Send(MessageRepr),
    /// `deleteall` on Linux: `SADB_DUMP` of `satype`, then one `SADB_DELETE` (SA, SRC, DST)
    /// for every SA whose source and destination addresses are these.
    DeleteAll {
        /// The SA type to dump.
        satype: SaType,
        /// Source address to match.
        src: IpAddr,
        /// Destination address to match.
        dst: IpAddr,
    },
}

/// Options of the translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LowerOptions {
    /// RFC mode: also send every `in` policy as `fwd` (setkey's Linux default; setkey `-k`
    /// turns it off).
    pub fwd_copy: bool,
}

impl Default for LowerOptions {
    /// `fwd_copy` on, as setkey on Linux.
    fn default() -> Self {
        LowerOptions { fwd_copy: true }
    }
}

/// A translation error (name resolution), with the span of the host it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowerError {
    /// Where.
    pub span: Span,
    /// What.
    pub message: String,
}

/// Resolves host names (setkey uses `getaddrinfo(3)`).
pub trait Resolver {
    /// The addresses of `name`, restricted to `family` when given; an error text otherwise.
    fn resolve(&self, name: &str, family: Option<Family>) -> Result<Vec<IpAddr>, String>;
}

/// The system resolver (`getaddrinfo` through the standard library: `/etc/hosts`, DNS, …).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, name: &str, family: Option<Family>) -> Result<Vec<IpAddr>, String> {
        let addrs = (name, 0u16).to_socket_addrs().map_err(|e| e.to_string())?;
        let mut out: Vec<IpAddr> = Vec::new();
        for a in addrs {
            let ip = a.ip();
            if family.is_none_or(|f| Family::of(&ip) == f) && !out.contains(&ip) {
                out.push(ip);
            }
        }
        Ok(out)
    }
}

/// A resolver that refuses every name (for numeric-only operation).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoResolver;

impl Resolver for NoResolver {
    fn resolve(&self, _name: &str, _family: Option<Family>) -> Result<Vec<IpAddr>, String> {
        Err("host names are not resolved here; give a numeric address".into())
    }
}

fn err(span: Span, message: impl Into<String>) -> LowerError {
    LowerError {
        span,
        message: message.into(),
    }
}

/// Whether lowering `stmt` cannot fail and depends on nothing but the statement: an SA
/// `add` or `update` whose addresses are all numeric, without a zone, of one family.
/// [`lower_add`] can then fail nowhere (no name to resolve, no interface to look up, no
/// family mismatch), so a check need not lower it and the executor may lower it just before
/// sending it instead of keeping its messages for the whole script.
pub fn lowers_infallibly(stmt: &Statement) -> bool {
    let numeric = |h: &HostSpec| match &h.host {
        Host::Ip { addr, scope: None } => Some(addr.is_ipv4()),
        _ => None,
    };
    match &stmt.command {
        Command::Add(a) | Command::Update(a) => {
            let oa_ok = match &a.proto {
                SaProto::EspUdp { oa: Some(h) } => numeric(h).is_some(),
                _ => true,
            };
            let src = numeric(&a.src.host);
            oa_ok && src.is_some() && src == numeric(&a.dst.host)
        }
        _ => false,
    }
}

/// Translates one statement of the script `src` into its requests (keys are decoded from
/// `src`, see [`KeyText`]). `Exit` gives none.
pub fn lower(
    stmt: &Statement,
    src: &str,
    opts: &LowerOptions,
    resolver: &dyn Resolver,
) -> Result<Vec<Request>, LowerError> {
    match &stmt.command {
        Command::Add(a) => lower_add(a, src, MsgType::Add, resolver),
        Command::Update(a) => lower_add(a, src, MsgType::Update, resolver),
        Command::Get(r) => lower_ref(r, MsgType::Get, resolver),
        Command::Delete(r) => lower_ref(r, MsgType::Delete, resolver),
        Command::DeleteAll(p) => {
            let pairs = pairs(&p.src, &p.dst, p.opts, resolver)?;
            Ok(pairs
                .into_iter()
                .map(|(s, d)| Request::DeleteAll {
                    satype: p.proto.satype(),
                    src: s.ip(),
                    dst: d.ip(),
                })
                .collect())
        }
        Command::GetSpi(g) => {
            let pairs = pairs(&g.src, &g.dst, g.opts, resolver)?;
            Ok(pairs
                .into_iter()
                .map(|(s, d)| {
                    let mut ext = vec![
                        Extension::Sa2(sa2(&g.sa)),
                        Extension::Address(ExtType::AddressSrc, sa_address(s)),
                        Extension::Address(ExtType::AddressDst, sa_address(d)),
                    ];
                    if let Some((min, max)) = g.range {
                        ext.push(Extension::SpiRange { min, max });
                    }
                    Request::Send(MessageRepr {
                        header: Header::new(MsgType::GetSpi, g.proto.satype(), 0, 0),
                        extensions: ext,
                    })
                })
                .collect())
        }
        Command::Flush(p) => Ok(vec![header_only(MsgType::Flush, p)]),
        Command::Dump(p) => Ok(vec![header_only(MsgType::Dump, p)]),
        Command::SpdAdd(e) => lower_spd(e, MsgType::XSpdAdd, opts, resolver),
        Command::SpdUpdate(e) => lower_spd(e, MsgType::XSpdUpdate, opts, resolver),
        Command::SpdDelete(e) => lower_spd(e, MsgType::XSpdDelete, opts, resolver),
        Command::SpdFlush => Ok(vec![Request::Send(MessageRepr {
            header: Header::new(MsgType::XSpdFlush, SaType::Unspec, 0, 0),
            extensions: Vec::new(),
        })]),
        Command::SpdDump => Ok(vec![Request::Send(MessageRepr {
            header: Header::new(MsgType::XSpdDump, SaType::Unspec, 0, 0),
            extensions: Vec::new(),
        })]),
        Command::Exit => Ok(Vec::new()),
    }
}

/// For [`Request::DeleteAll`]: the `SADB_DELETE` to send for one entry of the `SADB_DUMP`
/// reply, or `None` when the entry is of another type or other addresses (setkey's Linux
/// `deleteall`, which matches on the source and destination address only).
pub fn delete_for_dump_entry(
    entry: &Message<'_>,
    satype: SaType,
    src: IpAddr,
    dst: IpAddr,
) -> Option<MessageRepr> {
    if entry.satype() != satype
        || entry.src()?.ip() != src
        || entry.dst()?.ip() != dst
        || entry.errno() != 0
    {
        return None;
    }
    let spi = entry.sa()?.spi.get();
    Some(MessageRepr {
        header: Header::new(MsgType::Delete, satype, 0, 0),
        extensions: vec![
            Extension::Sa(Sa {
                spi,
                replay: 0,
                state: SaState::Larval,
                auth: 0,
                encrypt: 0,
                flags: FLAG_CYCSEQ,
            }),
            Extension::Address(ExtType::AddressSrc, sa_address(SocketAddr::new(src, 0))),
            Extension::Address(ExtType::AddressDst, sa_address(SocketAddr::new(dst, 0))),
        ],
    })
}

fn header_only(t: MsgType, p: &Option<SaProto>) -> Request {
    Request::Send(MessageRepr {
        header: Header::new(t, p.as_ref().map_or(SaType::Unspec, SaProto::satype), 0, 0),
        extensions: Vec::new(),
    })
}

/// The interface index of an IPv6 zone: a number, or an interface name looked up in
/// `/sys/class/net` (af_key ignores the scope; it is kept for fidelity).
fn scope_id(scope: &str, span: Span) -> Result<u32, LowerError> {
    if let Ok(n) = scope.parse::<u32>() {
        return Ok(n);
    }
    let valid = !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !scope.starts_with('.');
    let path = format!("/sys/class/net/{scope}/ifindex");
    valid
        .then(|| std::fs::read_to_string(&path).ok())
        .flatten()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| {
            err(
                span,
                format!("unknown network interface '{scope}' after '%'"),
            )
        })
}

/// The addresses a host stands for, as socket addresses with `port`.
fn resolve(
    h: &HostSpec,
    port: u16,
    family: Option<Family>,
    r: &dyn Resolver,
) -> Result<Vec<SocketAddr>, LowerError> {
    match &h.host {
        Host::Ip { addr, scope } => {
            let sa = match (addr, scope) {
                (IpAddr::V6(v6), Some(z)) => {
                    SocketAddr::V6(SocketAddrV6::new(*v6, port, 0, scope_id(z, h.span)?))
                }
                _ => SocketAddr::new(*addr, port),
            };
            Ok(vec![sa])
        }
        Host::Name(name) => {
            let ips = r
                .resolve(name, family)
                .map_err(|e| err(h.span, format!("cannot resolve '{name}': {e}")))?;
            if ips.is_empty() {
                let fam = family.map_or(String::new(), |f| format!("{} ", f.name()));
                return Err(err(h.span, format!("'{name}' has no {fam}address")));
            }
            Ok(ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect())
        }
    }
}

/// Every (source, destination) pair of one family (setkey sends one message per pair).
fn pairs(
    src: &SaEndpoint,
    dst: &SaEndpoint,
    opts: AddrOpts,
    r: &dyn Resolver,
) -> Result<Vec<(SocketAddr, SocketAddr)>, LowerError> {
    let s = resolve(&src.host, src.port.unwrap_or(0), opts.family, r)?;
    let d = resolve(&dst.host, dst.port.unwrap_or(0), opts.family, r)?;
    let out: Vec<_> = s
        .iter()
        .flat_map(|a| {
            d.iter()
                .filter(move |b| a.is_ipv4() == b.is_ipv4())
                .map(move |b| (*a, *b))
        })
        .collect();
    if out.is_empty() {
        return Err(err(
            src.host.span.to(dst.host.span),
            "the source and destination have no addresses of one family (one is IPv4 only, the \
             other IPv6 only)",
        ));
    }
    Ok(out)
}

fn full_prefix(a: &SocketAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

/// An SA endpoint as setkey sends it: protocol 255, full prefix, the port as given.
fn sa_address(a: SocketAddr) -> Address {
    Address {
        proto: IPSEC_ULPROTO_ANY,
        prefix_len: full_prefix(&a),
        addr: a,
    }
}

fn sa2(o: &SaOptions) -> Sa2 {
    Sa2 {
        mode: o.mode.unwrap_or(Mode::Any),
        sequence: 0,
        reqid: o.reqid.unwrap_or(0),
    }
}

/// `sadb_sa_flags` as setkey computes it, plus the Linux flags of our `-f` extensions.
pub fn sa_flags(proto: &SaProto, o: &SaOptions, algs: Option<&Algorithms>) -> u32 {
    let f = &o.flags;
    let mut v = if f.nocyclic_seq { 0 } else { FLAG_CYCSEQ };
    if f.zero_pad {
        v |= FLAG_PZERO;
    }
    if f.random_pad {
        v |= FLAG_PRAND;
    }
    if f.noecn {
        v |= pfkey::wire::SADB_SAFLAGS_NOECN;
    }
    if f.decap_dscp {
        v |= pfkey::wire::SADB_SAFLAGS_DECAP_DSCP;
    }
    if f.nopmtudisc {
        v |= pfkey::wire::SADB_SAFLAGS_NOPMTUDISC;
    }
    if proto.is_old() {
        v |= FLAG_OLD;
    }
    if let Some(a) = algs {
        if let Some(e) = &a.enc {
            v |= e.extra_flags;
        }
        if a.comp.as_ref().is_some_and(|c| c.raw_cpi) {
            v |= FLAG_RAWCPI;
        }
    }
    v
}

fn lifetime(l: &LifetimeOpts) -> Lifetime {
    Lifetime {
        allocations: l.packets.unwrap_or(0),
        bytes: l.bytes.unwrap_or(0),
        addtime: l.addtime.unwrap_or(0),
        usetime: l.usetime.unwrap_or(0),
    }
}

fn sec_ctx_ext(c: &SecCtx) -> Extension {
    // sadb_x_ctx_len counts the terminating NUL (setkey: strlen + 1).
    let mut ctx = c.label.clone();
    ctx.push(0);
    Extension::SecCtx {
        alg: c.alg,
        doi: c.doi,
        ctx,
    }
}

/// The `sadb_sa` of an `add` or `update`: larval, the IPComp CPI's algorithm in the
/// encryption slot when there is no encryption.
fn sa_of(a: &SaAdd) -> Sa {
    let encrypt = match (&a.algs.enc, &a.algs.comp) {
        (Some(e), _) => e.alg.id,
        (None, Some(c)) => c.alg.id,
        (None, None) => 0,
    };
    Sa {
        spi: a.spi,
        replay: a.sa.replay.unwrap_or(0),
        state: SaState::Larval,
        auth: a.algs.auth.as_ref().map_or(0, |x| x.alg.id),
        encrypt,
        flags: sa_flags(&a.proto, &a.sa, Some(&a.algs)),
    }
}

fn lower_add(
    a: &SaAdd,
    src: &str,
    t: MsgType,
    r: &dyn Resolver,
) -> Result<Vec<Request>, LowerError> {
    // Each key decoded once, cloned for a second address pair only.
    let key = |k: &Option<KeyedAlg>| -> Result<Option<Key>, LowerError> {
        match k {
            Some(KeyedAlg {
                key: Some(text), ..
            }) => text
                .decode(src)
                .map(Some)
                .ok_or_else(|| err(text.span, "the key is not in this script (internal error)")),
            _ => Ok(None),
        }
    };
    let natt = matches!(a.proto, SaProto::EspUdp { .. });
    let oa = match &a.proto {
        SaProto::EspUdp { oa: Some(h) } => Some(resolve(h, 0, None, r)?[0]),
        _ => None,
    };
    let pairs = pairs(&a.src, &a.dst, a.opts, r)?;
    let (mut enc_key, mut auth_key) = (key(&a.algs.enc)?, key(&a.algs.auth)?);
    let satype = a.proto.satype();
    let mut out = Vec::with_capacity(pairs.len());
    let last = pairs.len().saturating_sub(1);
    for (i, (s, d)) in pairs.into_iter().enumerate() {
        // The last address pair takes the keys; any before it get copies.
        let take = |k: &mut Option<Key>| if i == last { k.take() } else { k.clone() };
        let (enc, auth) = (take(&mut enc_key), take(&mut auth_key));
        // Two keys, SA, SA2 and two addresses, plus one to spare; lifetimes, a security
        // context or NAT-T grow it.
        let mut ext = Vec::with_capacity(7);
        if satype == SaType::Esp {
            ext.push(Extension::Key(
                ExtType::KeyEncrypt,
                enc.unwrap_or_else(Key::empty),
            ));
        }
        if a.algs.auth.is_some() {
            match auth {
                Some(k) => ext.push(Extension::Key(ExtType::KeyAuth, k)),
                None if satype == SaType::Ah => {
                    ext.push(Extension::Key(ExtType::KeyAuth, Key::empty()))
                }
                None => {}
            }
        }
        if a.sa.hard.is_set() || a.sa.soft.is_set() {
            ext.push(Extension::Lifetime(
                ExtType::LifetimeHard,
                lifetime(&a.sa.hard),
            ));
            ext.push(Extension::Lifetime(
                ExtType::LifetimeSoft,
                lifetime(&a.sa.soft),
            ));
        }
        if let Some(c) = &a.sa.sec_ctx {
            ext.push(sec_ctx_ext(c));
        }
        ext.push(Extension::Sa(sa_of(a)));
        ext.push(Extension::Sa2(sa2(&a.sa)));
        if natt {
            ext.push(Extension::NatTType(UDP_ENCAP_ESPINUDP));
            if let Some(oa) = oa {
                ext.push(Extension::Address(ExtType::NatTOa, sa_address(oa)));
            }
        }
        ext.push(Extension::Address(ExtType::AddressSrc, sa_address(s)));
        ext.push(Extension::Address(ExtType::AddressDst, sa_address(d)));
        if natt {
            ext.push(Extension::NatTPort(
                ExtType::NatTSport,
                a.src.port.unwrap_or(NAT_T_PORT),
            ));
            ext.push(Extension::NatTPort(
                ExtType::NatTDport,
                a.dst.port.unwrap_or(NAT_T_PORT),
            ));
        }
        out.push(Request::Send(MessageRepr {
            header: Header::new(t, satype, 0, 0),
            extensions: ext,
        }));
    }
    Ok(out)
}

/// Longest key [`encode_sa_direct`] writes; longer ones are lowered.
pub const DIRECT_KEY_MAX: usize = 64;

/// An `add` or `update` encoded straight into `buf`, with what errors call it: exactly the
/// bytes [`lower`] and [`MessageRepr::emit`] give
/// (`setkey::tests::direct_encoding_is_the_lowered_message`), laid out in one pass with the
/// keys decoded into their place: no request is built, nothing is allocated, no key is
/// copied anywhere else. For the statements most of a long script is made of: one numeric
/// IPv4 address pair, ESP or AH, keys of at most [`DIRECT_KEY_MAX`] bytes (hex of even
/// length, or quoted), no lifetimes, security context, IPComp or NAT-T. `None` for any
/// other statement, or if `buf` is too small (nothing is written then, or what was is
/// wiped).
pub fn encode_sa_direct(
    stmt: &Statement,
    src: &str,
    buf: &mut [u8],
) -> Option<(usize, pfkey::client::Operation)> {
    let (a, t) = match &stmt.command {
        Command::Add(a) => (a, MsgType::Add),
        Command::Update(a) => (a, MsgType::Update),
        _ => return None,
    };
    if !matches!(a.proto, SaProto::Esp | SaProto::Ah)
        || a.sa.hard.is_set()
        || a.sa.soft.is_set()
        || a.sa.sec_ctx.is_some()
        || a.algs.comp.is_some()
    {
        return None;
    }
    let (
        Host::Ip {
            addr: IpAddr::V4(s),
            scope: None,
        },
        Host::Ip {
            addr: IpAddr::V4(d),
            scope: None,
        },
    ) = (&a.src.host.host, &a.dst.host.host)
    else {
        return None;
    };
    let s = SocketAddrV4::new(*s, a.src.port.unwrap_or(0));
    let d = SocketAddrV4::new(*d, a.dst.port.unwrap_or(0));
    let n = match encode_sa_into(a, t, src, (s, d), buf) {
        Ok(n) => n,
        Err(reached) => {
            let end = reached.min(buf.len());
            buf[..end].zeroize();
            return None;
        }
    };
    let op = pfkey::client::Operation::new(t, a.proto.satype())
        .with_spi(a.spi)
        .with_addresses(sa_address(s.into()), sa_address(d.into()));
    Some((n, op))
}

/// The body of [`encode_sa_direct`], in the order `lower_add` gives the extensions: the
/// message's length, or how far into `buf` it may have written before giving up.
fn encode_sa_into(
    a: &SaAdd,
    t: MsgType,
    src: &str,
    (s, d): (SocketAddrV4, SocketAddrV4),
    buf: &mut [u8],
) -> Result<usize, usize> {
    let satype = a.proto.satype();
    // As lower_add: ESP always carries an encryption key (empty for none), AH an
    // authentication key (empty for none); ESP without -A carries none.
    let mut keys: [(ExtType, Option<&KeyText>); 2] = [(ExtType::KeyEncrypt, None); 2];
    let mut nkeys = 0;
    if satype == SaType::Esp {
        keys[nkeys] = (ExtType::KeyEncrypt, text(&a.algs.enc));
        nkeys += 1;
    }
    if a.algs.auth.is_some() {
        let k = text(&a.algs.auth);
        if k.is_some() || satype == SaType::Ah {
            keys[nkeys] = (ExtType::KeyAuth, k);
            nkeys += 1;
        }
    }
    let keys = &keys[..nkeys];
    // Each key's digits (or quoted bytes) and length.
    let mut texts: [(&[u8], KeyForm, usize); 2] = [(&[], KeyForm::Hex, 0); 2];
    for (slot, (_, k)) in texts.iter_mut().zip(keys) {
        if let Some(k) = k {
            *slot = key_text(k, src).ok_or(0usize)?;
        }
    }
    let key_ext = |n: usize| SadbKey::SIZE + n.div_ceil(8) * 8;
    const ADDRESS: usize = SadbAddress::SIZE + SockaddrIn::SIZE;
    let total = SadbMsg::SIZE
        + texts[..nkeys].iter().map(|t| key_ext(t.2)).sum::<usize>()
        + SadbSa::SIZE
        + SadbXSa2::SIZE
        + 2 * ADDRESS;
    let out = buf.get_mut(..total).ok_or(0usize)?;
    out.fill(0);
    let words = |n: usize| U16::new((n / 8) as u16);
    let ext = |t: ExtType| U16::new(t.value());
    // Each structure at `at`, which then moves on by `len` (a key's extension is padded).
    let mut at = 0;
    let mut put = |bytes: &[u8], len: usize| {
        out[at..at + bytes.len()].copy_from_slice(bytes);
        at += len;
        at - len
    };
    let header = SadbMsg {
        version: PF_KEY_V2,
        msg_type: t.value(),
        errno: 0,
        satype: satype.value(),
        len: words(total),
        reserved: U16::ZERO,
        seq: U32::ZERO,
        pid: U32::ZERO,
    };
    put(header.as_bytes(), SadbMsg::SIZE);
    let mut places = [0usize; 2];
    for (((ty, _), (_, _, n)), place) in keys.iter().zip(&texts).zip(&mut places) {
        let key = SadbKey {
            len: words(key_ext(*n)),
            ext_type: ext(*ty),
            bits: U16::new((n * 8) as u16),
            reserved: U16::ZERO,
        };
        *place = put(key.as_bytes(), key_ext(*n)) + SadbKey::SIZE;
    }
    let mut sa = sa_of(a).to_wire();
    (sa.len, sa.ext_type) = (words(SadbSa::SIZE), ext(ExtType::Sa));
    put(sa.as_bytes(), SadbSa::SIZE);
    let mut s2 = sa2(&a.sa).to_wire();
    (s2.len, s2.ext_type) = (words(SadbXSa2::SIZE), ext(ExtType::Sa2));
    put(s2.as_bytes(), SadbXSa2::SIZE);
    for (ty, addr) in [(ExtType::AddressSrc, s), (ExtType::AddressDst, d)] {
        let a = sa_address(addr.into());
        let head = SadbAddress {
            len: words(ADDRESS),
            ext_type: ext(ty),
            proto: a.proto,
            prefixlen: a.prefix_len,
            reserved: U16::ZERO,
        };
        put(head.as_bytes(), SadbAddress::SIZE);
        let sin = SockaddrIn {
            family: U16::new(AF_INET),
            port: BeU16::new(addr.port()),
            addr: addr.ip().octets(),
            zero: [0; 8],
        };
        put(sin.as_bytes(), SockaddrIn::SIZE);
    }
    // The keys last, decoded into their places.
    for ((digits, form, n), place) in texts[..nkeys].iter().zip(places) {
        let key = &mut out[place..place + n];
        match form {
            KeyForm::Hex => super::parser::decode_hex_into(digits, key).ok_or(total)?,
            KeyForm::Quoted => key.copy_from_slice(digits),
        }
    }
    Ok(total)
}

/// The key text of an algorithm, if it has one.
fn text(k: &Option<KeyedAlg>) -> Option<&KeyText> {
    k.as_ref().and_then(|k| k.key.as_ref())
}

/// A key's text as [`KeyText::decode`] reads it: the hex digits (even in number) or the
/// quoted bytes, and the key's length; `None` if it is longer than [`DIRECT_KEY_MAX`] or
/// odd hex.
fn key_text<'s>(k: &KeyText, src: &'s str) -> Option<(&'s [u8], KeyForm, usize)> {
    let text = src.get(k.span.start..k.span.end)?;
    let (bytes, n) = match k.form {
        KeyForm::Hex => {
            let hex = text
                .strip_prefix("0x")
                .or_else(|| text.strip_prefix("0X"))?
                .as_bytes();
            if hex.len() % 2 != 0 {
                return None;
            }
            (hex, hex.len() / 2)
        }
        KeyForm::Quoted => {
            let inner = text.strip_prefix('"')?.strip_suffix('"')?.as_bytes();
            (inner, inner.len())
        }
    };
    (n <= DIRECT_KEY_MAX).then_some((bytes, k.form, n))
}

fn lower_ref(a: &SaRef, t: MsgType, r: &dyn Resolver) -> Result<Vec<Request>, LowerError> {
    let pairs = pairs(&a.src, &a.dst, a.opts, r)?;
    Ok(pairs
        .into_iter()
        .map(|(s, d)| {
            Request::Send(MessageRepr {
                header: Header::new(t, a.proto.satype(), 0, 0),
                extensions: vec![
                    Extension::Sa(Sa {
                        spi: a.spi,
                        replay: a.sa.replay.unwrap_or(0),
                        state: SaState::Larval,
                        auth: 0,
                        encrypt: 0,
                        flags: sa_flags(&a.proto, &a.sa, None),
                    }),
                    Extension::Sa2(sa2(&a.sa)),
                    Extension::Address(ExtType::AddressSrc, sa_address(s)),
                    Extension::Address(ExtType::AddressDst, sa_address(d)),
                ],
            })
        })
        .collect())
}

/// One selector address: exactly one address, the prefix, the port.
fn selector(
    sel: &Selector,
    port: u16,
    family: Option<Family>,
    r: &dyn Resolver,
) -> Result<SocketAddr, LowerError> {
    let addrs = resolve(&sel.host, port, family, r)?;
    if addrs.len() > 1 {
        return Err(err(
            sel.host.span,
            format!(
                "'{}' resolves to {} addresses; a policy selector needs exactly one (give the \
                 address, or -4/-6)",
                match &sel.host.host {
                    Host::Name(n) => n.as_str(),
                    Host::Ip { .. } => "this host",
                },
                addrs.len()
            ),
        ));
    }
    let a = addrs[0];
    if let Some(p) = sel.prefix {
        if p > full_prefix(&a) {
            return Err(err(
                sel.host.span,
                format!(
                    "prefix /{p} is too long for the IPv4 address {} (at most /32)",
                    a.ip()
                ),
            ));
        }
    }
    Ok(a)
}

/// The rules of a policy as `sadb_x_ipsecrequest`s.
fn requests(rules: &[Rule]) -> Vec<IpsecRequest> {
    rules
        .iter()
        .map(|r| IpsecRequest {
            proto: r.proto.ip_proto().unwrap_or(0),
            mode: r.mode,
            level: r.level,
            reqid: r.reqid,
            tunnel: r.endpoints,
        })
        .collect()
}

/// The `fwd` copy of an `in` policy (setkey's RFC mode).
pub fn fwd_copy(p: &Policy) -> Policy {
    let mut f = p.clone();
    f.dir = Direction::Fwd;
    for r in &mut f.requests {
        if r.level == Level::Unique {
            r.level = Level::Require;
            r.reqid = 0;
        }
    }
    f
}

fn lower_spd(
    e: &SpdEntry,
    t: MsgType,
    opts: &LowerOptions,
    r: &dyn Resolver,
) -> Result<Vec<Request>, LowerError> {
    let (sport, dport) = match e.upper.misc {
        Some(UpperMisc::TypeCode { typ, code }) => (typ, code.unwrap_or(0)),
        Some(UpperMisc::GreKey(k)) => ((k >> 16) as u16, (k & 0xffff) as u16),
        None => (e.src.port.unwrap_or(0), e.dst.port.unwrap_or(0)),
    };
    let s = selector(&e.src, sport, e.opts.family, r)?;
    let d = selector(&e.dst, dport, e.opts.family, r)?;
    if s.is_ipv4() != d.is_ipv4() {
        return Err(err(
            e.src.host.span.to(e.dst.host.span),
            format!(
                "mixed address families: the source {} and the destination {} must be of one \
                 family",
                s.ip(),
                d.ip()
            ),
        ));
    }
    let p = &e.policy;
    let policy = Policy {
        policy_type: p.action.unwrap_or(PolicyType::Discard),
        dir: p.dir,
        reserved: 0,
        id: 0,
        priority: match (p.action, p.priority) {
            (None, _) => 0,
            (Some(_), Some(pr)) => pr.value,
            (Some(_), None) => PRIORITY_DEFAULT,
        },
        requests: requests(&p.rules),
    };
    let addr = |a: SocketAddr, prefix: Option<u8>| Address {
        proto: e.upper.proto,
        prefix_len: prefix.unwrap_or_else(|| full_prefix(&a)),
        addr: a,
    };
    let build = |pol: Policy| {
        let mut ext = vec![
            Extension::Policy(pol),
            Extension::Address(ExtType::AddressSrc, addr(s, e.src.prefix)),
            Extension::Address(ExtType::AddressDst, addr(d, e.dst.prefix)),
        ];
        if let Some(c) = &e.sec_ctx {
            ext.push(sec_ctx_ext(c));
        }
        Request::Send(MessageRepr {
            header: Header::new(t, SaType::Unspec, 0, 0),
            extensions: ext,
        })
    };
    let mut out = Vec::new();
    let copy = (opts.fwd_copy && p.dir == Direction::In).then(|| fwd_copy(&policy));
    out.push(build(policy));
    if let Some(f) = copy {
        out.push(build(f));
    }
    Ok(out)
}
