//! Per-socket IPsec policy: the encodings behind "put IPsec to work in your
//! application" — the Linux counterpart of Solaris' `setsockopt(IP_SEC_OPT,
//! ipsec_req_t)`.
//!
//! Linux accepts a policy per socket and per direction through two options:
//!
//! | option (level) | value | served by |
//! |---|---|---|
//! | `IP_IPSEC_POLICY` 16 (`IPPROTO_IP`), `IPV6_IPSEC_POLICY` 34 (`IPPROTO_IPV6`) | a PF_KEY `sadb_x_policy` with requests ([`Encoding::PfKey`]) | `af_key` (only while it is loaded) |
//! | `IP_XFRM_POLICY` 17, `IPV6_XFRM_POLICY` 35 | `xfrm_userpolicy_info` + `xfrm_user_tmpl`s ([`Encoding::Xfrm`]) | `xfrm_user`; can restrict algorithms |
//!
//! This module builds those values; it performs no system call. The policy
//! latches onto the connection: set it before `connect()` (client) or on the
//! listening socket before `accept()` (server; accepted sockets inherit it).
#![forbid(unsafe_code)]

use core::net::{IpAddr, SocketAddr};

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

/// How the policy is handed to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `IP_IPSEC_POLICY` with a PF_KEY blob; needs `af_key` loaded.
    PfKey,
    /// `IP_XFRM_POLICY` with xfrm structures; works without `af_key` and can
    /// restrict algorithms.
    Xfrm,
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

/// The shape of Solaris' `ipsec_req_t`, mapped to Linux by [`IpsecReq::to_policies`].
///
/// | Solaris | Linux |
/// |---|---|
/// | all `NEVER` | [`SocketPolicy::Bypass`] in both directions |
/// | `ipsr_esp_req` / `ipsr_ah_req` `REQUIRED` | transport ESP / AH template, level `require` |
/// | … `UNIQUE` | the same at level `unique` |
/// | `ipsr_self_encap_req` | no equivalent (refused) |
/// | `ipsr_auth_alg`, `ipsr_esp_alg`, `ipsr_esp_auth_alg` | xfrm template algorithm masks (0 = any) |
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
