//! Building messages: a header, then extensions, with lengths and padding filled in.
//!
//! [`MessageBuilder`] writes straight into the caller's storage — a `&mut [u8]`
//! (no allocation at all) or one `Vec<u8>` (grown as needed) — and patches
//! `sadb_msg_len` when [`MessageBuilder::finish`] is called. Every byte of the
//! message is written, padding included, so a reused buffer never leaks old data.
//!
//! # Panics
//!
//! Nothing here panics. Values that cannot be expressed (a message over 524 280
//! bytes, an extension over `u16::MAX` words, a key over 65 535 bits) are
//! [`BuildError`]s.
#![forbid(unsafe_code)]

use core::net::SocketAddr;

use zerocopy::IntoBytes;

use crate::error::BuildError;
use crate::wire::*;

/// Where the builder writes.
enum Out<'b> {
    Slice(&'b mut [u8]),
    Vec(&'b mut Vec<u8>),
}

/// Builds one message into caller-provided storage.
///
/// ```
/// use pfkey::builder::MessageBuilder;
/// use pfkey::repr::{Header, Sa, Address};
/// use pfkey::wire::{MsgType, SaType};
///
/// let mut buf = [0u8; 256];
/// let mut b = MessageBuilder::new(&mut buf, &Header::new(MsgType::Get, SaType::Esp, 1, 42))?;
/// b.sa(&Sa { spi: 0x1000, ..Sa::default() })?;
/// b.address(pfkey::wire::ExtType::AddressSrc, &Address::host("10.0.0.1".parse().unwrap()))?;
/// b.address(pfkey::wire::ExtType::AddressDst, &Address::host("10.0.0.2".parse().unwrap()))?;
/// let msg = b.finish()?;
/// assert_eq!(msg.len(), 16 + 16 + 24 + 24);
/// # Ok::<(), pfkey::BuildError>(())
/// ```
pub struct MessageBuilder<'b> {
    out: Out<'b>,
    /// Where the message starts in a `Vec` (messages may be appended to a Vec).
    start: usize,
    len: usize,
}

impl<'b> MessageBuilder<'b> {
    /// Starts a message in `buf`; fails if `buf` cannot hold the 16-byte header.
    pub fn new(buf: &'b mut [u8], header: &crate::repr::Header) -> Result<Self, BuildError> {
        let mut b = MessageBuilder {
            out: Out::Slice(buf),
            start: 0,
            len: 0,
        };
        b.write_header(header)?;
        Ok(b)
    }

    /// Starts a message appended to `vec` (which grows as needed).
    pub fn new_vec(vec: &'b mut Vec<u8>, header: &crate::repr::Header) -> Self {
        let start = vec.len();
        let mut b = MessageBuilder {
            out: Out::Vec(vec),
            start,
            len: 0,
        };
        // A Vec always has room, and 16 bytes cannot exceed the maximum.
        let _ = b.write_header(header);
        b
    }

    fn write_header(&mut self, h: &crate::repr::Header) -> Result<(), BuildError> {
        let hdr = SadbMsg {
            version: PF_KEY_V2,
            msg_type: h.msg_type.value(),
            errno: h.errno,
            satype: h.satype.value(),
            len: U16::new(2),
            reserved: U16::new(h.reserved),
            seq: U32::new(h.seq),
            pid: U32::new(h.pid),
        };
        self.append(SadbMsg::SIZE)?.copy_from_slice(hdr.as_bytes());
        Ok(())
    }

    /// Reserves `n` more bytes, zero-filled, and returns them.
    fn append(&mut self, n: usize) -> Result<&mut [u8], BuildError> {
        let new_len = self.len + n;
        if new_len > MAX_MESSAGE_LEN {
            return Err(BuildError::MessageTooLong(new_len));
        }
        let (start, old) = (self.start, self.len);
        let region = match &mut self.out {
            Out::Slice(buf) => {
                let have = buf.len();
                buf.get_mut(old..new_len)
                    .ok_or(BuildError::BufferTooSmall {
                        need: new_len,
                        have,
                    })?
            }
            Out::Vec(v) => {
                v.resize(start + new_len, 0);
                &mut v[start + old..start + new_len]
            }
        };
        region.fill(0);
        self.len = new_len;
        Ok(region)
    }

    /// Appends an extension of `len` bytes (rounded up to whole words) of type `t`:
    /// writes the `sadb_ext` header and hands the zeroed extension to `fill`.
    pub fn extension_with(
        &mut self,
        t: ExtType,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<&mut Self, BuildError> {
        let padded = align8(len.max(SadbExt::SIZE));
        let words = u16::try_from(padded / WORD).map_err(|_| BuildError::ExtensionTooLong {
            ext: t,
            len: padded,
        })?;
        let region = self.append(padded)?;
        fill(region);
        let ext = SadbExt {
            len: U16::new(words),
            ext_type: U16::new(t.value()),
        };
        // The region is at least 8 bytes long.
        region[..SadbExt::SIZE].copy_from_slice(ext.as_bytes());
        Ok(self)
    }

    /// Appends a structure followed by `tail` bytes, padded to whole words; the
    /// structure's own `len`/`exttype` fields are overwritten by the builder.
    fn ext_struct<T: IntoBytes + zerocopy::Immutable>(
        &mut self,
        t: ExtType,
        head: &T,
        tails: &[&[u8]],
    ) -> Result<&mut Self, BuildError> {
        let hb = head.as_bytes();
        let total = hb.len() + tails.iter().map(|t| t.len()).sum::<usize>();
        self.extension_with(t, total, |region| {
            let mut at = 0;
            for part in core::iter::once(hb).chain(tails.iter().copied()) {
                if let Some(dst) = region.get_mut(at..at + part.len()) {
                    dst.copy_from_slice(part);
                }
                at += part.len();
            }
        })
    }

    /// Appends an extension given as raw bytes, header included (for extensions
    /// this crate does not know). The length field is rewritten to match.
    pub fn raw_extension(&mut self, bytes: &[u8]) -> Result<&mut Self, BuildError> {
        let t = bytes
            .get(2..4)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
            .unwrap_or(0);
        let body = bytes.get(SadbExt::SIZE..).unwrap_or_default();
        self.extension_with(ExtType::from_value(t), SadbExt::SIZE + body.len(), |r| {
            if let Some(dst) = r.get_mut(SadbExt::SIZE..SadbExt::SIZE + body.len()) {
                dst.copy_from_slice(body);
            }
        })
    }

    /// Appends `SADB_EXT_SA`.
    pub fn sa(&mut self, sa: &crate::repr::Sa) -> Result<&mut Self, BuildError> {
        self.ext_struct(ExtType::Sa, &sa.to_wire(), &[])
    }

    /// Appends a lifetime extension (`t` is `LifetimeCurrent`, `LifetimeHard` or `LifetimeSoft`).
    pub fn lifetime(
        &mut self,
        t: ExtType,
        l: &crate::repr::Lifetime,
    ) -> Result<&mut Self, BuildError> {
        let s = SadbLifetime {
            len: U16::ZERO,
            ext_type: U16::ZERO,
            allocations: U32::new(l.allocations),
            bytes: U64::new(l.bytes),
            addtime: U64::new(l.addtime),
            usetime: U64::new(l.usetime),
        };
        self.ext_struct(t, &s, &[])
    }

    /// Appends an address extension (`AddressSrc`, `AddressDst`, `AddressProxy` or
    /// `NatTOa`) with the exact sockaddr length Linux requires.
    pub fn address(
        &mut self,
        t: ExtType,
        a: &crate::repr::Address,
    ) -> Result<&mut Self, BuildError> {
        let s = SadbAddress {
            len: U16::ZERO,
            ext_type: U16::ZERO,
            proto: a.proto,
            prefixlen: a.prefix_len,
            reserved: U16::ZERO,
        };
        let mut sa_buf = [0u8; SockaddrIn6::SIZE];
        let n = write_sockaddr(&a.addr, &mut sa_buf);
        self.ext_struct(t, &s, &[&sa_buf[..n]])
    }

    /// Appends a key extension (`KeyAuth` or `KeyEncrypt`) of `bits` bits from `key`
    /// (which must hold at least `ceil(bits / 8)` bytes).
    pub fn key(&mut self, t: ExtType, bits: u16, key: &[u8]) -> Result<&mut Self, BuildError> {
        let n = (bits as usize).div_ceil(8);
        let data = key.get(..n).ok_or(BuildError::Unrepresentable {
            ext: t,
            what: "sadb_key_bits exceeds the key data",
        })?;
        let s = SadbKey {
            len: U16::ZERO,
            ext_type: U16::ZERO,
            bits: U16::new(bits),
            reserved: U16::ZERO,
        };
        self.ext_struct(t, &s, &[data])
    }

    /// Appends `SADB_X_EXT_SA2`.
    pub fn sa2(&mut self, s: &crate::repr::Sa2) -> Result<&mut Self, BuildError> {
        self.ext_struct(ExtType::Sa2, &s.to_wire(), &[])
    }

    /// Appends `SADB_EXT_SPIRANGE` (bounds in host order, as Linux expects).
    pub fn spirange(&mut self, min: u32, max: u32) -> Result<&mut Self, BuildError> {
        let w = SadbSpirange {
            len: U16::ZERO,
            ext_type: U16::ZERO,
            min: U32::new(min),
            max: U32::new(max),
            reserved: U32::ZERO,
        };
        self.ext_struct(ExtType::SpiRange, &w, &[])
    }

    /// Appends `SADB_X_EXT_NAT_T_TYPE`.
    pub fn nat_t_type(&mut self, nat_t_type: u8) -> Result<&mut Self, BuildError> {
        let w = SadbXNatTType {
            len: U16::ZERO,
            ext_type: U16::ZERO,
            nat_t_type,
            reserved: [0; 3],
        };
        self.ext_struct(ExtType::NatTType, &w, &[])
    }

    /// Appends `SADB_X_EXT_NAT_T_SPORT` or `_DPORT` (`port` in host order; written big-endian).
    pub fn nat_t_port(&mut self, t: ExtType, port: u16) -> Result<&mut Self, BuildError> {
        let w = SadbXNatTPort {
            len: U16::ZERO,
            ext_type: U16::ZERO,
            port: BeU16::new(port),
            reserved: U16::ZERO,
        };
        self.ext_struct(t, &w, &[])
    }

    /// Appends `SADB_X_EXT_SEC_CTX`.
    pub fn sec_ctx(&mut self, alg: u8, doi: u8, ctx: &[u8]) -> Result<&mut Self, BuildError> {
        let ctx_len = u16::try_from(ctx.len()).ok().filter(|&l| l <= 4096).ok_or(
            BuildError::Unrepresentable {
                ext: ExtType::SecCtx,
                what: "security context longer than 4096 bytes",
            },
        )?;
        let w = SadbXSecCtx {
            len: U16::ZERO,
            ext_type: U16::ZERO,
            alg,
            doi,
            ctx_len: U16::new(ctx_len),
        };
        self.ext_struct(ExtType::SecCtx, &w, &[ctx])
    }

    /// Appends `SADB_X_EXT_POLICY` with its requests.
    pub fn policy(&mut self, p: &crate::policy::Policy) -> Result<&mut Self, BuildError> {
        let total = p.buffer_len();
        let mut err = None;
        self.extension_with(ExtType::Policy, total, |region| {
            if let Err(e) = p.emit_body(region) {
                err = Some(e);
            }
        })?;
        match err {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    /// Appends any owned extension.
    pub fn extension(&mut self, e: &crate::repr::Extension) -> Result<&mut Self, BuildError> {
        e.emit(self)?;
        Ok(self)
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written (never true: the header is written first).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Patches `sadb_msg_len` and returns the finished message.
    pub fn finish(self) -> Result<&'b [u8], BuildError> {
        let words = (self.len / WORD) as u16; // at most MAX_MESSAGE_LEN / 8 = u16::MAX
        let (start, len) = (self.start, self.len);
        let msg: &'b mut [u8] = match self.out {
            Out::Slice(buf) => &mut buf[..len],
            Out::Vec(v) => &mut v[start..start + len],
        };
        msg[4..6].copy_from_slice(&words.to_ne_bytes());
        Ok(msg)
    }
}

/// Writes a Linux sockaddr for `addr` into `out` (at least 28 bytes) and returns its
/// length: 16 for IPv4, 28 for IPv6.
pub(crate) fn write_sockaddr(addr: &SocketAddr, out: &mut [u8]) -> usize {
    match addr {
        SocketAddr::V4(a) => {
            let s = SockaddrIn {
                family: U16::new(AF_INET),
                port: BeU16::new(a.port()),
                addr: a.ip().octets(),
                zero: [0; 8],
            };
            if let Some(dst) = out.get_mut(..SockaddrIn::SIZE) {
                dst.copy_from_slice(s.as_bytes());
            }
            SockaddrIn::SIZE
        }
        SocketAddr::V6(a) => {
            let s = SockaddrIn6 {
                family: U16::new(AF_INET6),
                port: BeU16::new(a.port()),
                flowinfo: BeU32::new(a.flowinfo()),
                addr: a.ip().octets(),
                scope_id: U32::new(a.scope_id()),
            };
            if let Some(dst) = out.get_mut(..SockaddrIn6::SIZE) {
                dst.copy_from_slice(s.as_bytes());
            }
            SockaddrIn6::SIZE
        }
    }
}
