//! Hand-rolled PF_KEY v2 bytes (RFC 2367, Linux numbering), independent of the `pfkey` codec:
//! enough to build the requests the lab tests send and to walk the replies.

use std::net::IpAddr;

/// Message types.
pub mod msg {
    pub const GETSPI: u8 = 1;
    pub const UPDATE: u8 = 2;
    pub const ADD: u8 = 3;
    pub const DELETE: u8 = 4;
    pub const GET: u8 = 5;
    pub const ACQUIRE: u8 = 6;
    pub const REGISTER: u8 = 7;
    pub const FLUSH: u8 = 9;
    pub const DUMP: u8 = 10;
    pub const X_SPDADD: u8 = 14;
    pub const X_SPDDELETE: u8 = 15;
    pub const X_SPDDUMP: u8 = 18;
    pub const X_SPDFLUSH: u8 = 19;
}

/// Extension types.
pub mod ext {
    pub const SA: u16 = 1;
    pub const LIFETIME_CURRENT: u16 = 2;
    pub const LIFETIME_HARD: u16 = 3;
    pub const LIFETIME_SOFT: u16 = 4;
    pub const ADDRESS_SRC: u16 = 5;
    pub const ADDRESS_DST: u16 = 6;
    pub const ADDRESS_PROXY: u16 = 7;
    pub const KEY_AUTH: u16 = 8;
    pub const KEY_ENCRYPT: u16 = 9;
    pub const PROPOSAL: u16 = 13;
    pub const SUPPORTED_AUTH: u16 = 14;
    pub const SUPPORTED_ENCRYPT: u16 = 15;
    pub const X_POLICY: u16 = 18;
    pub const X_SA2: u16 = 19;
}

/// SA types.
pub mod satype {
    pub const UNSPEC: u8 = 0;
    pub const AH: u8 = 2;
    pub const ESP: u8 = 3;
}

/// Algorithm ids used by the tests.
pub mod alg {
    pub const AALG_MD5HMAC: u8 = 2;
    pub const AALG_SHA1HMAC: u8 = 3;
    pub const AALG_SHA2_256HMAC: u8 = 5;
    pub const EALG_3DESCBC: u8 = 3;
    pub const EALG_NULL: u8 = 11;
    pub const EALG_AESCBC: u8 = 12;
    pub const EALG_AES_GCM_ICV16: u8 = 20;
}

/// `IPSEC_MODE_*`, `IPSEC_DIR_*`, `IPSEC_POLICY_*`, `IPSEC_LEVEL_*`.
pub mod ipsec {
    pub const MODE_TRANSPORT: u8 = 1;
    pub const MODE_TUNNEL: u8 = 2;
    pub const DIR_INBOUND: u8 = 1;
    pub const DIR_OUTBOUND: u8 = 2;
    pub const POLICY_NONE: u16 = 1;
    pub const POLICY_IPSEC: u16 = 2;
    pub const POLICY_BYPASS: u16 = 4;
    pub const LEVEL_USE: u8 = 1;
    pub const LEVEL_REQUIRE: u8 = 2;
    pub const LEVEL_UNIQUE: u8 = 3;
    pub const PROTO_ANY: u8 = 255;
}

/// The 16-byte `sadb_msg` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub msg_type: u8,
    pub errno: u8,
    pub satype: u8,
    /// Length in 64-bit words.
    pub len: u16,
    pub reserved: u16,
    pub seq: u32,
    pub pid: u32,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl Header {
    /// Reads the header of `msg`; panics if it is shorter than 16 bytes.
    pub fn parse(msg: &[u8]) -> Header {
        assert!(msg.len() >= 16, "PF_KEY message of {} bytes", msg.len());
        Header {
            version: msg[0],
            msg_type: msg[1],
            errno: msg[2],
            satype: msg[3],
            len: u16_at(msg, 4),
            reserved: u16_at(msg, 6),
            seq: u32_at(msg, 8),
            pid: u32_at(msg, 12),
        }
    }
}

/// A parsed message: header plus extensions (each the whole extension, header included).
#[derive(Debug)]
pub struct Parsed<'a> {
    pub header: Header,
    pub exts: Vec<(u16, &'a [u8])>,
}

impl<'a> Parsed<'a> {
    /// Walks `msg`, checking the length fields; panics on malformed input.
    pub fn new(msg: &'a [u8]) -> Parsed<'a> {
        let header = Header::parse(msg);
        assert_eq!(header.version, 2, "version");
        assert_eq!(usize::from(header.len) * 8, msg.len(), "sadb_msg_len");
        let mut exts = Vec::new();
        let mut rest = &msg[16..];
        while !rest.is_empty() {
            assert!(rest.len() >= 4, "truncated extension header");
            let len = usize::from(u16_at(rest, 0)) * 8;
            let ty = u16_at(rest, 2);
            assert!(len >= 8 && len <= rest.len(), "extension {ty} length {len}");
            exts.push((ty, &rest[..len]));
            rest = &rest[len..];
        }
        Parsed { header, exts }
    }

    /// The extension of type `ty`, if present.
    pub fn ext(&self, ty: u16) -> Option<&'a [u8]> {
        self.exts.iter().find(|(t, _)| *t == ty).map(|(_, e)| *e)
    }

    /// Extension types in the order the kernel sent them.
    pub fn ext_types(&self) -> Vec<u16> {
        self.exts.iter().map(|(t, _)| *t).collect()
    }

    /// `sadb_sa`: (spi, replay, state, auth, encrypt, flags).
    pub fn sa(&self) -> Option<Sa> {
        self.ext(ext::SA).map(|e| Sa {
            spi: u32::from_be_bytes(e[4..8].try_into().expect("4 bytes")),
            replay: e[8],
            state: e[9],
            auth: e[10],
            encrypt: e[11],
            flags: u32_at(e, 12),
        })
    }

    /// A `sadb_key` extension's bits and key bytes.
    pub fn key(&self, ty: u16) -> Option<(u16, &'a [u8])> {
        self.ext(ty).map(|e| {
            let bits = u16_at(e, 4);
            (bits, &e[8..8 + usize::from(bits).div_ceil(8)])
        })
    }

    /// A `sadb_lifetime`: (allocations, bytes, addtime, usetime).
    pub fn lifetime(&self, ty: u16) -> Option<(u32, u64, u64, u64)> {
        self.ext(ty)
            .map(|e| (u32_at(e, 4), u64_at(e, 8), u64_at(e, 16), u64_at(e, 24)))
    }

    /// A `sadb_address`: (proto, prefixlen, address).
    pub fn address(&self, ty: u16) -> Option<(u8, u8, IpAddr)> {
        self.ext(ty).map(|e| {
            let family = u16_at(e, 8);
            let ip = match i32::from(family) {
                libc::AF_INET => IpAddr::from(<[u8; 4]>::try_from(&e[12..16]).expect("4")),
                libc::AF_INET6 => IpAddr::from(<[u8; 16]>::try_from(&e[16..32]).expect("16")),
                f => panic!("address family {f}"),
            };
            (e[4], e[5], ip)
        })
    }

    /// `sadb_x_sa2`: (mode, reqid).
    pub fn sa2(&self) -> Option<(u8, u32)> {
        self.ext(ext::X_SA2).map(|e| (e[4], u32_at(e, 12)))
    }

    /// The algorithm ids listed in a `sadb_supported` extension, with (min, max) key bits.
    pub fn supported(&self, ty: u16) -> Vec<(u8, u16, u16)> {
        self.ext(ty)
            .map(|e| {
                e[8..]
                    .chunks_exact(8)
                    .map(|a| (a[0], u16_at(a, 2), u16_at(a, 4)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `sadb_x_policy`: (type, dir, id, priority, request bytes).
    pub fn policy(&self) -> Option<(u16, u8, u32, u32, &'a [u8])> {
        self.ext(ext::X_POLICY)
            .map(|e| (u16_at(e, 4), e[6], u32_at(e, 8), u32_at(e, 12), &e[16..]))
    }
}

/// `sadb_sa` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sa {
    pub spi: u32,
    pub replay: u8,
    pub state: u8,
    pub auth: u8,
    pub encrypt: u8,
    pub flags: u32,
}

/// Builds one request. Extensions are padded to 8 bytes; `finish` fills in the length.
#[derive(Debug, Clone)]
pub struct Builder {
    buf: Vec<u8>,
}

fn sockaddr(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => {
            let mut s = vec![0u8; 16];
            s[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            s[4..8].copy_from_slice(&a.octets());
            s
        }
        IpAddr::V6(a) => {
            let mut s = vec![0u8; 28];
            s[0..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            s[8..24].copy_from_slice(&a.octets());
            s
        }
    }
}

impl Builder {
    /// A request of type `msg_type` for `satype` with sequence number `seq`, from this process.
    pub fn new(msg_type: u8, satype: u8, seq: u32) -> Builder {
        let mut buf = vec![2, msg_type, 0, satype, 0, 0, 0, 0];
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&std::process::id().to_ne_bytes());
        Builder { buf }
    }

    /// Appends an extension of type `ty` whose body (after len and type) is `body`.
    pub fn ext(mut self, ty: u16, body: &[u8]) -> Builder {
        let total = (4 + body.len()).div_ceil(8) * 8;
        let words = u16::try_from(total / 8).expect("extension too long");
        self.buf.extend_from_slice(&words.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(body);
        self.buf.resize(self.buf.len() + total - 4 - body.len(), 0);
        self
    }

    /// `sadb_sa`.
    pub fn sa(self, spi: u32, replay: u8, auth: u8, encrypt: u8) -> Builder {
        let mut b = Vec::with_capacity(12);
        b.extend_from_slice(&spi.to_be_bytes());
        b.extend_from_slice(&[replay, 0, auth, encrypt]);
        b.extend_from_slice(&0u32.to_ne_bytes());
        self.ext(ext::SA, &b)
    }

    /// `sadb_address` for `ip` with a full-length prefix and any upper-layer protocol.
    pub fn address(self, ty: u16, ip: IpAddr) -> Builder {
        let prefix = if ip.is_ipv4() { 32 } else { 128 };
        self.address_prefix(ty, ip, prefix, ipsec::PROTO_ANY)
    }

    /// `sadb_address` with an explicit prefix length and protocol.
    pub fn address_prefix(self, ty: u16, ip: IpAddr, prefix: u8, proto: u8) -> Builder {
        let mut b = vec![proto, prefix, 0, 0];
        b.extend_from_slice(&sockaddr(ip));
        self.ext(ty, &b)
    }

    /// `sadb_key` with `key.len() * 8` bits.
    pub fn key(self, ty: u16, key: &[u8]) -> Builder {
        let bits = u16::try_from(key.len() * 8).expect("key too long");
        let mut b = Vec::with_capacity(4 + key.len());
        b.extend_from_slice(&bits.to_ne_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(key);
        self.ext(ty, &b)
    }

    /// `sadb_lifetime` (HARD or SOFT).
    pub fn lifetime(
        self,
        ty: u16,
        allocations: u32,
        bytes: u64,
        addtime: u64,
        usetime: u64,
    ) -> Builder {
        let mut b = Vec::with_capacity(28);
        b.extend_from_slice(&allocations.to_ne_bytes());
        for v in [bytes, addtime, usetime] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        self.ext(ty, &b)
    }

    /// `sadb_x_sa2`.
    pub fn sa2(self, mode: u8, reqid: u32) -> Builder {
        let mut b = vec![mode, 0, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&reqid.to_ne_bytes());
        self.ext(ext::X_SA2, &b)
    }

    /// `sadb_x_policy` of type IPSEC with one ESP request; `tunnel` gives the outer endpoints.
    pub fn policy_esp(
        self,
        dir: u8,
        level: u8,
        reqid: u32,
        tunnel: Option<(IpAddr, IpAddr)>,
    ) -> Builder {
        let mut req = Vec::new();
        let (mode, addrs) = match tunnel {
            Some((s, d)) => {
                let mut a = sockaddr(s);
                a.extend(sockaddr(d));
                a.resize(a.len().div_ceil(8) * 8, 0);
                (ipsec::MODE_TUNNEL, a)
            }
            None => (ipsec::MODE_TRANSPORT, Vec::new()),
        };
        let req_len = u16::try_from(16 + addrs.len()).expect("request too long");
        req.extend_from_slice(&req_len.to_ne_bytes());
        req.extend_from_slice(&u16::from(libc::IPPROTO_ESP as u8).to_ne_bytes());
        req.extend_from_slice(&[mode, level, 0, 0]);
        req.extend_from_slice(&reqid.to_ne_bytes());
        req.extend_from_slice(&0u32.to_ne_bytes());
        req.extend(addrs);
        let mut b = Vec::new();
        b.extend_from_slice(&ipsec::POLICY_IPSEC.to_ne_bytes());
        b.extend_from_slice(&[dir, 0]);
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend(req);
        self.ext(ext::X_POLICY, &b)
    }

    /// The finished message with `sadb_msg_len` set.
    pub fn finish(mut self) -> Vec<u8> {
        let words = u16::try_from(self.buf.len() / 8).expect("message too long");
        self.buf[4..6].copy_from_slice(&words.to_ne_bytes());
        self.buf
    }
}
