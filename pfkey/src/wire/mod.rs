//! The PF_KEY v2 wire format: constants, enumerations and fixed-layout structures.
//!
//! Everything here mirrors Linux `include/uapi/linux/pfkeyv2.h` and the policy
//! enumerations of `include/uapi/linux/ipsec.h`, which extend RFC 2367 with the
//! KAME `SADB_X_*` messages and extensions.
//!
//! The structures are `#[repr(C)]` with alignment 1 ([`zerocopy::Unaligned`]) so that
//! they can be viewed in place at any offset of a received datagram. The byte order
//! of every multi-byte field is carried by its type: [`U16`], [`U32`] and [`U64`] are
//! host (native) order, [`BeU16`] and [`BeU32`] are network order. Linux puts only
//! the SPI, the NAT-T port and the sockaddr port/address/flowinfo in network order
//! (af_key.c: `sa->sadb_sa_spi`, `n_port->sadb_x_nat_t_port_port`); every length,
//! lifetime, reqid, sequence number and SPI range bound is in host order.
#![forbid(unsafe_code)]

mod consts;
mod enums;
mod structs;

pub use consts::*;
pub use enums::*;
pub use structs::*;

/// Host-order (native-endian) 16-bit field.
pub type U16 = zerocopy::byteorder::U16<zerocopy::byteorder::NativeEndian>;
/// Host-order (native-endian) 32-bit field.
pub type U32 = zerocopy::byteorder::U32<zerocopy::byteorder::NativeEndian>;
/// Host-order (native-endian) 64-bit field.
pub type U64 = zerocopy::byteorder::U64<zerocopy::byteorder::NativeEndian>;
/// Network-order (big-endian) 16-bit field.
pub type BeU16 = zerocopy::byteorder::U16<zerocopy::byteorder::NetworkEndian>;
/// Network-order (big-endian) 32-bit field.
pub type BeU32 = zerocopy::byteorder::U32<zerocopy::byteorder::NetworkEndian>;

/// Bytes in one PF_KEY length unit: every `sadb_msg_len` and `sadb_ext_len` counts
/// 64-bit words (RFC 2367 §2.1, `IPSEC_ALIGN`-free Linux variant: `sizeof(uint64_t)`).
pub const WORD: usize = 8;

/// Largest message PF_KEY can express: `sadb_msg_len` is a 16-bit count of words.
pub const MAX_MESSAGE_LEN: usize = u16::MAX as usize * WORD;

/// Rounds `n` bytes up to whole 64-bit words, in bytes (`PFKEY_ALIGN8` in af_key.c).
#[inline]
pub const fn align8(n: usize) -> usize {
    n.div_ceil(WORD) * WORD
}
