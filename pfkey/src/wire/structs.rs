//! Fixed-layout PF_KEY structures, one per `struct sadb_*` in `linux/pfkeyv2.h`.
//!
//! Every structure is `#[repr(C)]` with only alignment-1 fields, so
//! `size_of::<T>()` equals the C header's `sizeof` (checked at compile time below)
//! and a `&T` can be taken at any offset of a received buffer without copying.

use super::{BeU16, BeU32, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

macro_rules! wire_struct {
    ($(#[$m:meta])* pub struct $name:ident = $size:literal { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
        #[repr(C)]
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
        }
        const _: () = assert!(core::mem::size_of::<$name>() == $size);
        impl $name {
            /// `sizeof` of the C structure, in bytes.
            pub const SIZE: usize = $size;
        }
    };
}

wire_struct! {
    /// `struct sadb_msg`: the base header of every message (RFC 2367 §2.1).
    ///
    /// ```text
    /// | version | type | errno | satype | len (words) | reserved | seq | pid |
    /// ```
    pub struct SadbMsg = 16 {
        /// `sadb_msg_version`: always [`super::PF_KEY_V2`].
        pub version: u8,
        /// `sadb_msg_type`: see [`super::MsgType`].
        pub msg_type: u8,
        /// `sadb_msg_errno`: 0 in requests; the kernel's errno in error replies.
        pub errno: u8,
        /// `sadb_msg_satype`: see [`super::SaType`].
        pub satype: u8,
        /// `sadb_msg_len`: whole message length in 64-bit words.
        pub len: U16,
        /// `sadb_msg_reserved`: 0 on send; Linux puts the policy refcount here in SPD replies.
        pub reserved: U16,
        /// `sadb_msg_seq`: chosen by the sender, echoed in replies.
        pub seq: U32,
        /// `sadb_msg_pid`: sender's pid (0 for kernel-originated messages), echoed in replies.
        pub pid: U32,
    }
}

wire_struct! {
    /// `struct sadb_ext`: the `{len, type}` header that starts every extension (RFC 2367 §2.2).
    pub struct SadbExt = 4 {
        /// `sadb_ext_len`: extension length in 64-bit words, header included.
        pub len: U16,
        /// `sadb_ext_type`: see [`super::ExtType`].
        pub ext_type: U16,
    }
}

wire_struct! {
    /// `struct sadb_sa` (RFC 2367 §2.3.1).
    pub struct SadbSa = 16 {
        /// `sadb_sa_len`.
        pub len: U16,
        /// `sadb_sa_exttype`.
        pub ext_type: U16,
        /// `sadb_sa_spi`: network byte order; for IPComp the CPI as `htonl(cpi)`.
        pub spi: BeU32,
        /// `sadb_sa_replay`: replay window in packets (Linux caps it at 32).
        pub replay: u8,
        /// `sadb_sa_state`: see [`super::SaState`]; ignored on input.
        pub state: u8,
        /// `sadb_sa_auth`: authentication algorithm id.
        pub auth: u8,
        /// `sadb_sa_encrypt`: encryption algorithm id (compression id for IPComp).
        pub encrypt: u8,
        /// `sadb_sa_flags`: `SADB_SAFLAGS_*`.
        pub flags: U32,
    }
}

wire_struct! {
    /// `struct sadb_lifetime` (RFC 2367 §2.3.2): CURRENT, HARD or SOFT.
    pub struct SadbLifetime = 32 {
        /// `sadb_lifetime_len`.
        pub len: U16,
        /// `sadb_lifetime_exttype`.
        pub ext_type: U16,
        /// `sadb_lifetime_allocations`: packets on Linux (0 = unlimited).
        pub allocations: U32,
        /// `sadb_lifetime_bytes`.
        pub bytes: U64,
        /// `sadb_lifetime_addtime`: seconds after creation (CURRENT: creation epoch).
        pub addtime: U64,
        /// `sadb_lifetime_usetime`: seconds after first use (CURRENT: first-use epoch).
        pub usetime: U64,
    }
}

wire_struct! {
    /// `struct sadb_address` (RFC 2367 §2.3.3), followed by a `sockaddr`.
    pub struct SadbAddress = 8 {
        /// `sadb_address_len`: 3 words for IPv4, 5 for IPv6 on Linux.
        pub len: U16,
        /// `sadb_address_exttype`.
        pub ext_type: U16,
        /// `sadb_address_proto`: upper-layer protocol, 255 = any.
        pub proto: u8,
        /// `sadb_address_prefixlen`.
        pub prefixlen: u8,
        /// `sadb_address_reserved`.
        pub reserved: U16,
    }
}

wire_struct! {
    /// `struct sockaddr_in` as Linux lays it out (no BSD `sin_len`).
    pub struct SockaddrIn = 16 {
        /// `sin_family`: `AF_INET`, host order.
        pub family: U16,
        /// `sin_port`: network order.
        pub port: BeU16,
        /// `sin_addr`: network order.
        pub addr: [u8; 4],
        /// `sin_zero`.
        pub zero: [u8; 8],
    }
}

wire_struct! {
    /// `struct sockaddr_in6` (RFC 3493 §3.3) as Linux lays it out.
    pub struct SockaddrIn6 = 28 {
        /// `sin6_family`: `AF_INET6`, host order.
        pub family: U16,
        /// `sin6_port`: network order.
        pub port: BeU16,
        /// `sin6_flowinfo`: network order.
        pub flowinfo: BeU32,
        /// `sin6_addr`.
        pub addr: [u8; 16],
        /// `sin6_scope_id`: host order.
        pub scope_id: U32,
    }
}

wire_struct! {
    /// `struct sadb_key` (RFC 2367 §2.3.4), followed by the key padded to 64 bits.
    pub struct SadbKey = 8 {
        /// `sadb_key_len`.
        pub len: U16,
        /// `sadb_key_exttype`.
        pub ext_type: U16,
        /// `sadb_key_bits`: key length in bits.
        pub bits: U16,
        /// `sadb_key_reserved`.
        pub reserved: U16,
    }
}

wire_struct! {
    /// `struct sadb_ident` (RFC 2367 §2.3.5), followed by a NUL-terminated string.
    pub struct SadbIdent = 16 {
        /// `sadb_ident_len`.
        pub len: U16,
        /// `sadb_ident_exttype`.
        pub ext_type: U16,
        /// `sadb_ident_type`: `SADB_IDENTTYPE_*`.
        pub ident_type: U16,
        /// `sadb_ident_reserved`.
        pub reserved: U16,
        /// `sadb_ident_id`.
        pub id: U64,
    }
}

wire_struct! {
    /// `struct sadb_sens` (RFC 2367 §2.3.6), followed by two bitmaps.
    pub struct SadbSens = 16 {
        /// `sadb_sens_len`.
        pub len: U16,
        /// `sadb_sens_exttype`.
        pub ext_type: U16,
        /// `sadb_sens_dpd`.
        pub dpd: U32,
        /// `sadb_sens_sens_level`.
        pub sens_level: u8,
        /// `sadb_sens_sens_len`: sensitivity bitmap length in words.
        pub sens_len: u8,
        /// `sadb_sens_integ_level`.
        pub integ_level: u8,
        /// `sadb_sens_integ_len`: integrity bitmap length in words.
        pub integ_len: u8,
        /// `sadb_sens_reserved`.
        pub reserved: U32,
    }
}

wire_struct! {
    /// `struct sadb_prop` (RFC 2367 §2.3.7), followed by [`SadbComb`]s.
    pub struct SadbProp = 8 {
        /// `sadb_prop_len`.
        pub len: U16,
        /// `sadb_prop_exttype`.
        pub ext_type: U16,
        /// `sadb_prop_replay`.
        pub replay: u8,
        /// `sadb_prop_reserved`.
        pub reserved: [u8; 3],
    }
}

wire_struct! {
    /// `struct sadb_comb` (RFC 2367 §2.3.7): one acceptable algorithm combination.
    pub struct SadbComb = 72 {
        /// `sadb_comb_auth`.
        pub auth: u8,
        /// `sadb_comb_encrypt`.
        pub encrypt: u8,
        /// `sadb_comb_flags`.
        pub flags: U16,
        /// `sadb_comb_auth_minbits`.
        pub auth_minbits: U16,
        /// `sadb_comb_auth_maxbits`.
        pub auth_maxbits: U16,
        /// `sadb_comb_encrypt_minbits`.
        pub encrypt_minbits: U16,
        /// `sadb_comb_encrypt_maxbits`.
        pub encrypt_maxbits: U16,
        /// `sadb_comb_reserved`.
        pub reserved: U32,
        /// `sadb_comb_soft_allocations`.
        pub soft_allocations: U32,
        /// `sadb_comb_hard_allocations`.
        pub hard_allocations: U32,
        /// `sadb_comb_soft_bytes`.
        pub soft_bytes: U64,
        /// `sadb_comb_hard_bytes`.
        pub hard_bytes: U64,
        /// `sadb_comb_soft_addtime`.
        pub soft_addtime: U64,
        /// `sadb_comb_hard_addtime`.
        pub hard_addtime: U64,
        /// `sadb_comb_soft_usetime`.
        pub soft_usetime: U64,
        /// `sadb_comb_hard_usetime`.
        pub hard_usetime: U64,
    }
}

wire_struct! {
    /// `struct sadb_supported` (RFC 2367 §2.3.8), followed by [`SadbAlg`]s.
    pub struct SadbSupported = 8 {
        /// `sadb_supported_len`.
        pub len: U16,
        /// `sadb_supported_exttype`.
        pub ext_type: U16,
        /// `sadb_supported_reserved`.
        pub reserved: U32,
    }
}

wire_struct! {
    /// `struct sadb_alg` (RFC 2367 §2.3.8): one supported algorithm.
    pub struct SadbAlg = 8 {
        /// `sadb_alg_id`.
        pub id: u8,
        /// `sadb_alg_ivlen`: not reliable on Linux (AES-CBC reports 8).
        pub ivlen: u8,
        /// `sadb_alg_minbits`.
        pub minbits: U16,
        /// `sadb_alg_maxbits`.
        pub maxbits: U16,
        /// `sadb_alg_reserved`.
        pub reserved: U16,
    }
}

wire_struct! {
    /// `struct sadb_spirange` (RFC 2367 §2.3.9). The bounds are in **host** order.
    pub struct SadbSpirange = 16 {
        /// `sadb_spirange_len`.
        pub len: U16,
        /// `sadb_spirange_exttype`.
        pub ext_type: U16,
        /// `sadb_spirange_min`.
        pub min: U32,
        /// `sadb_spirange_max`.
        pub max: U32,
        /// `sadb_spirange_reserved`.
        pub reserved: U32,
    }
}

wire_struct! {
    /// `struct sadb_x_kmprivate`: opaque key manager data (ignored by Linux).
    pub struct SadbXKmprivate = 8 {
        /// `sadb_x_kmprivate_len`.
        pub len: U16,
        /// `sadb_x_kmprivate_exttype`.
        pub ext_type: U16,
        /// `sadb_x_kmprivate_reserved`.
        pub reserved: U32,
    }
}

wire_struct! {
    /// `struct sadb_x_sa2`: mode and reqid of an SA (KAME).
    pub struct SadbXSa2 = 16 {
        /// `sadb_x_sa2_len`.
        pub len: U16,
        /// `sadb_x_sa2_exttype`.
        pub ext_type: U16,
        /// `sadb_x_sa2_mode`: see [`super::Mode`].
        pub mode: u8,
        /// `sadb_x_sa2_reserved1`.
        pub reserved1: u8,
        /// `sadb_x_sa2_reserved2`.
        pub reserved2: U16,
        /// `sadb_x_sa2_sequence`: ignored by Linux.
        pub sequence: U32,
        /// `sadb_x_sa2_reqid`.
        pub reqid: U32,
    }
}

wire_struct! {
    /// `struct sadb_x_policy`: a security policy, followed by [`SadbXIpsecrequest`]s.
    pub struct SadbXPolicy = 16 {
        /// `sadb_x_policy_len`: in 64-bit words, like every extension.
        pub len: U16,
        /// `sadb_x_policy_exttype`.
        pub ext_type: U16,
        /// `sadb_x_policy_type`: see [`super::PolicyType`].
        pub policy_type: U16,
        /// `sadb_x_policy_dir`: see [`super::Direction`].
        pub dir: u8,
        /// `sadb_x_policy_reserved`.
        pub reserved: u8,
        /// `sadb_x_policy_id`: kernel policy index; `id & 7` is the direction.
        pub id: U32,
        /// `sadb_x_policy_priority`: lower wins.
        pub priority: U32,
    }
}

wire_struct! {
    /// `struct sadb_x_ipsecrequest`: one template of a policy. Its length is in
    /// **bytes**; in tunnel mode two sockaddrs (source, destination) follow.
    pub struct SadbXIpsecrequest = 16 {
        /// `sadb_x_ipsecrequest_len`: bytes, header included.
        pub len: U16,
        /// `sadb_x_ipsecrequest_proto`: IP protocol (50 ESP, 51 AH, 108 IPComp).
        pub proto: U16,
        /// `sadb_x_ipsecrequest_mode`: see [`super::Mode`].
        pub mode: u8,
        /// `sadb_x_ipsecrequest_level`: see [`super::Level`].
        pub level: u8,
        /// `sadb_x_ipsecrequest_reserved1`.
        pub reserved1: U16,
        /// `sadb_x_ipsecrequest_reqid`.
        pub reqid: U32,
        /// `sadb_x_ipsecrequest_reserved2`.
        pub reserved2: U32,
    }
}

wire_struct! {
    /// `struct sadb_x_nat_t_type`: UDP encapsulation type.
    pub struct SadbXNatTType = 8 {
        /// `sadb_x_nat_t_type_len`.
        pub len: U16,
        /// `sadb_x_nat_t_type_exttype`.
        pub ext_type: U16,
        /// `sadb_x_nat_t_type_type`: [`super::UDP_ENCAP_ESPINUDP`].
        pub nat_t_type: u8,
        /// `sadb_x_nat_t_type_reserved`.
        pub reserved: [u8; 3],
    }
}

wire_struct! {
    /// `struct sadb_x_nat_t_port`: a UDP encapsulation port.
    pub struct SadbXNatTPort = 8 {
        /// `sadb_x_nat_t_port_len`.
        pub len: U16,
        /// `sadb_x_nat_t_port_exttype`.
        pub ext_type: U16,
        /// `sadb_x_nat_t_port_port`: network order.
        pub port: BeU16,
        /// `sadb_x_nat_t_port_reserved`.
        pub reserved: U16,
    }
}

wire_struct! {
    /// `struct sadb_x_sec_ctx`: an LSM security context, followed by the context string.
    /// Note the field order: algorithm before DOI.
    pub struct SadbXSecCtx = 8 {
        /// `sadb_x_sec_len`.
        pub len: U16,
        /// `sadb_x_sec_exttype`.
        pub ext_type: U16,
        /// `sadb_x_ctx_alg`.
        pub alg: u8,
        /// `sadb_x_ctx_doi`.
        pub doi: u8,
        /// `sadb_x_ctx_len`: context length in bytes.
        pub ctx_len: U16,
    }
}

wire_struct! {
    /// `struct sadb_x_kmaddress`: local and remote key manager addresses (MIGRATE).
    pub struct SadbXKmaddress = 8 {
        /// `sadb_x_kmaddress_len`.
        pub len: U16,
        /// `sadb_x_kmaddress_exttype`.
        pub ext_type: U16,
        /// `sadb_x_kmaddress_reserved`.
        pub reserved: U32,
    }
}

wire_struct! {
    /// `struct sadb_x_filter`: restricts a DUMP to address prefixes.
    pub struct SadbXFilter = 40 {
        /// `sadb_x_filter_len`.
        pub len: U16,
        /// `sadb_x_filter_exttype`.
        pub ext_type: U16,
        /// `sadb_x_filter_saddr`: raw address bytes (IPv4 in the first 4).
        pub saddr: [u8; 16],
        /// `sadb_x_filter_daddr`: raw address bytes.
        pub daddr: [u8; 16],
        /// `sadb_x_filter_family`: `AF_INET` or `AF_INET6`.
        pub family: U16,
        /// `sadb_x_filter_splen`: source prefix length.
        pub splen: u8,
        /// `sadb_x_filter_dplen`: destination prefix length.
        pub dplen: u8,
    }
}
