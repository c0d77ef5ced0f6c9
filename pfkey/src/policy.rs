//! Security policies: `sadb_x_policy` with its `sadb_x_ipsecrequest` templates.
//!
//! The same encoding serves the SPD messages (`SADB_X_SPD*`) and per-socket
//! policies (`IP_IPSEC_POLICY`, which takes a bare `sadb_x_policy` blob).
#![forbid(unsafe_code)]

use core::net::SocketAddr;

use zerocopy::IntoBytes;

use crate::builder::write_sockaddr;
use crate::error::BuildError;
use crate::message::PolicyView;
use crate::wire::*;

/// A security policy (`struct sadb_x_policy` and its requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `sadb_x_policy_type`: discard, none (bypass) or ipsec; entrust/bypass per socket only.
    pub policy_type: PolicyType,
    /// `sadb_x_policy_dir`.
    pub dir: Direction,
    /// `sadb_x_policy_reserved` (0; kept for lossless round trips).
    pub reserved: u8,
    /// `sadb_x_policy_id`: assigned by the kernel; ignored on SPDADD.
    pub id: u32,
    /// `sadb_x_policy_priority`: lower wins; setkey's default is 0x8000_0000.
    pub priority: u32,
    /// The IPsec requests (templates), applied in order; at most 6 on Linux.
    pub requests: Vec<IpsecRequest>,
}

/// One template of a policy (`struct sadb_x_ipsecrequest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpsecRequest {
    /// `sadb_x_ipsecrequest_proto`: IP protocol 50 (ESP), 51 (AH) or 108 (IPComp).
    pub proto: u16,
    /// `sadb_x_ipsecrequest_mode`.
    pub mode: Mode,
    /// `sadb_x_ipsecrequest_level`.
    pub level: Level,
    /// `sadb_x_ipsecrequest_reqid`: meaningful with [`Level::Unique`].
    pub reqid: u32,
    /// Tunnel endpoints (outer source, outer destination); required in tunnel mode.
    pub tunnel: Option<(SocketAddr, SocketAddr)>,
}

impl IpsecRequest {
    /// Bytes this request occupies: 16, plus two sockaddrs when it has endpoints.
    pub fn buffer_len(&self) -> usize {
        SadbXIpsecrequest::SIZE
            + match self.tunnel {
                Some((SocketAddr::V4(_), _)) => 2 * SockaddrIn::SIZE,
                Some((SocketAddr::V6(_), _)) => 2 * SockaddrIn6::SIZE,
                None => 0,
            }
    }

    /// Reads a request from its view.
    pub fn from_view(v: &crate::message::RequestView<'_>) -> Self {
        let h = v.header();
        IpsecRequest {
            proto: h.proto.get(),
            mode: Mode::from_value(h.mode),
            level: Level::from_value(h.level),
            reqid: h.reqid.get(),
            tunnel: v.tunnel(),
        }
    }

    fn emit(&self, out: &mut [u8]) -> Result<(), BuildError> {
        let len = self.buffer_len();
        let bad = |what| BuildError::Unrepresentable {
            ext: ExtType::Policy,
            what,
        };
        // af_key `parse_ipsecrequest` reads endpoints in tunnel mode only, and needs them there.
        match (self.mode, self.tunnel) {
            (Mode::Tunnel, None) => {
                return Err(bad("a tunnel-mode request needs tunnel endpoints"))
            }
            (Mode::Tunnel, Some((s, d))) if s.is_ipv4() != d.is_ipv4() => {
                return Err(bad("tunnel endpoints of different address families"))
            }
            (Mode::Tunnel, Some(_)) => {}
            (_, Some(_)) => return Err(bad("tunnel endpoints are only carried in tunnel mode")),
            (_, None) => {}
        }
        let h = SadbXIpsecrequest {
            len: U16::new(len as u16), // at most 72
            proto: U16::new(self.proto),
            mode: self.mode.value(),
            level: self.level.value(),
            reserved1: U16::ZERO,
            reqid: U32::new(self.reqid),
            reserved2: U32::ZERO,
        };
        let Some(region) = out.get_mut(..len) else {
            return Err(BuildError::BufferTooSmall {
                need: len,
                have: out.len(),
            });
        };
        region.fill(0);
        region[..SadbXIpsecrequest::SIZE].copy_from_slice(h.as_bytes());
        if let Some((s, d)) = self.tunnel {
            let n = write_sockaddr(&s, &mut region[SadbXIpsecrequest::SIZE..]);
            write_sockaddr(&d, &mut region[SadbXIpsecrequest::SIZE + n..]);
        }
        Ok(())
    }
}

impl Policy {
    /// Reads a policy from its view.
    pub fn from_view(v: &PolicyView<'_>) -> Self {
        let h = v.header();
        Policy {
            policy_type: v.policy_type(),
            dir: v.dir(),
            reserved: h.reserved,
            id: h.id.get(),
            priority: h.priority.get(),
            requests: v.requests().map(|r| IpsecRequest::from_view(&r)).collect(),
        }
    }

    /// Length of the whole extension in bytes (always a multiple of 8 for Linux's
    /// request sizes of 16, 48 and 72 bytes).
    pub fn buffer_len(&self) -> usize {
        align8(
            SadbXPolicy::SIZE
                + self
                    .requests
                    .iter()
                    .map(IpsecRequest::buffer_len)
                    .sum::<usize>(),
        )
    }

    /// Writes the extension (header included, `len`/`exttype` filled in) into
    /// `out`, which must be at least [`Policy::buffer_len`] bytes. This is also the
    /// blob `setsockopt(IP_IPSEC_POLICY)` takes.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, BuildError> {
        let len = self.buffer_len();
        let words = u16::try_from(len / WORD).map_err(|_| BuildError::ExtensionTooLong {
            ext: ExtType::Policy,
            len,
        })?;
        let Some(region) = out.get_mut(..len) else {
            return Err(BuildError::BufferTooSmall {
                need: len,
                have: out.len(),
            });
        };
        region.fill(0);
        self.emit_body(region)?;
        region[0..2].copy_from_slice(&words.to_ne_bytes());
        region[2..4].copy_from_slice(&ExtType::Policy.value().to_ne_bytes());
        Ok(len)
    }

    /// The extension as a new `Vec` (see [`Policy::emit`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>, BuildError> {
        let mut v = vec![0; self.buffer_len()];
        self.emit(&mut v)?;
        Ok(v)
    }

    /// Writes everything but the `sadb_ext` header into a zeroed region of
    /// [`Policy::buffer_len`] bytes.
    pub(crate) fn emit_body(&self, region: &mut [u8]) -> Result<(), BuildError> {
        let h = SadbXPolicy {
            len: U16::ZERO,
            ext_type: U16::ZERO,
            policy_type: U16::new(self.policy_type.value()),
            dir: self.dir.value(),
            reserved: self.reserved,
            id: U32::new(self.id),
            priority: U32::new(self.priority),
        };
        let Some(head) = region.get_mut(4..SadbXPolicy::SIZE) else {
            return Err(BuildError::BufferTooSmall {
                need: SadbXPolicy::SIZE,
                have: region.len(),
            });
        };
        head.copy_from_slice(&h.as_bytes()[4..]);
        let mut at = SadbXPolicy::SIZE;
        for r in &self.requests {
            r.emit(region.get_mut(at..).unwrap_or_default())?;
            at += r.buffer_len();
        }
        Ok(())
    }
}
