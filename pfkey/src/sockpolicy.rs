//! Per-socket IPsec policy: "put IPsec to work in your application" — the Linux
//! counterpart of Solaris' `setsockopt(IP_SEC_OPT, ipsec_req_t)`.
//!
//! A per-socket policy tells the kernel how to treat the traffic of one socket, in
//! one direction, regardless of the global security policy database (SPD): require
//! ESP and/or AH ([`SocketPolicy::Ipsec`]), pass in clear ([`SocketPolicy::Bypass`]),
//! or drop ([`SocketPolicy::Discard`]).
//!
//! ```no_run
//! use std::net::{SocketAddr, TcpStream};
//! use socket2::{Domain, Socket, Type};
//! use pfkey::sockpolicy::{self, Encoding, SocketPolicy};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // std's TcpStream::connect connects at once, so make the socket first ...
//! let sock = Socket::new(Domain::IPV4, Type::STREAM, None)?;
//! // ... require ESP (transport mode) both ways, with what this kernel supports ...
//! sockpolicy::apply_both(&sock, &SocketPolicy::esp(), Encoding::detect())?;
//! // ... and only then connect.
//! let peer: SocketAddr = "192.0.2.2:7000".parse()?;
//! sock.connect(&peer.into())?;
//! let stream: TcpStream = sock.into();
//! # drop(stream);
//! # Ok(()) }
//! ```
//!
//! `pfkey/examples/` has a complete TCP server and client (`tcp_server.rs`,
//! `tcp_client.rs`) and a key manager answering the kernel's ACQUIREs (`keymgr.rs`).
//!
//! # Setting it at the right time: connection latching
//!
//! Set the policy **before** the connection exists: before `connect()` on a client
//! socket, and on the listening socket before `listen()`/`accept()` on a server.
//!
//! - A TCP connection's first packets (SYN, SYN-ACK) are sent and checked while the
//!   socket is being connected; a policy set afterwards cannot protect them, and the
//!   peer has by then seen the connection in clear.
//! - An accepted socket is a clone of the listening socket and inherits its
//!   per-socket policies (Linux `sk_clone_lock` → `xfrm_sk_clone_policy`), so the
//!   listener's policy covers every connection it accepts, from the SYN on.
//! - Linux itself does not freeze ("latch") a connection's protection the way Solaris
//!   does: setting or clearing a policy later resets the socket's cached route
//!   (`xfrm_user_policy` → `__sk_dst_reset`) and applies to the packets that follow.
//!   Do not rely on that to upgrade a connection: whatever was sent before went in
//!   clear.
//! - UDP sockets are checked per packet; set the policy before the first send.
//! - With no SA yet, Linux fails a TCP `connect()` through a per-socket policy at
//!   once with `EAGAIN` (a UDP `send` likewise), after sending the ACQUIRE to the
//!   key managers; global policies instead route the packets into a blackhole while
//!   `net.core.xfrm_larval_drop` is set, so that TCP retransmits into the SA once it
//!   exists. Applications retry once the key manager has answered (the example
//!   client's `--retries`). Observed on Linux 6.1 in the kernel lab.
//!
//! # Privileges
//!
//! Linux checks `CAP_NET_ADMIN` in the user namespace that owns the socket's network
//! namespace for **every** call, whatever the policy: IPsec, bypass, discard, and
//! clearing (`ip_setsockopt` / `ipv6_setsockopt` → `sockopt_ns_capable(…,
//! CAP_NET_ADMIN)` before `xfrm_user_policy`). An unprivileged process gets `EPERM`
//! ([`ApplyError::Kernel`]); this is stricter than Solaris, where any user may
//! require IPsec and only bypass is privileged. Verified in the kernel lab on Linux
//! 6.1 as uid 65534 for both encodings (`tests/kernel/tests/sockpolicy.rs`).
//!
//! A process in a user namespace of its own (e.g. `unshare -Urn`) holds
//! `CAP_NET_ADMIN` there and may set policies on sockets of the network namespaces
//! that namespace owns (verified in the lab). The check is made against the calling
//! process, not the socket's creator (from the kernel source; not exercised in the
//! lab): a privileged helper can set the policy and hand the socket over (e.g. through
//! a Unix socket) to an unprivileged program, which keeps the policy but cannot change
//! it.
//!
//! # Relation to the global SPD
//!
//! - For a socket with a policy in a direction, the kernel uses that policy and
//!   **does not consult the global SPD** for that direction (`xfrm_lookup` and
//!   `__xfrm_policy_check` try the socket's policy first). A bypass socket policy
//!   therefore lets a socket talk in clear under a global `require` policy: IKE
//!   daemons put bypass policies on their own sockets for exactly this reason.
//! - The policy's selector matches everything the socket sends or receives in that
//!   direction; its templates pick SAs like global ones (by protocol, mode, addresses
//!   of the packet, and reqid for `unique`). With no matching SA, a registered key
//!   manager gets an `ACQUIRE` ([`crate::client::Event::Acquire`]) whose policy id is
//!   the socket policy's, and sends fail with `EAGAIN` until the SA exists (see
//!   above).
//! - Socket policies appear in `SADB_X_SPDDUMP` with directions socket-in/out (4/5;
//!   `id & 7` = 3/4) and are reported with type NONE when set as BYPASS
//!   (tests/lab/FINDINGS.md). `SADB_X_SPDFLUSH` and `ip xfrm policy flush` do not
//!   remove them, and they cannot be read or deleted by id; they go away when the
//!   socket is closed or [`clear`]ed.
//!
//! # Encodings
//!
//! Linux accepts a policy per socket and per direction through two options:
//!
//! | option (level) | value | served by |
//! |---|---|---|
//! | `IP_IPSEC_POLICY` 16 (`IPPROTO_IP`), `IPV6_IPSEC_POLICY` 34 (`IPPROTO_IPV6`) | a PF_KEY `sadb_x_policy` with requests ([`Encoding::PfKey`]) | `af_key` (only while it is loaded) |
//! | `IP_XFRM_POLICY` 17, `IPV6_XFRM_POLICY` 35 | `xfrm_userpolicy_info` + `xfrm_user_tmpl`s ([`Encoding::Xfrm`]) | `xfrm_user`; can restrict algorithms |
//!
//! [`Encoding::detect`] picks xfrm whenever `xfrm_user` is available, PF_KEY only
//! as a fallback: an IPsec policy set through `IP_IPSEC_POLICY` is accepted, sends
//! ACQUIREs, and checks inbound packets, but no packet can be sent through its SAs
//! (`EINVAL`, see [`Encoding::PfKey`]). Bypass and discard work with both. Only the
//! xfrm encoding can restrict algorithms
//! ([`AlgorithmMask`]): Linux offers only the allowed combinations in the ACQUIRE's
//! proposal, and on input accepts only SAs whose authentication algorithm is allowed
//! (`xfrm_state_ok`); it does not check the algorithms of outbound SAs, which the key
//! manager chooses.
//!
//! The `to_*`/[`SocketPolicy::sockopt`] functions build the option values without a
//! system call; [`apply`], [`apply_both`] and [`clear`] set them on a socket through
//! [`crate::sys::setsockopt_bytes`].
#![forbid(unsafe_code)]

use core::fmt;
use core::net::{IpAddr, SocketAddr};
use std::io;
use std::os::fd::{AsFd, AsRawFd};

use nix::sys::socket::{AddressFamily, SockaddrLike, SockaddrStorage};
use zerocopy::IntoBytes;

use crate::error::BuildError;
use crate::policy::{IpsecRequest, Policy};
use crate::wire::{Direction, Level, Mode, PolicyType, SaType, AF_INET, AF_INET6, U16, U32, U64};
use crate::xfrm::*;

/// `IP_IPSEC_POLICY` (`linux/in.h`), level `IPPROTO_IP`.
pub const IP_IPSEC_POLICY: i32 = 16;
/// `IP_XFRM_POLICY` (`linux/in.h`), level `IPPROTO_IP`.
pub const IP_XFRM_POLICY: i32 = 17;
/// `IPV6_IPSEC_POLICY` (`linux/in6.h`), level `IPPROTO_IPV6`.
pub const IPV6_IPSEC_POLICY: i32 = 34;
/// `IPV6_XFRM_POLICY` (`linux/in6.h`), level `IPPROTO_IPV6`.
pub const IPV6_XFRM_POLICY: i32 = 35;

/// Which traffic of the socket a policy covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketDirection {
    /// Packets the socket receives.
    In,
    /// Packets the socket sends.
    Out,
}

/// The address family of the socket (decides the option level and names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `AF_INET`.
    V4,
    /// `AF_INET6`.
    V6,
}

impl Family {
    /// The address family of a socket, from `getsockname(2)` (which reports the
    /// family of unbound and unconnected sockets too).
    pub fn of(socket: &impl AsFd) -> Result<Family, ApplyError> {
        let addr: SockaddrStorage = nix::sys::socket::getsockname(socket.as_fd().as_raw_fd())
            .map_err(|e| ApplyError::Family {
                source: io::Error::from(e),
            })?;
        match addr.family() {
            Some(AddressFamily::Inet) => Ok(Family::V4),
            Some(AddressFamily::Inet6) => Ok(Family::V6),
            other => Err(ApplyError::NotInet {
                family: other.map_or(0, |f| f as i32),
            }),
        }
    }

    /// The family of an address.
    pub fn of_addr(ip: IpAddr) -> Family {
        if ip.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }
}

/// How the policy is handed to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `IP_IPSEC_POLICY` with a PF_KEY blob; needs `af_key` loaded. Fine for
    /// [`SocketPolicy::Bypass`] and [`SocketPolicy::Discard`] (the IKE daemons' use);
    /// **IPsec policies set this way fail every send with `EINVAL` once their SAs
    /// exist** (see [`Encoding::detect`]).
    PfKey,
    /// `IP_XFRM_POLICY` with xfrm structures; works without `af_key` (needs
    /// `xfrm_user`, which opening an XFRM netlink socket, e.g. `ip xfrm state`,
    /// loads) and can restrict algorithms.
    Xfrm,
}

/// Where Linux lists PF_KEY sockets; it exists (in every network namespace) exactly
/// while af_key is loaded (af_key `pfkey_init_proc`).
pub const PFKEY_PROC: &str = "/proc/net/pfkey";

impl Encoding {
    /// What works on the running kernel: [`Encoding::Xfrm`] when XFRM netlink
    /// (`xfrm_user`) is there ([`crate::sys::xfrm_netlink_available`], which also
    /// loads the module on demand, as `ip xfrm` does); else [`Encoding::PfKey`] while
    /// af_key is loaded ([`PFKEY_PROC`] exists); else `Xfrm`, whose error then says
    /// what is missing.
    ///
    /// Xfrm is preferred even while af_key is loaded because IPsec policies set
    /// through `IP_IPSEC_POLICY` cannot carry traffic on Linux: af_key's
    /// `pfkey_compile_policy` leaves the policy's selector family at 0, and
    /// `xfrm_bundle_create` takes the family from it, so once the SAs exist every
    /// send fails with `EINVAL` (`XfrmOutBundleGenError`; observed on Linux 6.1 in the
    /// kernel lab). Bypass and discard, which need no SA, work with both encodings,
    /// as does the ACQUIRE for a missing SA.
    pub fn detect() -> Encoding {
        if crate::sys::xfrm_netlink_available() {
            Encoding::Xfrm
        } else if std::path::Path::new(PFKEY_PROC).exists() {
            Encoding::PfKey
        } else {
            Encoding::Xfrm
        }
    }

    /// The option name for a family: `IP_IPSEC_POLICY`, `IPV6_XFRM_POLICY`, …
    pub const fn option_name(self, family: Family) -> &'static str {
        match (family, self) {
            (Family::V4, Encoding::PfKey) => "IP_IPSEC_POLICY",
            (Family::V4, Encoding::Xfrm) => "IP_XFRM_POLICY",
            (Family::V6, Encoding::PfKey) => "IPV6_IPSEC_POLICY",
            (Family::V6, Encoding::Xfrm) => "IPV6_XFRM_POLICY",
        }
    }
}

impl Default for Encoding {
    /// [`Encoding::detect`]: decided by the running kernel.
    fn default() -> Self {
        Encoding::detect()
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::PfKey => "pfkey",
            Encoding::Xfrm => "xfrm",
        })
    }
}

impl fmt::Display for SocketDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SocketDirection::In => "in",
            SocketDirection::Out => "out",
        })
    }
}

/// One IPsec transform the socket's traffic must go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    /// ESP, AH or IPComp.
    pub protocol: SaType,
    /// Transport, or tunnel between two gateways `(outer source, outer destination)`.
    pub tunnel: Option<(IpAddr, IpAddr)>,
    /// `require` (default), `use` (optional), `unique` (bound to `reqid`).
    pub level: Level,
    /// Request id for [`Level::Unique`]; 0 lets the kernel choose.
    pub reqid: u32,
    /// Allowed algorithms (only expressible with [`Encoding::Xfrm`]).
    pub algorithms: AlgorithmMask,
}

impl Template {
    /// A transport-mode template at level `require`, any algorithm.
    pub const fn transport(protocol: SaType) -> Self {
        Template {
            protocol,
            tunnel: None,
            level: Level::Require,
            reqid: 0,
            algorithms: AlgorithmMask::ANY,
        }
    }

    /// A tunnel-mode template between two gateways (outer source, outer
    /// destination), level `require`, any algorithm. Both addresses must be of the
    /// socket's family.
    pub const fn tunnel(protocol: SaType, src: IpAddr, dst: IpAddr) -> Self {
        Template {
            tunnel: Some((src, dst)),
            ..Template::transport(protocol)
        }
    }

    /// The same template at another level ([`Level::Use`]: optional, protect when an
    /// SA exists; [`Level::Unique`]: an SA of its own, see [`Template::unique`]).
    pub const fn with_level(self, level: Level) -> Self {
        Template { level, ..self }
    }

    /// The same template at level `unique` with request id `reqid`, so that only SAs
    /// added with that reqid are used (0: af_key allocates one; the xfrm encoding
    /// then matches any SA).
    pub const fn unique(self, reqid: u32) -> Self {
        Template {
            level: Level::Unique,
            reqid,
            ..self
        }
    }

    /// The same template restricted to some algorithms (xfrm encoding only).
    pub const fn with_algorithms(self, algorithms: AlgorithmMask) -> Self {
        Template { algorithms, ..self }
    }
}

/// Bitmasks of allowed algorithm ids (`xfrm_user_tmpl.aalgos/ealgos/calgos`): bit n
/// allows the algorithm whose PF_KEY id is n (ids ≥ 32 cannot be named here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgorithmMask {
    /// Authentication algorithms.
    pub auth: u32,
    /// Encryption algorithms.
    pub encrypt: u32,
    /// Compression algorithms.
    pub compress: u32,
}

impl AlgorithmMask {
    /// Every algorithm.
    pub const ANY: AlgorithmMask = AlgorithmMask {
        auth: u32::MAX,
        encrypt: u32::MAX,
        compress: u32::MAX,
    };

    /// Whether this allows everything (the only value PF_KEY can express).
    pub fn is_any(&self) -> bool {
        *self == Self::ANY
    }

    /// Allows only the listed authentication and encryption algorithms (PF_KEY ids,
    /// [`crate::alg`]); an empty list allows every algorithm of that kind. Fails on an
    /// id of 32 or more, which the masks cannot name (e.g. the NULL authentication
    /// algorithm 251).
    ///
    /// ```
    /// use pfkey::alg::{SADB_AALG_MD5HMAC, SADB_X_EALG_AESCBC};
    /// use pfkey::sockpolicy::AlgorithmMask;
    /// let m = AlgorithmMask::allow(&[SADB_AALG_MD5HMAC], &[SADB_X_EALG_AESCBC]).unwrap();
    /// assert_eq!((m.auth, m.encrypt), (1 << 2, 1 << 12));
    /// ```
    pub fn allow(auth: &[u8], encrypt: &[u8]) -> Result<AlgorithmMask, SocketPolicyError> {
        let bits = |ids: &[u8]| -> Result<u32, SocketPolicyError> {
            if ids.is_empty() {
                return Ok(u32::MAX);
            }
            ids.iter().try_fold(0u32, |m, &id| {
                1u32.checked_shl(u32::from(id))
                    .filter(|_| id < 32)
                    .map(|b| m | b)
                    .ok_or(SocketPolicyError::AlgorithmId(id))
            })
        };
        Ok(AlgorithmMask {
            auth: bits(auth)?,
            encrypt: bits(encrypt)?,
            compress: u32::MAX,
        })
    }
}

/// What happens to a socket's traffic in one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketPolicy {
    /// Pass in clear, even where the global SPD requires IPsec (needs
    /// `CAP_NET_ADMIN`; IKE daemons put this on their own sockets).
    Bypass,
    /// Drop everything.
    Discard,
    /// Apply these transforms, innermost first (ESP then AH gives IP|AH|ESP).
    Ipsec(Vec<Template>),
}

impl SocketPolicy {
    /// ESP in transport mode, level `require`, any algorithm: the usual choice.
    pub fn esp() -> SocketPolicy {
        SocketPolicy::Ipsec(vec![Template::transport(SaType::Esp)])
    }

    /// AH in transport mode, level `require`.
    pub fn ah() -> SocketPolicy {
        SocketPolicy::Ipsec(vec![Template::transport(SaType::Ah)])
    }

    /// ESP inside AH (IP|AH|ESP), both transport mode, level `require`.
    pub fn esp_and_ah() -> SocketPolicy {
        SocketPolicy::Ipsec(vec![
            Template::transport(SaType::Esp),
            Template::transport(SaType::Ah),
        ])
    }
}

/// A policy that cannot be encoded as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SocketPolicyError {
    /// A tunnel template whose endpoints' family differs from the socket's.
    #[error("tunnel endpoints {0} and {1} are not both of the socket's address family")]
    TunnelFamily(IpAddr, IpAddr),
    /// A protocol other than ESP, AH or IPComp.
    #[error("{0} cannot be used in an IPsec template (ESP, AH or IPComp only)")]
    Protocol(SaType),
    /// Algorithm restrictions with the PF_KEY encoding.
    #[error("IP_IPSEC_POLICY (PF_KEY) cannot restrict algorithms; use the xfrm encoding")]
    AlgorithmsNeedXfrm,
    /// More templates than Linux allows (`XFRM_MAX_DEPTH` = 6).
    #[error("{0} templates: Linux allows at most 6 per policy")]
    TooManyTemplates(usize),
    /// An IPsec policy without templates (Linux would let the traffic pass in clear).
    #[error("an IPsec policy needs at least one template (with none, Linux lets the traffic pass in clear; say Bypass if that is meant)")]
    NoTemplates,
    /// An algorithm id the xfrm masks cannot name (32 or more).
    #[error("algorithm id {0} cannot be named in a per-socket algorithm mask (ids 0-31 only)")]
    AlgorithmId(u8),
    /// Encoding failed.
    #[error(transparent)]
    Build(#[from] BuildError),
}

impl SocketPolicy {
    fn check(&self, family: Family, encoding: Encoding) -> Result<(), SocketPolicyError> {
        let SocketPolicy::Ipsec(ts) = self else {
            return Ok(());
        };
        if ts.len() > 6 {
            return Err(SocketPolicyError::TooManyTemplates(ts.len()));
        }
        if ts.is_empty() {
            return Err(SocketPolicyError::NoTemplates);
        }
        for t in ts {
            if t.protocol.ip_proto().is_none() {
                return Err(SocketPolicyError::Protocol(t.protocol));
            }
            if let Some((s, d)) = t.tunnel {
                let v4 = family == Family::V4;
                if s.is_ipv4() != v4 || d.is_ipv4() != v4 {
                    return Err(SocketPolicyError::TunnelFamily(s, d));
                }
            }
            if encoding == Encoding::PfKey && !t.algorithms.is_any() {
                return Err(SocketPolicyError::AlgorithmsNeedXfrm);
            }
        }
        Ok(())
    }

    /// The `sadb_x_policy` blob for `IP_IPSEC_POLICY` (af_key
    /// `pfkey_compile_policy`: dir 1 = in, 2 = out; no `sadb_msg`, no addresses).
    pub fn to_pfkey(
        &self,
        family: Family,
        dir: SocketDirection,
    ) -> Result<Vec<u8>, SocketPolicyError> {
        self.check(family, Encoding::PfKey)?;
        let (policy_type, requests) = match self {
            SocketPolicy::Bypass => (PolicyType::Bypass, Vec::new()),
            SocketPolicy::Discard => (PolicyType::Discard, Vec::new()),
            SocketPolicy::Ipsec(ts) => (
                PolicyType::Ipsec,
                ts.iter()
                    .map(|t| IpsecRequest {
                        proto: t.protocol.ip_proto().unwrap_or(0),
                        mode: if t.tunnel.is_some() {
                            Mode::Tunnel
                        } else {
                            Mode::Transport
                        },
                        level: t.level,
                        reqid: t.reqid,
                        tunnel: t
                            .tunnel
                            .map(|(s, d)| (SocketAddr::new(s, 0), SocketAddr::new(d, 0))),
                    })
                    .collect(),
            ),
        };
        let p = Policy {
            policy_type,
            dir: match dir {
                SocketDirection::In => Direction::In,
                SocketDirection::Out => Direction::Out,
            },
            reserved: 0,
            id: 0,
            priority: 0,
            requests,
        };
        Ok(p.to_bytes()?)
    }

    /// The `xfrm_userpolicy_info` + `xfrm_user_tmpl` blob for `IP_XFRM_POLICY`
    /// (xfrm_user.c `xfrm_compile_policy`: dir 0 = in, 1 = out; the selector's
    /// family must be set; lifetimes unlimited).
    pub fn to_xfrm(
        &self,
        family: Family,
        dir: SocketDirection,
    ) -> Result<Vec<u8>, SocketPolicyError> {
        self.check(family, Encoding::Xfrm)?;
        let af = match family {
            Family::V4 => AF_INET,
            Family::V6 => AF_INET6,
        };
        let inf = U64::new(XFRM_INF);
        let info = XfrmUserpolicyInfo {
            sel: XfrmSelector {
                family: U16::new(af),
                ..XfrmSelector::default()
            },
            lft: XfrmLifetimeCfg {
                soft_byte_limit: inf,
                hard_byte_limit: inf,
                soft_packet_limit: inf,
                hard_packet_limit: inf,
                ..XfrmLifetimeCfg::default()
            },
            dir: match dir {
                SocketDirection::In => XFRM_POLICY_IN,
                SocketDirection::Out => XFRM_POLICY_OUT,
            },
            action: if *self == SocketPolicy::Discard {
                XFRM_POLICY_BLOCK
            } else {
                XFRM_POLICY_ALLOW
            },
            share: XFRM_SHARE_ANY,
            ..XfrmUserpolicyInfo::default()
        };
        let mut out = info.as_bytes().to_vec();
        if let SocketPolicy::Ipsec(ts) = self {
            for t in ts {
                let addr = |ip: Option<IpAddr>| -> [u8; 16] {
                    let mut b = [0u8; 16];
                    match ip {
                        Some(IpAddr::V4(a)) => b[..4].copy_from_slice(&a.octets()),
                        Some(IpAddr::V6(a)) => b = a.octets(),
                        None => {}
                    }
                    b
                };
                let tmpl = XfrmUserTmpl {
                    daddr: addr(t.tunnel.map(|(_, d)| d)),
                    proto: t.protocol.ip_proto().unwrap_or(0) as u8,
                    family: U16::new(af),
                    saddr: addr(t.tunnel.map(|(s, _)| s)),
                    reqid: U32::new(t.reqid),
                    mode: if t.tunnel.is_some() {
                        XFRM_MODE_TUNNEL
                    } else {
                        XFRM_MODE_TRANSPORT
                    },
                    share: if t.level == Level::Unique {
                        XFRM_SHARE_UNIQUE
                    } else {
                        XFRM_SHARE_ANY
                    },
                    optional: u8::from(t.level == Level::Use),
                    aalgos: U32::new(t.algorithms.auth),
                    ealgos: U32::new(t.algorithms.encrypt),
                    calgos: U32::new(t.algorithms.compress),
                    ..XfrmUserTmpl::default()
                };
                out.extend_from_slice(tmpl.as_bytes());
            }
        }
        Ok(out)
    }

    /// The option level, name and value for `setsockopt`.
    pub fn sockopt(
        &self,
        family: Family,
        dir: SocketDirection,
        encoding: Encoding,
    ) -> Result<(i32, i32, Vec<u8>), SocketPolicyError> {
        let (level, name) = option(family, encoding);
        let value = match encoding {
            Encoding::PfKey => self.to_pfkey(family, dir)?,
            Encoding::Xfrm => self.to_xfrm(family, dir)?,
        };
        Ok((level, name, value))
    }
}

/// `(level, optname)` for a family and encoding.
pub const fn option(family: Family, encoding: Encoding) -> (i32, i32) {
    const IPPROTO_IP: i32 = 0;
    const IPPROTO_IPV6: i32 = 41;
    match (family, encoding) {
        (Family::V4, Encoding::PfKey) => (IPPROTO_IP, IP_IPSEC_POLICY),
        (Family::V4, Encoding::Xfrm) => (IPPROTO_IP, IP_XFRM_POLICY),
        (Family::V6, Encoding::PfKey) => (IPPROTO_IPV6, IPV6_IPSEC_POLICY),
        (Family::V6, Encoding::Xfrm) => (IPPROTO_IPV6, IPV6_XFRM_POLICY),
    }
}

/// Sets `policy` for one direction of `socket` (any IPv4 or IPv6 socket: `TcpStream`,
/// `TcpListener`, `UdpSocket`, `socket2::Socket`, …), with `encoding`
/// ([`Encoding::detect`] for what the running kernel supports). The family comes from
/// the socket. Replaces an earlier policy of that direction.
///
/// Set it before `connect()`/`listen()` (see the module documentation); the call
/// needs `CAP_NET_ADMIN`.
pub fn apply(
    socket: &impl AsFd,
    dir: SocketDirection,
    policy: &SocketPolicy,
    encoding: Encoding,
) -> Result<(), ApplyError> {
    let family = Family::of(socket)?;
    let (level, name, value) = policy.sockopt(family, dir, encoding)?;
    crate::sys::setsockopt_bytes(socket.as_fd(), level, name, Some(&value)).map_err(|source| {
        ApplyError::Kernel {
            option: encoding.option_name(family),
            dir: Some(dir),
            encoding: Some(encoding),
            af_key_loaded: std::path::Path::new(PFKEY_PROC).exists(),
            source,
        }
    })
}

/// Sets `policy` for both directions of `socket` (inbound first). If the second call
/// fails, the inbound policy stays set; [`clear`] removes it.
pub fn apply_both(
    socket: &impl AsFd,
    policy: &SocketPolicy,
    encoding: Encoding,
) -> Result<(), ApplyError> {
    apply(socket, SocketDirection::In, policy, encoding)?;
    apply(socket, SocketDirection::Out, policy, encoding)
}

/// Removes the socket's policies in **both** directions, so that the global SPD
/// applies again: `setsockopt(…, NULL, 0)`, which Linux handles before looking at the
/// option's encoding (`xfrm_user_policy`), so it works whichever module set them and
/// even with neither loaded. Needs `CAP_NET_ADMIN` like setting.
pub fn clear(socket: &impl AsFd) -> Result<(), ApplyError> {
    let family = Family::of(socket)?;
    let (level, name) = option(family, Encoding::Xfrm);
    crate::sys::setsockopt_bytes(socket.as_fd(), level, name, None).map_err(|source| {
        ApplyError::Kernel {
            option: Encoding::Xfrm.option_name(family),
            dir: None,
            encoding: None,
            af_key_loaded: false,
            source,
        }
    })
}

/// Why a policy could not be set on a socket.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The policy cannot be encoded (checked before any system call).
    #[error(transparent)]
    Policy(#[from] SocketPolicyError),
    /// An [`IpsecReq`] that Linux cannot express.
    #[error(transparent)]
    Request(#[from] IpsecReqError),
    /// `getsockname` failed: not a socket, or a closed one.
    #[error("cannot tell the socket's address family: {}", os_words(source))]
    Family {
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The socket is not IPv4 or IPv6.
    #[error("per-socket IPsec policies exist only for IPv4 and IPv6 sockets (this socket's address family is {family})")]
    NotInet {
        /// The socket's `sa_family`.
        family: i32,
    },
    /// The kernel refused the `setsockopt`.
    #[error("setsockopt {option}{}: {}", dir.map(|d| format!(" ({d})")).unwrap_or_default(), kernel_words(source, *encoding, *af_key_loaded))]
    Kernel {
        /// `IP_IPSEC_POLICY`, `IPV6_XFRM_POLICY`, …
        option: &'static str,
        /// The direction set; `None` for [`clear`].
        dir: Option<SocketDirection>,
        /// The encoding used; `None` for [`clear`].
        encoding: Option<Encoding>,
        /// Whether af_key was loaded when the kernel refused (it changes what
        /// `EOPNOTSUPP` means for the PF_KEY encoding).
        af_key_loaded: bool,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl ApplyError {
    /// The OS error number, for [`ApplyError::Kernel`] and [`ApplyError::Family`].
    pub fn errno(&self) -> Option<i32> {
        match self {
            ApplyError::Kernel { source, .. } | ApplyError::Family { source } => {
                source.raw_os_error()
            }
            _ => None,
        }
    }

    /// Whether the kernel refused for lack of privilege (`EPERM`).
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, ApplyError::Kernel { .. }) && self.errno() == Some(libc::EPERM)
    }
}

fn errno_name(n: i32) -> String {
    match nix::errno::Errno::from_raw(n) {
        nix::errno::Errno::UnknownErrno => format!("errno {n}"),
        e => format!("{e:?}"),
    }
}

fn os_words(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!(
            "{} ({})",
            nix::errno::Errno::from_raw(n).desc().to_lowercase(),
            errno_name(n)
        ),
        None => e.to_string(),
    }
}

/// The kernel's answer in words (ip_setsockopt / ipv6_setsockopt, `xfrm_user_policy`,
/// af_key `pfkey_compile_policy`, xfrm_user `xfrm_compile_policy`).
///
/// `xfrm_user_policy` asks every registered key manager module in turn and reports
/// the **last** one's error, so while both af_key and xfrm_user are loaded (af_key
/// first), a PF_KEY blob that af_key refuses comes back as xfrm_user's `EOPNOTSUPP`
/// ("not my option") instead of af_key's `EINVAL` (observed on Linux 6.1).
fn kernel_words(e: &io::Error, encoding: Option<Encoding>, af_key_loaded: bool) -> String {
    let Some(n) = e.raw_os_error() else {
        return e.to_string();
    };
    let words = match n {
        libc::EPERM => "not permitted: per-socket IPsec policies need CAP_NET_ADMIN in the socket's network namespace, for every policy (IPsec, bypass, discard) and for clearing".to_string(),
        libc::EOPNOTSUPP => match encoding {
            Some(Encoding::PfKey) if af_key_loaded => "af_key refused the policy (the kernel reports the EOPNOTSUPP of xfrm_user, the last module asked, instead of af_key's EINVAL): check the templates; optional ('use') tunnel templates are refused in the outbound direction since May 2023 (Linux commit cf3128a7aca5)".to_string(),
            Some(Encoding::PfKey) => "no kernel module accepted the PF_KEY encoding: af_key is not loaded (modprobe af_key), or use the xfrm encoding".to_string(),
            Some(Encoding::Xfrm) => "no kernel module accepted the xfrm encoding: xfrm_user is not loaded (modprobe xfrm_user; running `ip xfrm state` also loads it), or use the PF_KEY encoding while af_key is loaded".to_string(),
            None => os_words(e),
        },
        libc::EINVAL => "the kernel refused the policy as invalid (no IPsec key manager module loaded, a template the kernel does not accept, or an optional ('use') tunnel template in the outbound direction, refused since May 2023: Linux commits 3d776e31c841 for xfrm and cf3128a7aca5 for af_key)".to_string(),
        libc::ENOPROTOOPT => "this kernel has no IPsec support (CONFIG_XFRM)".to_string(),
        libc::EMSGSIZE => "the policy is longer than the kernel accepts (one page)".to_string(),
        libc::ENOTSOCK => "not a socket".to_string(),
        _ => return os_words(e),
    };
    format!("{words} ({})", errno_name(n))
}

/// A preference of Solaris' `ipsec_req_t` (`IPSEC_PREF_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pref {
    /// 0: no preference.
    #[default]
    DontCare,
    /// `IPSEC_PREF_NEVER`: must not be used.
    Never,
    /// `IPSEC_PREF_REQUIRED`: must be used.
    Required,
    /// `IPSEC_PREF_UNIQUE`: must be used, with an SA of this connection's own.
    Unique,
}

/// The shape of Solaris' `ipsec_req_t` (`<netinet/in.h>`, `ipsec(7P)`), mapped to
/// Linux by [`IpsecReq::to_policies`] and set by [`IpsecReq::apply`].
///
/// | Solaris | Linux |
/// |---|---|
/// | all `NEVER` | [`SocketPolicy::Bypass`] in both directions |
/// | `ipsr_esp_req` / `ipsr_ah_req` `REQUIRED` | transport ESP / AH template, level `require` |
/// | … `UNIQUE` | the same at level `unique` (reqid 0: af_key allocates one) |
/// | both | ESP inside AH (IP\|AH\|ESP), as Solaris applies them |
/// | `ipsr_self_encap_req` `REQUIRED`/`UNIQUE` | no equivalent (refused); `NEVER` is fine |
/// | `ipsr_auth_alg`, `ipsr_esp_alg`, `ipsr_esp_auth_alg` | xfrm template algorithm masks (0 = any), [`Encoding::Xfrm`] only |
/// | `setsockopt(IP_SEC_OPT)` once | two calls, one per direction |
///
/// Differences that remain: Linux needs `CAP_NET_ADMIN` for every per-socket policy
/// (Solaris only for bypass), and it does not latch a connection's policy (see the
/// module documentation); the algorithm masks restrict ACQUIRE proposals and inbound
/// authentication algorithms, not the outbound SA the key manager installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpsecReq {
    /// `ipsr_ah_req`.
    pub ah: Pref,
    /// `ipsr_esp_req`.
    pub esp: Pref,
    /// `ipsr_self_encap_req`.
    pub self_encap: Pref,
    /// `ipsr_auth_alg`: AH authentication algorithm id, 0 = any.
    pub auth_alg: u8,
    /// `ipsr_esp_alg`: ESP encryption algorithm id, 0 = any.
    pub esp_alg: u8,
    /// `ipsr_esp_auth_alg`: ESP authentication algorithm id, 0 = any.
    pub esp_auth_alg: u8,
}

/// An `ipsec_req_t` that Linux cannot express.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IpsecReqError {
    /// Self-encapsulation has no Linux per-socket equivalent.
    #[error("self-encapsulation (ipsr_self_encap_req) has no Linux per-socket equivalent")]
    SelfEncap,
    /// Nothing is asked for.
    #[error("the request asks for nothing: set ESP or AH to required/unique, or all to never")]
    Empty,
    /// An algorithm id that cannot be named in an xfrm mask (ids ≥ 32).
    #[error("algorithm id {0} cannot be restricted per socket (xfrm masks cover ids 0-31)")]
    AlgorithmId(u8),
}

impl IpsecReq {
    /// The policy both directions get.
    pub fn to_policies(&self) -> Result<SocketPolicy, IpsecReqError> {
        use Pref::*;
        if matches!(self.self_encap, Required | Unique) {
            return Err(IpsecReqError::SelfEncap);
        }
        let never = |p: Pref| matches!(p, Never | DontCare);
        if self.ah == Never && self.esp == Never && never(self.self_encap) {
            return Ok(SocketPolicy::Bypass);
        }
        let mask = |id: u8| -> Result<u32, IpsecReqError> {
            match id {
                0 => Ok(u32::MAX),
                1..=31 => Ok(1 << id),
                _ => Err(IpsecReqError::AlgorithmId(id)),
            }
        };
        let mut ts = Vec::new();
        let level = |p: Pref| {
            if p == Unique {
                Level::Unique
            } else {
                Level::Require
            }
        };
        if matches!(self.esp, Required | Unique) {
            ts.push(Template {
                level: level(self.esp),
                algorithms: AlgorithmMask {
                    auth: mask(self.esp_auth_alg)?,
                    encrypt: mask(self.esp_alg)?,
                    compress: u32::MAX,
                },
                ..Template::transport(SaType::Esp)
            });
        }
        if matches!(self.ah, Required | Unique) {
            ts.push(Template {
                level: level(self.ah),
                algorithms: AlgorithmMask {
                    auth: mask(self.auth_alg)?,
                    ..AlgorithmMask::ANY
                },
                ..Template::transport(SaType::Ah)
            });
        }
        if ts.is_empty() {
            return Err(IpsecReqError::Empty);
        }
        Ok(SocketPolicy::Ipsec(ts))
    }

    /// Sets the mapped policy ([`IpsecReq::to_policies`]) on both directions of
    /// `socket`, as Solaris' `setsockopt(IP_SEC_OPT)` does. Algorithm choices need
    /// [`Encoding::Xfrm`]; with [`Encoding::PfKey`] they are refused
    /// ([`SocketPolicyError::AlgorithmsNeedXfrm`]).
    pub fn apply(&self, socket: &impl AsFd, encoding: Encoding) -> Result<(), ApplyError> {
        apply_both(socket, &self.to_policies()?, encoding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    #[test]
    fn pfkey_bypass_blob_is_the_ike_idiom() {
        // sadb_x_policy{len = 2, exttype = 18, type = BYPASS (4), dir}.
        let b = SocketPolicy::Bypass
            .to_pfkey(Family::V4, SocketDirection::Out)
            .unwrap();
        let mut want = vec![2, 0, 18, 0, 4, 0, 2, 0];
        want.extend_from_slice(&[0; 8]);
        assert_eq!(b, want);
    }

    #[test]
    fn pfkey_esp_blob_parses_as_a_policy() {
        let p = SocketPolicy::Ipsec(vec![Template::transport(SaType::Esp)]);
        let blob = p.to_pfkey(Family::V6, SocketDirection::In).unwrap();
        // Wrap it in a message to reuse the view's validation.
        let mut msg = vec![2, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(&blob);
        let words = (msg.len() / 8) as u16;
        msg[4..6].copy_from_slice(&words.to_ne_bytes());
        let m = Message::parse(&msg).unwrap();
        let pol = m.policy().unwrap();
        assert_eq!(pol.dir(), Direction::In);
        let r: Vec<_> = pol.requests().collect();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].header().proto.get(), 50);
        assert_eq!(r[0].level(), Level::Require);
    }

    #[test]
    fn xfrm_blob_layout() {
        let p = SocketPolicy::Ipsec(vec![Template {
            tunnel: Some(("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap())),
            level: Level::Unique,
            reqid: 5,
            algorithms: AlgorithmMask {
                auth: 1 << 2,
                encrypt: 1 << 12,
                compress: u32::MAX,
            },
            ..Template::transport(SaType::Esp)
        }]);
        let b = p.to_xfrm(Family::V4, SocketDirection::Out).unwrap();
        assert_eq!(b.len(), 168 + 64);
        assert_eq!(
            u16::from_ne_bytes([b[40], b[41]]),
            AF_INET,
            "selector family"
        );
        assert_eq!(b[160], XFRM_POLICY_OUT);
        assert_eq!(b[161], XFRM_POLICY_ALLOW);
        let t = &b[168..];
        assert_eq!(&t[0..4], &[192, 0, 2, 2], "id.daddr = tunnel destination");
        assert_eq!(t[20], 50);
        assert_eq!(&t[28..32], &[192, 0, 2, 1], "saddr = tunnel source");
        assert_eq!(u32::from_ne_bytes(t[44..48].try_into().unwrap()), 5);
        assert_eq!(
            (t[48], t[49], t[50]),
            (XFRM_MODE_TUNNEL, XFRM_SHARE_UNIQUE, 0)
        );
        assert_eq!(u32::from_ne_bytes(t[52..56].try_into().unwrap()), 4);
        assert_eq!(u32::from_ne_bytes(t[56..60].try_into().unwrap()), 1 << 12);
        let d = SocketPolicy::Discard
            .to_xfrm(Family::V6, SocketDirection::In)
            .unwrap();
        assert_eq!(
            (d.len(), d[160], d[161]),
            (168, XFRM_POLICY_IN, XFRM_POLICY_BLOCK)
        );
    }

    #[test]
    fn encoding_errors() {
        let masked = SocketPolicy::Ipsec(vec![Template {
            algorithms: AlgorithmMask {
                auth: 4,
                ..AlgorithmMask::ANY
            },
            ..Template::transport(SaType::Esp)
        }]);
        assert_eq!(
            masked.to_pfkey(Family::V4, SocketDirection::Out),
            Err(SocketPolicyError::AlgorithmsNeedXfrm)
        );
        let v6_tunnel_on_v4 = SocketPolicy::Ipsec(vec![Template {
            tunnel: Some(("::1".parse().unwrap(), "::2".parse().unwrap())),
            ..Template::transport(SaType::Esp)
        }]);
        assert!(matches!(
            v6_tunnel_on_v4.to_xfrm(Family::V4, SocketDirection::Out),
            Err(SocketPolicyError::TunnelFamily(..))
        ));
        let seven = SocketPolicy::Ipsec(vec![Template::transport(SaType::Esp); 7]);
        assert_eq!(
            seven.to_xfrm(Family::V4, SocketDirection::Out),
            Err(SocketPolicyError::TooManyTemplates(7))
        );
        let rsvp = SocketPolicy::Ipsec(vec![Template::transport(SaType::Rsvp)]);
        assert!(matches!(
            rsvp.to_pfkey(Family::V4, SocketDirection::Out),
            Err(SocketPolicyError::Protocol(_))
        ));
    }

    #[test]
    fn family_comes_from_the_socket() {
        let v4 = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(Family::of(&v4).unwrap(), Family::V4);
        if let Ok(v6) = std::net::UdpSocket::bind("[::1]:0") {
            assert_eq!(Family::of(&v6).unwrap(), Family::V6);
        }
        let (unix, _) = std::os::unix::net::UnixStream::pair().unwrap();
        let e = Family::of(&unix).unwrap_err();
        assert!(matches!(e, ApplyError::NotInet { family } if family == libc::AF_UNIX));
        assert!(e.to_string().contains("only for IPv4 and IPv6"), "{e}");
        let file = std::fs::File::open("/dev/null").unwrap();
        let e = Family::of(&file).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENOTSOCK));
        assert!(
            e.to_string()
                .starts_with("cannot tell the socket's address family"),
            "{e}"
        );
    }

    #[test]
    fn apply_checks_the_policy_before_any_system_call() {
        // A policy that cannot be encoded never reaches setsockopt, so this holds on any
        // kernel and without privileges.
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let e = apply_both(&s, &SocketPolicy::Ipsec(Vec::new()), Encoding::Xfrm).unwrap_err();
        assert!(
            matches!(e, ApplyError::Policy(SocketPolicyError::NoTemplates)),
            "{e}"
        );
        let masked = SocketPolicy::Ipsec(vec![Template::transport(SaType::Esp)
            .with_algorithms(AlgorithmMask::allow(&[2], &[12]).unwrap())]);
        let e = apply(&s, SocketDirection::Out, &masked, Encoding::PfKey).unwrap_err();
        assert!(
            matches!(e, ApplyError::Policy(SocketPolicyError::AlgorithmsNeedXfrm)),
            "{e}"
        );
        let e = IpsecReq {
            self_encap: Pref::Required,
            ..Default::default()
        }
        .apply(&s, Encoding::Xfrm)
        .unwrap_err();
        assert!(
            matches!(e, ApplyError::Request(IpsecReqError::SelfEncap)),
            "{e}"
        );
        let (unix, _) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(matches!(clear(&unix), Err(ApplyError::NotInet { .. })));
    }

    #[test]
    fn algorithm_masks_and_builders() {
        assert_eq!(AlgorithmMask::allow(&[], &[]).unwrap(), AlgorithmMask::ANY);
        let m = AlgorithmMask::allow(&[2, 7], &[12]).unwrap();
        assert_eq!(
            (m.auth, m.encrypt, m.compress),
            (0b1000_0100, 1 << 12, u32::MAX)
        );
        assert_eq!(
            AlgorithmMask::allow(&[251], &[]),
            Err(SocketPolicyError::AlgorithmId(251))
        );
        assert_eq!(
            AlgorithmMask::allow(&[], &[32]),
            Err(SocketPolicyError::AlgorithmId(32))
        );
        let t = Template::tunnel(
            SaType::Esp,
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
        )
        .unique(7);
        assert_eq!(
            (t.level, t.reqid, t.tunnel.is_some()),
            (Level::Unique, 7, true)
        );
        assert_eq!(
            Template::transport(SaType::Ah).with_level(Level::Use).level,
            Level::Use
        );
        let SocketPolicy::Ipsec(ts) = SocketPolicy::esp_and_ah() else {
            panic!("esp_and_ah is an IPsec policy")
        };
        assert_eq!(
            ts.iter().map(|t| t.protocol).collect::<Vec<_>>(),
            [SaType::Esp, SaType::Ah]
        );
    }

    #[test]
    fn encoding_detection_prefers_xfrm_netlink() {
        let want = if crate::sys::xfrm_netlink_available() {
            Encoding::Xfrm
        } else if std::path::Path::new(PFKEY_PROC).exists() {
            Encoding::PfKey
        } else {
            Encoding::Xfrm
        };
        assert_eq!(Encoding::detect(), want);
        assert_eq!(Encoding::default(), want);
        assert_eq!(Encoding::PfKey.option_name(Family::V6), "IPV6_IPSEC_POLICY");
        assert_eq!(Encoding::Xfrm.option_name(Family::V4), "IP_XFRM_POLICY");
    }

    #[test]
    fn kernel_refusals_read_in_words() {
        let e = ApplyError::Kernel {
            option: "IP_IPSEC_POLICY",
            dir: Some(SocketDirection::Out),
            encoding: Some(Encoding::PfKey),
            af_key_loaded: true,
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert!(e.is_permission_denied());
        assert_eq!(
            e.to_string(),
            "setsockopt IP_IPSEC_POLICY (out): not permitted: per-socket IPsec policies need \
             CAP_NET_ADMIN in the socket's network namespace, for every policy (IPsec, bypass, \
             discard) and for clearing (EPERM)"
        );
        let e = ApplyError::Kernel {
            option: "IP_XFRM_POLICY",
            dir: Some(SocketDirection::In),
            encoding: Some(Encoding::Xfrm),
            af_key_loaded: true,
            source: io::Error::from_raw_os_error(libc::EOPNOTSUPP),
        };
        assert!(e.to_string().contains("xfrm_user is not loaded"), "{e}");
        let refused = |af_key_loaded| ApplyError::Kernel {
            option: "IP_IPSEC_POLICY",
            dir: Some(SocketDirection::Out),
            encoding: Some(Encoding::PfKey),
            af_key_loaded,
            source: io::Error::from_raw_os_error(libc::EOPNOTSUPP),
        };
        assert!(
            refused(true)
                .to_string()
                .contains("af_key refused the policy"),
            "{}",
            refused(true)
        );
        assert!(
            refused(false).to_string().contains("af_key is not loaded"),
            "{}",
            refused(false)
        );
        let e = ApplyError::Kernel {
            option: "IP_XFRM_POLICY",
            dir: None,
            encoding: None,
            af_key_loaded: false,
            source: io::Error::from_raw_os_error(libc::EBADF),
        };
        assert_eq!(
            e.to_string(),
            "setsockopt IP_XFRM_POLICY: bad file number (EBADF)"
        );
    }

    #[test]
    fn solaris_ipsec_req_mapping() {
        use Pref::*;
        let never = IpsecReq {
            ah: Never,
            esp: Never,
            self_encap: Never,
            ..Default::default()
        };
        assert_eq!(never.to_policies(), Ok(SocketPolicy::Bypass));
        let esp = IpsecReq {
            esp: Required,
            esp_alg: 12,
            esp_auth_alg: 2,
            ..Default::default()
        };
        let SocketPolicy::Ipsec(ts) = esp.to_policies().unwrap() else {
            panic!()
        };
        assert_eq!(ts.len(), 1);
        assert_eq!(ts[0].protocol, SaType::Esp);
        assert_eq!(ts[0].algorithms.encrypt, 1 << 12);
        assert_eq!(ts[0].algorithms.auth, 1 << 2);
        let both = IpsecReq {
            esp: Unique,
            ah: Required,
            ..Default::default()
        };
        let SocketPolicy::Ipsec(ts) = both.to_policies().unwrap() else {
            panic!()
        };
        assert_eq!((ts[0].protocol, ts[0].level), (SaType::Esp, Level::Unique));
        assert_eq!((ts[1].protocol, ts[1].level), (SaType::Ah, Level::Require));
        assert_eq!(
            IpsecReq {
                self_encap: Required,
                ..Default::default()
            }
            .to_policies(),
            Err(IpsecReqError::SelfEncap)
        );
        assert_eq!(IpsecReq::default().to_policies(), Err(IpsecReqError::Empty));
        assert_eq!(
            IpsecReq {
                esp: Required,
                esp_alg: 252,
                ..Default::default()
            }
            .to_policies(),
            Err(IpsecReqError::AlgorithmId(252))
        );
    }
}
