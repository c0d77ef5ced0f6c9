//! Typed enumerations for the PF_KEY fields that carry a closed set of values.
//!
//! Each enumeration keeps values it does not know in an `Unknown` variant, so a
//! message from a newer kernel still parses and is re-emitted byte for byte
//! (the smoltcp `enum_with_unknown!` pattern).

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident($ty:ty) {
            $( $(#[$vmeta:meta])* $var:ident = $val:literal => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $var, )*
            /// A value this crate does not know; kept so the message round-trips.
            Unknown($ty),
        }

        impl $name {
            /// Every named variant, in numeric order.
            pub const ALL: &'static [$name] = &[$($name::$var),*];

            /// The numeric value on the wire.
            #[inline]
            pub const fn value(self) -> $ty {
                match self {
                    $( $name::$var => $val, )*
                    $name::Unknown(v) => v,
                }
            }

            /// The variant for a wire value (never fails: unknown values are kept).
            #[inline]
            pub const fn from_value(v: $ty) -> Self {
                match v {
                    $( $val => $name::$var, )*
                    other => $name::Unknown(other),
                }
            }

            /// The name used in text output, or `None` for an unknown value.
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $( $name::$var => Some($text), )*
                    $name::Unknown(_) => None,
                }
            }

            /// Whether this is a value the crate knows.
            pub const fn is_known(self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

        impl From<$ty> for $name {
            #[inline]
            fn from(v: $ty) -> Self {
                Self::from_value(v)
            }
        }

        impl From<$name> for $ty {
            #[inline]
            fn from(v: $name) -> $ty {
                v.value()
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "unknown({})", self.value()),
                }
            }
        }
    };
}

wire_enum! {
    /// `sadb_msg_type` (RFC 2367 §2.3.1 for 1–11; KAME/Linux `SADB_X_*` for 11–24).
    pub enum MsgType(u8) {
        /// `SADB_RESERVED`: never valid on the wire.
        Reserved = 0 => "RESERVED",
        /// `SADB_GETSPI`: allocate an SPI, creating a larval SA (§3.1.1).
        GetSpi = 1 => "GETSPI",
        /// `SADB_UPDATE`: complete a larval SA or change a mature one (§3.1.2).
        Update = 2 => "UPDATE",
        /// `SADB_ADD`: add a mature SA (§3.1.3).
        Add = 3 => "ADD",
        /// `SADB_DELETE`: delete an SA (§3.1.4).
        Delete = 4 => "DELETE",
        /// `SADB_GET`: read one SA (§3.1.5).
        Get = 5 => "GET",
        /// `SADB_ACQUIRE`: the kernel asks a key manager for an SA (§3.1.6).
        Acquire = 6 => "ACQUIRE",
        /// `SADB_REGISTER`: register as a key manager, learn the algorithms (§3.1.7).
        Register = 7 => "REGISTER",
        /// `SADB_EXPIRE`: a soft or hard lifetime fired (§3.1.8).
        Expire = 8 => "EXPIRE",
        /// `SADB_FLUSH`: delete every SA of a type (§3.1.9).
        Flush = 9 => "FLUSH",
        /// `SADB_DUMP`: list every SA (§3.1.10).
        Dump = 10 => "DUMP",
        /// `SADB_X_PROMISC`: receive a copy of every message.
        XPromisc = 11 => "X_PROMISC",
        /// `SADB_X_PCHANGE`: policy change notification (not sent by Linux).
        XPchange = 12 => "X_PCHANGE",
        /// `SADB_X_SPDUPDATE`: add or replace a policy.
        XSpdUpdate = 13 => "X_SPDUPDATE",
        /// `SADB_X_SPDADD`: add a policy.
        XSpdAdd = 14 => "X_SPDADD",
        /// `SADB_X_SPDDELETE`: delete a policy by selector and direction.
        XSpdDelete = 15 => "X_SPDDELETE",
        /// `SADB_X_SPDGET`: read a policy by id.
        XSpdGet = 16 => "X_SPDGET",
        /// `SADB_X_SPDACQUIRE`: not used by Linux.
        XSpdAcquire = 17 => "X_SPDACQUIRE",
        /// `SADB_X_SPDDUMP`: list every policy.
        XSpdDump = 18 => "X_SPDDUMP",
        /// `SADB_X_SPDFLUSH`: delete every global policy.
        XSpdFlush = 19 => "X_SPDFLUSH",
        /// `SADB_X_SPDSETIDX`: add a policy (answered as `X_SPDADD`).
        XSpdSetIdx = 20 => "X_SPDSETIDX",
        /// `SADB_X_SPDEXPIRE`: never sent by Linux.
        XSpdExpire = 21 => "X_SPDEXPIRE",
        /// `SADB_X_SPDDELETE2`: delete a policy by id.
        XSpdDelete2 = 22 => "X_SPDDELETE2",
        /// `SADB_X_NAT_T_NEW_MAPPING`: a NAT-T peer changed address or port.
        XNatTNewMapping = 23 => "X_NAT_T_NEW_MAPPING",
        /// `SADB_X_MIGRATE`: move SAs and policies to new endpoints.
        XMigrate = 24 => "X_MIGRATE",
    }
}

wire_enum! {
    /// `sadb_msg_satype` (RFC 2367 §2.3.1, Linux `SADB_SATYPE_*`).
    pub enum SaType(u8) {
        /// `SADB_SATYPE_UNSPEC`: every type (FLUSH, DUMP) or none (SPD messages).
        Unspec = 0 => "unspec",
        /// `SADB_SATYPE_AH`: IP Authentication Header (RFC 4302).
        Ah = 2 => "ah",
        /// `SADB_SATYPE_ESP`: Encapsulating Security Payload (RFC 4303).
        Esp = 3 => "esp",
        /// `SADB_SATYPE_RSVP`: not supported by Linux.
        Rsvp = 5 => "rsvp",
        /// `SADB_SATYPE_OSPFV2`: not supported by Linux.
        OspfV2 = 6 => "ospfv2",
        /// `SADB_SATYPE_RIPV2`: not supported by Linux.
        RipV2 = 7 => "ripv2",
        /// `SADB_SATYPE_MIP`: not supported by Linux.
        Mip = 8 => "mip",
        /// `SADB_X_SATYPE_IPCOMP`: IP Payload Compression (RFC 3173).
        IpComp = 9 => "ipcomp",
    }
}

impl SaType {
    /// The IP protocol number of this SA type (`IPPROTO_ESP`, …), as used in policy
    /// requests and by xfrm; `None` for types Linux cannot key.
    pub const fn ip_proto(self) -> Option<u16> {
        match self {
            SaType::Ah => Some(super::IPPROTO_AH),
            SaType::Esp => Some(super::IPPROTO_ESP),
            SaType::IpComp => Some(super::IPPROTO_COMP),
            _ => None,
        }
    }

    /// The SA type for an IP protocol number (af_key `pfkey_proto2satype`).
    pub const fn from_ip_proto(proto: u16) -> Option<SaType> {
        match proto {
            super::IPPROTO_AH => Some(SaType::Ah),
            super::IPPROTO_ESP => Some(SaType::Esp),
            super::IPPROTO_COMP => Some(SaType::IpComp),
            _ => None,
        }
    }
}

wire_enum! {
    /// `sadb_ext_type` (RFC 2367 §2.3 for 1–16; `SADB_X_EXT_*` for 17–26).
    pub enum ExtType(u16) {
        /// `SADB_EXT_RESERVED`: type 0, never valid.
        Reserved = 0 => "RESERVED",
        /// `SADB_EXT_SA`: the association (`sadb_sa`).
        Sa = 1 => "SA",
        /// `SADB_EXT_LIFETIME_CURRENT`: counters so far.
        LifetimeCurrent = 2 => "LIFETIME_CURRENT",
        /// `SADB_EXT_LIFETIME_HARD`: limits that delete the SA.
        LifetimeHard = 3 => "LIFETIME_HARD",
        /// `SADB_EXT_LIFETIME_SOFT`: limits that trigger a soft EXPIRE.
        LifetimeSoft = 4 => "LIFETIME_SOFT",
        /// `SADB_EXT_ADDRESS_SRC`: source address (or selector prefix).
        AddressSrc = 5 => "ADDRESS_SRC",
        /// `SADB_EXT_ADDRESS_DST`: destination address (or selector prefix).
        AddressDst = 6 => "ADDRESS_DST",
        /// `SADB_EXT_ADDRESS_PROXY`: inner source selector on Linux.
        AddressProxy = 7 => "ADDRESS_PROXY",
        /// `SADB_EXT_KEY_AUTH`: authentication key.
        KeyAuth = 8 => "KEY_AUTH",
        /// `SADB_EXT_KEY_ENCRYPT`: encryption key.
        KeyEncrypt = 9 => "KEY_ENCRYPT",
        /// `SADB_EXT_IDENTITY_SRC`: ignored by Linux.
        IdentitySrc = 10 => "IDENTITY_SRC",
        /// `SADB_EXT_IDENTITY_DST`: ignored by Linux.
        IdentityDst = 11 => "IDENTITY_DST",
        /// `SADB_EXT_SENSITIVITY`: ignored by Linux.
        Sensitivity = 12 => "SENSITIVITY",
        /// `SADB_EXT_PROPOSAL`: algorithm combinations (ACQUIRE).
        Proposal = 13 => "PROPOSAL",
        /// `SADB_EXT_SUPPORTED_AUTH`: authentication algorithms (REGISTER reply).
        SupportedAuth = 14 => "SUPPORTED_AUTH",
        /// `SADB_EXT_SUPPORTED_ENCRYPT`: encryption algorithms (REGISTER reply).
        SupportedEncrypt = 15 => "SUPPORTED_ENCRYPT",
        /// `SADB_EXT_SPIRANGE`: SPI range for GETSPI.
        SpiRange = 16 => "SPIRANGE",
        /// `SADB_X_EXT_KMPRIVATE`: key manager private data, ignored.
        KmPrivate = 17 => "X_KMPRIVATE",
        /// `SADB_X_EXT_POLICY`: a security policy with its IPsec requests.
        Policy = 18 => "X_POLICY",
        /// `SADB_X_EXT_SA2`: mode and reqid of an SA.
        Sa2 = 19 => "X_SA2",
        /// `SADB_X_EXT_NAT_T_TYPE`: UDP encapsulation type.
        NatTType = 20 => "X_NAT_T_TYPE",
        /// `SADB_X_EXT_NAT_T_SPORT`: UDP encapsulation source port.
        NatTSport = 21 => "X_NAT_T_SPORT",
        /// `SADB_X_EXT_NAT_T_DPORT`: UDP encapsulation destination port.
        NatTDport = 22 => "X_NAT_T_DPORT",
        /// `SADB_X_EXT_NAT_T_OA`: original address (validated, then dropped by Linux).
        NatTOa = 23 => "X_NAT_T_OA",
        /// `SADB_X_EXT_SEC_CTX`: LSM security context.
        SecCtx = 24 => "X_SEC_CTX",
        /// `SADB_X_EXT_KMADDRESS`: key manager addresses for MIGRATE.
        KmAddress = 25 => "X_KMADDRESS",
        /// `SADB_X_EXT_FILTER`: address filter for DUMP.
        Filter = 26 => "X_FILTER",
    }
}

wire_enum! {
    /// `sadb_sa_state` (RFC 2367 §2.3.1).
    pub enum SaState(u8) {
        /// `SADB_SASTATE_LARVAL`: allocated by GETSPI or ACQUIRE, not yet keyed.
        Larval = 0 => "larval",
        /// `SADB_SASTATE_MATURE`: usable.
        Mature = 1 => "mature",
        /// `SADB_SASTATE_DYING`: soft lifetime expired.
        Dying = 2 => "dying",
        /// `SADB_SASTATE_DEAD`: hard lifetime expired.
        Dead = 3 => "dead",
    }
}

wire_enum! {
    /// `IPSEC_MODE_*` (`linux/ipsec.h`), carried in `sadb_x_sa2_mode` and
    /// `sadb_x_ipsecrequest_mode`.
    pub enum Mode(u8) {
        /// `IPSEC_MODE_ANY`: treated as transport by Linux.
        Any = 0 => "any",
        /// `IPSEC_MODE_TRANSPORT`.
        Transport = 1 => "transport",
        /// `IPSEC_MODE_TUNNEL`.
        Tunnel = 2 => "tunnel",
        /// `IPSEC_MODE_BEET`: bound end-to-end tunnel.
        Beet = 3 => "beet",
    }
}

wire_enum! {
    /// `IPSEC_DIR_*` (`linux/ipsec.h`), carried in `sadb_x_policy_dir`.
    pub enum Direction(u8) {
        /// `IPSEC_DIR_ANY`.
        Any = 0 => "any",
        /// `IPSEC_DIR_INBOUND`.
        In = 1 => "in",
        /// `IPSEC_DIR_OUTBOUND`.
        Out = 2 => "out",
        /// `IPSEC_DIR_FWD`: forwarded traffic (Linux).
        Fwd = 3 => "fwd",
        /// `IPSEC_DIR_MAX`: Linux reports per-socket inbound policies with this value.
        SocketIn = 4 => "socket-in",
        /// `IPSEC_DIR_INVALID`: Linux reports per-socket outbound policies with this value.
        SocketOut = 5 => "socket-out",
    }
}

wire_enum! {
    /// `IPSEC_POLICY_*` (`linux/ipsec.h`), carried in `sadb_x_policy_type`.
    pub enum PolicyType(u16) {
        /// `IPSEC_POLICY_DISCARD`: drop matching packets.
        Discard = 0 => "discard",
        /// `IPSEC_POLICY_NONE`: pass matching packets in clear.
        None = 1 => "none",
        /// `IPSEC_POLICY_IPSEC`: apply the policy's IPsec requests.
        Ipsec = 2 => "ipsec",
        /// `IPSEC_POLICY_ENTRUST`: per-socket only; Linux treats it as bypass.
        Entrust = 3 => "entrust",
        /// `IPSEC_POLICY_BYPASS`: per-socket only; pass in clear.
        Bypass = 4 => "bypass",
    }
}

wire_enum! {
    /// `IPSEC_LEVEL_*` (`linux/ipsec.h`), carried in `sadb_x_ipsecrequest_level`.
    pub enum Level(u8) {
        /// `IPSEC_LEVEL_DEFAULT`: the system default (require on Linux).
        Default = 0 => "default",
        /// `IPSEC_LEVEL_USE`: use an SA if there is one (optional template).
        Use = 1 => "use",
        /// `IPSEC_LEVEL_REQUIRE`: an SA is required; reqid forced to 0.
        Require = 2 => "require",
        /// `IPSEC_LEVEL_UNIQUE`: an SA bound to this policy's reqid is required.
        Unique = 3 => "unique",
    }
}
