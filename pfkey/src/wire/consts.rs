//! Numeric constants from `linux/pfkeyv2.h` and `linux/ipsec.h`.
//!
//! The typed enumerations in this module's parent ([`super::MsgType`],
//! [`super::SaType`], …) are the preferred interface; these constants exist for
//! readers who come from C and for `match` arms over raw bytes.

/// `PF_KEY_V2`: the protocol number passed to `socket(PF_KEY, SOCK_RAW, 2)` and the
/// value of `sadb_msg_version` (RFC 2367 §2.3.1).
pub const PF_KEY_V2: u8 = 2;
/// `PFKEYV2_REVISION`: the RFC 2367 revision date, for information only.
pub const PFKEYV2_REVISION: u32 = 199_806;
/// `AF_KEY` / `PF_KEY`: the Linux address family number.
pub const AF_KEY: i32 = 15;
/// `AF_INET` as stored (host order) in `sa_family`.
pub const AF_INET: u16 = 2;
/// `AF_INET6` as stored (host order) in `sa_family`.
pub const AF_INET6: u16 = 10;

/// `SADB_EXT_MAX`: the highest extension type Linux knows; higher types are skipped
/// silently by af_key's `parse_exthdrs`.
pub const SADB_EXT_MAX: u16 = 26;
/// `SADB_MAX`: the highest message type Linux accepts (`SADB_X_MIGRATE`).
pub const SADB_MAX: u8 = 24;

/// `SADB_SAFLAGS_PFS` (RFC 2367 §2.3.1): perfect forward secrecy; ignored by Linux.
pub const SADB_SAFLAGS_PFS: u32 = 1;
/// `SADB_SAFLAGS_NOPMTUDISC`: Linux `XFRM_STATE_NOPMTUDISC`.
pub const SADB_SAFLAGS_NOPMTUDISC: u32 = 0x2000_0000;
/// `SADB_SAFLAGS_DECAP_DSCP`: Linux `XFRM_STATE_DECAP_DSCP`.
pub const SADB_SAFLAGS_DECAP_DSCP: u32 = 0x4000_0000;
/// `SADB_SAFLAGS_NOECN`: Linux `XFRM_STATE_NOECN`.
pub const SADB_SAFLAGS_NOECN: u32 = 0x8000_0000;

/// `SADB_IDENTTYPE_RESERVED` (RFC 2367 §2.3.5).
pub const SADB_IDENTTYPE_RESERVED: u16 = 0;
/// `SADB_IDENTTYPE_PREFIX`: an address prefix.
pub const SADB_IDENTTYPE_PREFIX: u16 = 1;
/// `SADB_IDENTTYPE_FQDN`: a fully qualified domain name.
pub const SADB_IDENTTYPE_FQDN: u16 = 2;
/// `SADB_IDENTTYPE_USERFQDN`: a user@fqdn mailbox.
pub const SADB_IDENTTYPE_USERFQDN: u16 = 3;

/// `UDP_ENCAP_ESPINUDP_NON_IKE` (`linux/udp.h`): draft-ietf-ipsec-nat-t-ike-00/01 encapsulation.
pub const UDP_ENCAP_ESPINUDP_NON_IKE: u8 = 1;
/// `UDP_ENCAP_ESPINUDP` (`linux/udp.h`): RFC 3948 ESP-in-UDP, the NAT-T type af_key accepts.
pub const UDP_ENCAP_ESPINUDP: u8 = 2;

/// `IPSEC_PORT_ANY` (`linux/ipsec.h`).
pub const IPSEC_PORT_ANY: u16 = 0;
/// `IPSEC_ULPROTO_ANY` (`linux/ipsec.h`): any upper-layer protocol in an address extension.
pub const IPSEC_ULPROTO_ANY: u8 = 255;
/// `IPSEC_PROTO_ANY` (`linux/ipsec.h`): same value as [`IPSEC_ULPROTO_ANY`].
pub const IPSEC_PROTO_ANY: u8 = 255;
/// `IPSEC_MANUAL_REQID_MAX` (`linux/ipsec.h`): reqids above this are allocated by the kernel.
pub const IPSEC_MANUAL_REQID_MAX: u32 = 0x3fff;
/// `IPSEC_REPLAYWSIZE` (`linux/ipsec.h`): Linux caps `sadb_sa_replay` at 32 packets.
pub const IPSEC_REPLAYWSIZE: u8 = 32;

/// IP protocol number of ESP (RFC 4303), used in `sadb_x_ipsecrequest_proto`.
pub const IPPROTO_ESP: u16 = 50;
/// IP protocol number of AH (RFC 4302).
pub const IPPROTO_AH: u16 = 51;
/// IP protocol number of IPComp (RFC 3173).
pub const IPPROTO_COMP: u16 = 108;
