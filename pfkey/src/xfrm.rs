//! The few `linux/xfrm.h` structures that per-socket policy needs.
//!
//! `setsockopt(IP_XFRM_POLICY / IPV6_XFRM_POLICY)` takes a `struct
//! xfrm_userpolicy_info` followed by `struct xfrm_user_tmpl`s (net/xfrm/xfrm_user.c
//! `xfrm_compile_policy`). Unlike PF_KEY these structures have C alignment: the
//! layouts below reproduce the x86-64 (and every LP64) padding explicitly, and the
//! sizes are checked at compile time.
#![forbid(unsafe_code)]

use crate::wire::{BeU16, BeU32, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// `XFRM_POLICY_IN`: direction value in `xfrm_userpolicy_info.dir`.
pub const XFRM_POLICY_IN: u8 = 0;
/// `XFRM_POLICY_OUT`.
pub const XFRM_POLICY_OUT: u8 = 1;
/// `XFRM_POLICY_ALLOW`: `action` value.
pub const XFRM_POLICY_ALLOW: u8 = 0;
/// `XFRM_POLICY_BLOCK`: `action` value.
pub const XFRM_POLICY_BLOCK: u8 = 1;
/// `XFRM_MODE_TRANSPORT` (note: xfrm numbers modes differently from `IPSEC_MODE_*`).
pub const XFRM_MODE_TRANSPORT: u8 = 0;
/// `XFRM_MODE_TUNNEL`.
pub const XFRM_MODE_TUNNEL: u8 = 1;
/// `XFRM_SHARE_ANY`.
pub const XFRM_SHARE_ANY: u8 = 0;
/// `XFRM_SHARE_UNIQUE`.
pub const XFRM_SHARE_UNIQUE: u8 = 3;
/// `XFRM_INF`: "no limit" in `xfrm_lifetime_cfg`.
pub const XFRM_INF: u64 = u64::MAX;

/// `struct xfrm_selector` (56 bytes).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct XfrmSelector {
    /// `daddr` (`xfrm_address_t`, 16 bytes, IPv4 in the first 4).
    pub daddr: [u8; 16],
    /// `saddr`.
    pub saddr: [u8; 16],
    /// `dport`, network order.
    pub dport: BeU16,
    /// `dport_mask`.
    pub dport_mask: BeU16,
    /// `sport`.
    pub sport: BeU16,
    /// `sport_mask`.
    pub sport_mask: BeU16,
    /// `family`.
    pub family: U16,
    /// `prefixlen_d`.
    pub prefixlen_d: u8,
    /// `prefixlen_s`.
    pub prefixlen_s: u8,
    /// `proto`.
    pub proto: u8,
    /// C padding before `ifindex`.
    pub pad: [u8; 3],
    /// `ifindex`.
    pub ifindex: U32,
    /// `user`.
    pub user: U32,
}

/// `struct xfrm_lifetime_cfg` (64 bytes).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct XfrmLifetimeCfg {
    /// `soft_byte_limit`.
    pub soft_byte_limit: U64,
    /// `hard_byte_limit`.
    pub hard_byte_limit: U64,
    /// `soft_packet_limit`.
    pub soft_packet_limit: U64,
    /// `hard_packet_limit`.
    pub hard_packet_limit: U64,
    /// `soft_add_expires_seconds`.
    pub soft_add_expires_seconds: U64,
    /// `hard_add_expires_seconds`.
    pub hard_add_expires_seconds: U64,
    /// `soft_use_expires_seconds`.
    pub soft_use_expires_seconds: U64,
    /// `hard_use_expires_seconds`.
    pub hard_use_expires_seconds: U64,
}

/// `struct xfrm_lifetime_cur` (32 bytes).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct XfrmLifetimeCur {
    /// `bytes`.
    pub bytes: U64,
    /// `packets`.
    pub packets: U64,
    /// `add_time`.
    pub add_time: U64,
    /// `use_time`.
    pub use_time: U64,
}

/// `struct xfrm_userpolicy_info` (168 bytes on LP64: 164 plus tail padding).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct XfrmUserpolicyInfo {
    /// `sel`.
    pub sel: XfrmSelector,
    /// `lft`.
    pub lft: XfrmLifetimeCfg,
    /// `curlft`.
    pub curlft: XfrmLifetimeCur,
    /// `priority`.
    pub priority: U32,
    /// `index`.
    pub index: U32,
    /// `dir`: [`XFRM_POLICY_IN`] or [`XFRM_POLICY_OUT`] for sockets.
    pub dir: u8,
    /// `action`: [`XFRM_POLICY_ALLOW`] or [`XFRM_POLICY_BLOCK`].
    pub action: u8,
    /// `flags`.
    pub flags: u8,
    /// `share`.
    pub share: u8,
    /// C tail padding to 8-byte alignment.
    pub pad: [u8; 4],
}

/// `struct xfrm_user_tmpl` (64 bytes).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct XfrmUserTmpl {
    /// `id.daddr`: tunnel destination (zero in transport mode).
    pub daddr: [u8; 16],
    /// `id.spi`: 0 (any).
    pub spi: BeU32,
    /// `id.proto`: 50, 51 or 108.
    pub proto: u8,
    /// C padding in `struct xfrm_id`.
    pub pad1: [u8; 3],
    /// `family`.
    pub family: U16,
    /// C padding before `saddr`.
    pub pad2: [u8; 2],
    /// `saddr`: tunnel source.
    pub saddr: [u8; 16],
    /// `reqid`.
    pub reqid: U32,
    /// `mode`: [`XFRM_MODE_TRANSPORT`] or [`XFRM_MODE_TUNNEL`].
    pub mode: u8,
    /// `share`.
    pub share: u8,
    /// `optional`: 1 for level `use`.
    pub optional: u8,
    /// C padding before `aalgos`.
    pub pad3: u8,
    /// `aalgos`: bit n allows authentication algorithm id n.
    pub aalgos: U32,
    /// `ealgos`: bit n allows encryption algorithm id n.
    pub ealgos: U32,
    /// `calgos`: bit n allows compression algorithm id n.
    pub calgos: U32,
}

const _: () = assert!(core::mem::size_of::<XfrmSelector>() == 56);
const _: () = assert!(core::mem::size_of::<XfrmLifetimeCfg>() == 64);
const _: () = assert!(core::mem::size_of::<XfrmLifetimeCur>() == 32);
const _: () = assert!(core::mem::size_of::<XfrmUserpolicyInfo>() == 168);
const _: () = assert!(core::mem::size_of::<XfrmUserTmpl>() == 64);
