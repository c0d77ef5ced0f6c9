//! Algorithm table: PF_KEY algorithm ids ↔ names ↔ key sizes ↔ what Linux does with them.
//!
//! The ids are the values of Linux `include/uapi/linux/pfkeyv2.h` (RFC 2367 §3.5 defines the
//! scheme, Linux adds the `SADB_X_*` private ids). Kernel names, ICV lengths and key limits come
//! from `net/xfrm/xfrm_algo.c`; "usable through PF_KEY" reflects `net/key/af_key.c`, which only
//! resolves ids in the auth, cipher and compression lists (so AEAD ids fail with `ENOSYS`).
//!
//! Names are looked up per [`AlgKind`]: `null` is both an authentication (251) and an
//! encryption (11) algorithm.
//!
//! ```
//! use pfkey::alg::{self, AlgKind};
//! let aes = alg::lookup(AlgKind::Encrypt, "rijndael-cbc").unwrap();
//! assert_eq!(aes.id, alg::SADB_X_EALG_AESCBC);
//! assert_eq!(aes.name, "aes-cbc");
//! assert!(aes.check_key_bits(256).is_ok());
//! assert_eq!(
//!     aes.check_key_bits(100).unwrap_err().to_string(),
//!     "aes-cbc takes a 128, 192 or 256-bit key, not 100 bits"
//! );
//! assert_eq!(alg::suggest(AlgKind::Encrypt, "aes-cbx"), Some("aes-cbc"));
//! ```
#![forbid(unsafe_code)]

use std::fmt;

// ---------------------------------------------------------------------------------------------
// Id constants (linux/pfkeyv2.h)
// ---------------------------------------------------------------------------------------------

/// No authentication algorithm (RFC 2367 §3.5, `linux/pfkeyv2.h`).
pub const SADB_AALG_NONE: u8 = 0;
/// HMAC-MD5-96, RFC 2403 (RFC 2367 §3.5, `linux/pfkeyv2.h`).
pub const SADB_AALG_MD5HMAC: u8 = 2;
/// HMAC-SHA1-96, RFC 2404 (RFC 2367 §3.5, `linux/pfkeyv2.h`).
pub const SADB_AALG_SHA1HMAC: u8 = 3;
/// HMAC-SHA-256 (Linux truncates to 96 bits) (`linux/pfkeyv2.h`).
pub const SADB_X_AALG_SHA2_256HMAC: u8 = 5;
/// HMAC-SHA-384-192, RFC 4868 (`linux/pfkeyv2.h`).
pub const SADB_X_AALG_SHA2_384HMAC: u8 = 6;
/// HMAC-SHA-512-256, RFC 4868 (`linux/pfkeyv2.h`).
pub const SADB_X_AALG_SHA2_512HMAC: u8 = 7;
/// HMAC-RIPEMD-160-96, RFC 2857 (`linux/pfkeyv2.h`).
pub const SADB_X_AALG_RIPEMD160HMAC: u8 = 8;
/// AES-XCBC-MAC-96, RFC 3566 (`linux/pfkeyv2.h`).
pub const SADB_X_AALG_AES_XCBC_MAC: u8 = 9;
/// HMAC-SM3 (Linux 5.17+) (`linux/pfkeyv2.h`).
pub const SADB_X_AALG_SM3_256HMAC: u8 = 10;
/// NULL authentication, KAME extension (`linux/pfkeyv2.h`).
pub const SADB_X_AALG_NULL: u8 = 251;
/// Largest authentication id af_key accepts; larger ids give `EINVAL` (`linux/pfkeyv2.h`).
pub const SADB_AALG_MAX: u8 = 251;

/// No encryption algorithm; af_key rejects ESP with it (`EINVAL`) (RFC 2367 §3.5,
/// `linux/pfkeyv2.h`).
pub const SADB_EALG_NONE: u8 = 0;
/// DES-CBC, RFC 2405 (RFC 2367 §3.5, `linux/pfkeyv2.h`).
pub const SADB_EALG_DESCBC: u8 = 2;
/// 3DES-CBC (DES-EDE3-CBC), RFC 2451 (RFC 2367 §3.5, `linux/pfkeyv2.h`).
pub const SADB_EALG_3DESCBC: u8 = 3;
/// CAST-128-CBC, RFC 2451 (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_CASTCBC: u8 = 6;
/// Blowfish-CBC, RFC 2451 (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_BLOWFISHCBC: u8 = 7;
/// NULL encryption, RFC 2410 (RFC 2367 §3.5, `linux/pfkeyv2.h`).
pub const SADB_EALG_NULL: u8 = 11;
/// AES-CBC, RFC 3602 (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_AESCBC: u8 = 12;
/// AES-CTR, RFC 3686 (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_AESCTR: u8 = 13;
/// AES-CCM with an 8-byte ICV, RFC 4309 (AEAD; not usable through af_key) (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_AES_CCM_ICV8: u8 = 14;
/// AES-CCM with a 12-byte ICV, RFC 4309 (AEAD; not usable through af_key) (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_AES_CCM_ICV12: u8 = 15;
/// AES-CCM with a 16-byte ICV, RFC 4309 (AEAD; not usable through af_key) (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_AES_CCM_ICV16: u8 = 16;
/// AES-GCM with an 8-byte ICV, RFC 4106 (AEAD; not usable through af_key) (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_AES_GCM_ICV8: u8 = 18;
/// AES-GCM with a 12-byte ICV, RFC 4106 (AEAD; not usable through af_key) (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_AES_GCM_ICV12: u8 = 19;
/// AES-GCM with a 16-byte ICV, RFC 4106 (AEAD; not usable through af_key) (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_AES_GCM_ICV16: u8 = 20;
/// Camellia-CBC, RFC 4312 (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_CAMELLIACBC: u8 = 22;
/// NULL encryption with AES-GMAC, RFC 4543 (AEAD; not usable through af_key)
/// (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_NULL_AES_GMAC: u8 = 23;
/// SM4-CBC (Linux 5.17+) (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_SM4CBC: u8 = 24;
/// Serpent-CBC, private id from draft-ietf-ipsec-ciph-aes-cbc-00 (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_SERPENTCBC: u8 = 252;
/// Twofish-CBC, private id from draft-ietf-ipsec-ciph-aes-cbc-00 (`linux/pfkeyv2.h`).
pub const SADB_X_EALG_TWOFISHCBC: u8 = 253;
/// Largest encryption id af_key accepts; larger ids give `EINVAL` (`linux/pfkeyv2.h`).
pub const SADB_EALG_MAX: u8 = 253;

/// No compression algorithm (`linux/pfkeyv2.h`).
pub const SADB_X_CALG_NONE: u8 = 0;
/// Vendor (OUI) compression, RFC 2393 (`linux/pfkeyv2.h`).
pub const SADB_X_CALG_OUI: u8 = 1;
/// DEFLATE compression, RFC 2394 (`linux/pfkeyv2.h`).
pub const SADB_X_CALG_DEFLATE: u8 = 2;
/// LZS compression, RFC 2395 (`linux/pfkeyv2.h`).
pub const SADB_X_CALG_LZS: u8 = 3;
/// LZJH (V.44) compression, RFC 3051 (`linux/pfkeyv2.h`).
pub const SADB_X_CALG_LZJH: u8 = 4;
/// Largest compression id af_key accepts; larger ids give `EINVAL` (`linux/pfkeyv2.h`).
pub const SADB_X_CALG_MAX: u8 = 4;

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/// Which id space an algorithm lives in: `sadb_sa_auth`, `sadb_sa_encrypt` (which also carries
/// the IPComp algorithm for `SADB_X_SATYPE_IPCOMP`) (RFC 2367 §2.3.1, `linux/pfkeyv2.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlgKind {
    /// Authentication (`SADB_AALG_*`, `SADB_X_AALG_*`).
    Auth,
    /// Encryption (`SADB_EALG_*`, `SADB_X_EALG_*`), including the AEAD ids.
    Encrypt,
    /// IPComp compression (`SADB_X_CALG_*`).
    Compress,
}

impl AlgKind {
    /// The three kinds, in table order.
    pub const ALL: [AlgKind; 3] = [AlgKind::Auth, AlgKind::Encrypt, AlgKind::Compress];

    /// Largest id af_key accepts for this kind; above it the kernel answers `EINVAL`
    /// (`SADB_AALG_MAX`, `SADB_EALG_MAX`, `SADB_X_CALG_MAX` in `linux/pfkeyv2.h`, checked in
    /// af_key's `pfkey_msg2xfrm_state`).
    pub const fn max_id(self) -> u8 {
        match self {
            AlgKind::Auth => SADB_AALG_MAX,
            AlgKind::Encrypt => SADB_EALG_MAX,
            AlgKind::Compress => SADB_X_CALG_MAX,
        }
    }
}

impl fmt::Display for AlgKind {
    /// "authentication", "encryption" or "compression".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AlgKind::Auth => "authentication",
            AlgKind::Encrypt => "encryption",
            AlgKind::Compress => "compression",
        })
    }
}

/// Whether Linux PF_KEY can actually install an SA with this algorithm (af_key behaviour:
/// `xfrm_{a,e,c}alg_get_byid` in `net/xfrm/xfrm_algo.c` with module probing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Usability {
    /// Works through PF_KEY on a normally configured kernel.
    Usable,
    /// The id is defined, but many kernels lack the implementation (SM3/SM4 not built on
    /// common distribution kernels; RIPEMD-160 removed from new mainline): `ENOSYS` there.
    NotBuilt,
    /// AEAD: af_key looks only in the cipher list, so the kernel answers `ENOSYS`.
    Aead,
    /// Linux defines the id but ships no implementation (OUI, LZS, LZJH): `ENOSYS`.
    NoImplementation,
}

impl Usability {
    /// A sentence explaining this state to a user (af_key / `net/xfrm/xfrm_algo.c` behaviour).
    pub const fn reason(self) -> &'static str {
        match self {
            Usability::Usable => "supported by Linux PF_KEY",
            Usability::NotBuilt => {
                "the id is defined, but many kernels do not provide this algorithm (not built, \
                 or removed upstream); where it is missing the kernel answers ENOSYS"
            }
            Usability::Aead => {
                "Linux af_key looks up only the cipher table, so AEAD algorithms are rejected \
                 with ENOSYS; use `ip xfrm` (netlink) for AES-GCM"
            }
            Usability::NoImplementation => {
                "Linux defines the id but has no implementation of this algorithm, so the \
                 kernel answers ENOSYS"
            }
        }
    }

    /// True only for [`Usability::Usable`].
    pub const fn is_usable(self) -> bool {
        matches!(self, Usability::Usable)
    }
}

impl fmt::Display for Usability {
    /// A short label: "usable", "often not built", "AEAD (not through PF_KEY)",
    /// "not implemented".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Usability::Usable => "usable",
            Usability::NotBuilt => "often not built",
            Usability::Aead => "AEAD (not through PF_KEY)",
            Usability::NoImplementation => "not implemented",
        })
    }
}

/// Key sizes (in bits, the unit of `sadb_key_bits`, RFC 2367 §2.3.4) that the kernel's crypto
/// accepts for an algorithm (`net/xfrm/xfrm_algo.c` limits, narrowed by the cipher's setkey).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyBits {
    /// No key: only 0 bits is valid (NULL algorithms, compression).
    None,
    /// Exactly one of these sizes, ascending.
    Fixed(&'static [u16]),
    /// Any size from `min` to `max` inclusive that is `min + k * step`.
    Range {
        /// Smallest size.
        min: u16,
        /// Largest size.
        max: u16,
        /// Granularity (8: whole bytes).
        step: u16,
    },
}

impl KeyBits {
    /// Whether `bits` is an accepted size.
    pub fn accepts(&self, bits: u32) -> bool {
        match *self {
            KeyBits::None => bits == 0,
            KeyBits::Fixed(sizes) => sizes.iter().any(|&s| u32::from(s) == bits),
            KeyBits::Range { min, max, step } => {
                let (min, max, step) = (u32::from(min), u32::from(max), u32::from(step.max(1)));
                bits >= min && bits <= max && (bits - min).is_multiple_of(step)
            }
        }
    }
}

impl fmt::Display for KeyBits {
    /// "128, 192 or 256 bits", "160 bits", "40 to 448 bits in steps of 8", "no key (0 bits)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KeyBits::None => f.write_str("no key (0 bits)"),
            KeyBits::Fixed(sizes) => {
                write_list(f, sizes)?;
                f.write_str(" bits")
            }
            KeyBits::Range { min, max, step } if step <= 1 => write!(f, "{min} to {max} bits"),
            KeyBits::Range { min, max, step } => {
                write!(f, "{min} to {max} bits in steps of {step}")
            }
        }
    }
}

/// One algorithm id with everything known about it on Linux (`linux/pfkeyv2.h`,
/// `net/xfrm/xfrm_algo.c`, af_key behaviour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Algorithm {
    /// Id space.
    pub kind: AlgKind,
    /// The `pfkeyv2.h` id carried in `sadb_sa_auth` / `sadb_sa_encrypt`.
    pub id: u8,
    /// Canonical name: setkey's spelling where setkey has one (`hmac-sha1`, `aes-cbc`).
    pub name: &'static str,
    /// Other accepted spellings: setkey's, iproute2/kernel crypto names and xfrm "compat"
    /// names, short forms. Matching is case-insensitive and treats `_` like `-`.
    pub aliases: &'static [&'static str],
    /// The `pfkeyv2.h` constant name, e.g. `SADB_X_EALG_AESCBC`.
    pub constant: &'static str,
    /// Crypto API name used by xfrm (`net/xfrm/xfrm_algo.c`), e.g. `cbc(aes)`; empty when the
    /// kernel has no entry (OUI).
    pub kernel_name: &'static str,
    /// Accepted key sizes.
    pub key_bits: KeyBits,
    /// ICV length Linux uses (`icv_truncbits`); `None` for plain ciphers and compression.
    pub icv_bits: Option<u16>,
    /// Whether Linux PF_KEY can install it.
    pub usability: Usability,
    /// Anything a user should know (interoperability, deprecation, key layout).
    pub note: Option<&'static str>,
}

/// Key size outside what an algorithm accepts ([`Algorithm::check_key_bits`]; sizes per
/// `net/xfrm/xfrm_algo.c` and the algorithms' RFCs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySizeError {
    /// Canonical name of the algorithm the key was meant for.
    pub algorithm: &'static str,
    /// The sizes it accepts.
    pub valid: KeyBits,
    /// The rejected size in bits.
    pub bits: u32,
}

impl fmt::Display for KeySizeError {
    /// E.g. "aes-cbc takes a 128, 192 or 256-bit key, not 100 bits".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} takes ", self.algorithm)?;
        match self.valid {
            KeyBits::None => f.write_str("no key")?,
            KeyBits::Fixed(sizes) => {
                let first = sizes.first().copied().unwrap_or(0);
                write!(f, "{} ", article(first))?;
                write_list(f, sizes)?;
                f.write_str("-bit key")?;
            }
            KeyBits::Range { .. } => write!(f, "a key of {}", self.valid)?,
        }
        let plural = if self.bits == 1 { "" } else { "s" };
        write!(f, ", not {} bit{plural}", self.bits)
    }
}

impl std::error::Error for KeySizeError {}

/// "a" or "an" before a number spoken in English ("an 8-bit", "an 80-bit", "an 11-bit").
fn article(n: u16) -> &'static str {
    let mut lead = n;
    while lead >= 1000 {
        lead /= 1000;
    }
    if lead == 8
        || (80..90).contains(&lead)
        || (800..900).contains(&lead)
        || lead == 11
        || lead == 18
    {
        "an"
    } else {
        "a"
    }
}

/// Writes "128", "128 or 256", "128, 192 or 256".
fn write_list(out: &mut dyn fmt::Write, sizes: &[u16]) -> fmt::Result {
    let n = sizes.len();
    for (i, s) in sizes.iter().enumerate() {
        if i > 0 {
            out.write_str(if i + 1 == n { " or " } else { ", " })?;
        }
        write!(out, "{s}")?;
    }
    Ok(())
}

impl Algorithm {
    /// Checks a key size in bits (`sadb_key_bits`, RFC 2367 §2.3.4) against what the kernel
    /// crypto accepts. af_key itself never checks sizes (only "non-NULL needs a key"), so a
    /// wrong size otherwise surfaces as a bare `EINVAL` from the cipher's setkey — or, for
    /// HMACs, is silently accepted: we validate HMAC keys to their RFC sizes.
    pub fn check_key_bits(&self, bits: u32) -> Result<(), KeySizeError> {
        if self.key_bits.accepts(bits) {
            Ok(())
        } else {
            Err(KeySizeError {
                algorithm: self.name,
                valid: self.key_bits,
                bits,
            })
        }
    }

    /// Key size used when generating a random key: the largest size for fixed-size
    /// algorithms (aes-cbc 256, aes-ctr 288 incl. nonce, HMACs their natural size), the largest
    /// valid size not above 256 bits for ranges (blowfish 256, cast128 128, serpent 256), and
    /// 0 for keyless algorithms. Sizes per `net/xfrm/xfrm_algo.c` / the RFCs.
    pub fn default_key_bits(&self) -> u32 {
        match self.key_bits {
            KeyBits::None => 0,
            KeyBits::Fixed(sizes) => sizes.iter().copied().max().map_or(0, u32::from),
            KeyBits::Range { min, max, step } => {
                let (min, max, step) = (u32::from(min), u32::from(max), u32::from(step.max(1)));
                let cap = max.min(256).max(min);
                min + (cap - min) / step * step
            }
        }
    }

    /// Human-readable accepted sizes: "128, 192 or 256 bits", "160 bits",
    /// "40 to 448 bits in steps of 8", "no key (0 bits)" (the [`KeyBits`] `Display`).
    pub fn valid_sizes_text(&self) -> String {
        self.key_bits.to_string()
    }

    /// True if Linux PF_KEY can install it ([`Usability::Usable`]).
    pub fn is_usable(&self) -> bool {
        self.usability.is_usable()
    }

    /// True for the AEAD ids (GCM, CCM, GMAC), which af_key rejects with `ENOSYS`.
    pub fn is_aead(&self) -> bool {
        self.usability == Usability::Aead
    }

    /// Every spelling [`lookup`] accepts for this entry besides a decimal id: the canonical
    /// name, then the aliases, then the constant.
    pub fn spellings(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name)
            .chain(self.aliases.iter().copied())
            .chain(std::iter::once(self.constant))
    }
}

impl fmt::Display for Algorithm {
    /// The canonical name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

/// Builds an entry; the constant's name is taken from the identifier so id and name agree.
macro_rules! alg {
    (
        $kind:ident $constant:ident,
        name: $name:literal,
        aliases: [$($alias:literal),* $(,)?],
        kernel: $kernel:literal,
        keys: $keys:expr,
        icv: $icv:expr,
        $usab:ident,
        note: $note:expr $(,)?
    ) => {
        Algorithm {
            kind: AlgKind::$kind,
            id: $constant,
            name: $name,
            aliases: &[$($alias),*],
            constant: stringify!($constant),
            kernel_name: $kernel,
            key_bits: $keys,
            icv_bits: $icv,
            usability: Usability::$usab,
            note: $note,
        }
    };
}

const AES_BITS: KeyBits = KeyBits::Fixed(&[128, 192, 256]);
/// AES key followed by a 32-bit nonce/salt (RFC 3686, RFC 4106, RFC 4543).
const AES_PLUS_32_BITS: KeyBits = KeyBits::Fixed(&[160, 224, 288]);
/// AES key followed by a 24-bit salt (RFC 4309).
const AES_PLUS_24_BITS: KeyBits = KeyBits::Fixed(&[152, 216, 280]);

const GCM_NOTE: Option<&str> = Some(
    "RFC 4106: the key is the AES key followed by a 32-bit salt (160, 224 or 288 bits); \
     install it with `ip xfrm state ... aead 'rfc4106(gcm(aes))' KEY ICV-BITS`",
);
const CCM_NOTE: Option<&str> = Some(
    "RFC 4309: the key is the AES key followed by a 24-bit salt (152, 216 or 280 bits); \
     install it with `ip xfrm state ... aead 'rfc4309(ccm(aes))' KEY ICV-BITS`",
);

static TABLE: [Algorithm; 31] = [
    // --- authentication ---
    alg!(Auth SADB_AALG_MD5HMAC,
        name: "hmac-md5",
        aliases: ["hmac(md5)", "md5", "hmac-md5-96"],
        kernel: "hmac(md5)",
        keys: KeyBits::Fixed(&[128]),
        icv: Some(96),
        Usable,
        note: Some("HMAC-MD5-96 (RFC 2403); RFC 8221 discourages it for new deployments"),
    ),
    alg!(Auth SADB_AALG_SHA1HMAC,
        name: "hmac-sha1",
        aliases: ["hmac(sha1)", "sha1", "hmac-sha1-96"],
        kernel: "hmac(sha1)",
        keys: KeyBits::Fixed(&[160]),
        icv: Some(96),
        Usable,
        note: Some("HMAC-SHA1-96 (RFC 2404)"),
    ),
    alg!(Auth SADB_X_AALG_SHA2_256HMAC,
        name: "hmac-sha256",
        aliases: ["hmac-sha2-256", "hmac(sha256)", "sha256", "sha2-256", "hmac-sha256-96",
                  "sha256-96"],
        kernel: "hmac(sha256)",
        keys: KeyBits::Fixed(&[256]),
        icv: Some(96),
        Usable,
        note: Some("Linux PF_KEY truncates the ICV to 96 bits (RFC 4868 wants 128): not \
                    interoperable with peers using RFC 4868"),
    ),
    alg!(Auth SADB_X_AALG_SHA2_384HMAC,
        name: "hmac-sha384",
        aliases: ["hmac-sha2-384", "hmac(sha384)", "sha384", "sha2-384", "hmac-sha384-192"],
        kernel: "hmac(sha384)",
        keys: KeyBits::Fixed(&[384]),
        icv: Some(192),
        Usable,
        note: Some("HMAC-SHA-384-192 (RFC 4868)"),
    ),
    alg!(Auth SADB_X_AALG_SHA2_512HMAC,
        name: "hmac-sha512",
        aliases: ["hmac-sha2-512", "hmac(sha512)", "sha512", "sha2-512", "hmac-sha512-256"],
        kernel: "hmac(sha512)",
        keys: KeyBits::Fixed(&[512]),
        icv: Some(256),
        Usable,
        note: Some("HMAC-SHA-512-256 (RFC 4868)"),
    ),
    alg!(Auth SADB_X_AALG_RIPEMD160HMAC,
        name: "hmac-ripemd160",
        aliases: ["hmac(rmd160)", "rmd160", "ripemd160", "hmac-rmd160", "hmac-ripemd160-96"],
        kernel: "hmac(rmd160)",
        keys: KeyBits::Fixed(&[160]),
        icv: Some(96),
        NotBuilt,
        note: Some("HMAC-RIPEMD-160-96 (RFC 2857); works on older kernels such as 6.1, but \
                    RIPEMD-160 was removed from mainline Linux, where the kernel answers ENOSYS"),
    ),
    alg!(Auth SADB_X_AALG_AES_XCBC_MAC,
        name: "aes-xcbc-mac",
        aliases: ["xcbc(aes)", "aes-xcbc", "aesxcbc", "xcbc", "aes-xcbc-mac-96"],
        kernel: "xcbc(aes)",
        keys: KeyBits::Fixed(&[128]),
        icv: Some(96),
        Usable,
        note: Some("AES-XCBC-MAC-96 (RFC 3566): 128-bit key only"),
    ),
    alg!(Auth SADB_X_AALG_SM3_256HMAC,
        name: "hmac-sm3",
        aliases: ["hmac(sm3)", "sm3"],
        kernel: "hmac(sm3)",
        keys: KeyBits::Fixed(&[256]),
        icv: Some(256),
        NotBuilt,
        note: Some("Linux 5.17+ and only if SM3 is built (not in Debian 12's 6.1 kernel); \
                    setkey has no name for it"),
    ),
    alg!(Auth SADB_X_AALG_NULL,
        name: "null",
        aliases: ["digest_null"],
        kernel: "digest_null",
        keys: KeyBits::None,
        icv: Some(0),
        Usable,
        note: Some("no integrity protection; takes no key (setkey sends no KEY_AUTH)"),
    ),
    // --- encryption ---
    alg!(Encrypt SADB_EALG_DESCBC,
        name: "des-cbc",
        aliases: ["cbc(des)", "des"],
        kernel: "cbc(des)",
        keys: KeyBits::Fixed(&[64]),
        icv: None,
        Usable,
        note: Some("single DES (RFC 2405) is broken; RFC 8221 says MUST NOT"),
    ),
    alg!(Encrypt SADB_EALG_3DESCBC,
        name: "3des-cbc",
        aliases: ["cbc(des3_ede)", "des3_ede", "3des", "des-ede3-cbc"],
        kernel: "cbc(des3_ede)",
        keys: KeyBits::Fixed(&[192]),
        icv: None,
        Usable,
        note: Some("64-bit block cipher; RFC 8221 says SHOULD NOT"),
    ),
    alg!(Encrypt SADB_X_EALG_CASTCBC,
        name: "cast128-cbc",
        aliases: ["cbc(cast5)", "cast5", "cast128", "cast5-cbc", "cast"],
        kernel: "cbc(cast5)",
        keys: KeyBits::Range { min: 40, max: 128, step: 8 },
        icv: None,
        Usable,
        note: None,
    ),
    alg!(Encrypt SADB_X_EALG_BLOWFISHCBC,
        name: "blowfish-cbc",
        aliases: ["cbc(blowfish)", "blowfish"],
        kernel: "cbc(blowfish)",
        keys: KeyBits::Range { min: 40, max: 448, step: 8 },
        icv: None,
        Usable,
        note: None,
    ),
    alg!(Encrypt SADB_EALG_NULL,
        name: "null",
        aliases: ["ecb(cipher_null)", "cipher_null", "simple"],
        kernel: "ecb(cipher_null)",
        keys: KeyBits::None,
        icv: None,
        Usable,
        note: Some("no confidentiality (RFC 2410); takes a 0-bit key. ESP without encryption \
                    must use this id: encryption id 0 is rejected with EINVAL"),
    ),
    alg!(Encrypt SADB_X_EALG_AESCBC,
        name: "aes-cbc",
        aliases: ["rijndael-cbc", "cbc(aes)", "aes", "rijndael", "aescbc"],
        kernel: "cbc(aes)",
        keys: AES_BITS,
        icv: None,
        Usable,
        note: None,
    ),
    alg!(Encrypt SADB_X_EALG_AESCTR,
        name: "aes-ctr",
        aliases: ["rfc3686(ctr(aes))", "ctr(aes)", "aesctr"],
        kernel: "rfc3686(ctr(aes))",
        keys: AES_PLUS_32_BITS,
        icv: None,
        Usable,
        note: Some("RFC 3686: the key is the AES key followed by a 32-bit nonce \
                    (160, 224 or 288 bits)"),
    ),
    alg!(Encrypt SADB_X_EALG_AES_CCM_ICV8,
        name: "aes-ccm-8",
        aliases: ["aes-ccm-icv8", "aes-ccm8"],
        kernel: "rfc4309(ccm(aes))",
        keys: AES_PLUS_24_BITS,
        icv: Some(64),
        Aead,
        note: CCM_NOTE,
    ),
    alg!(Encrypt SADB_X_EALG_AES_CCM_ICV12,
        name: "aes-ccm-12",
        aliases: ["aes-ccm-icv12", "aes-ccm12"],
        kernel: "rfc4309(ccm(aes))",
        keys: AES_PLUS_24_BITS,
        icv: Some(96),
        Aead,
        note: CCM_NOTE,
    ),
    alg!(Encrypt SADB_X_EALG_AES_CCM_ICV16,
        name: "aes-ccm-16",
        aliases: ["aes-ccm-icv16", "aes-ccm16", "aes-ccm", "rfc4309(ccm(aes))", "ccm(aes)"],
        kernel: "rfc4309(ccm(aes))",
        keys: AES_PLUS_24_BITS,
        icv: Some(128),
        Aead,
        note: CCM_NOTE,
    ),
    alg!(Encrypt SADB_X_EALG_AES_GCM_ICV8,
        name: "aes-gcm-8",
        aliases: ["aes-gcm-icv8", "aes-gcm8"],
        kernel: "rfc4106(gcm(aes))",
        keys: AES_PLUS_32_BITS,
        icv: Some(64),
        Aead,
        note: GCM_NOTE,
    ),
    alg!(Encrypt SADB_X_EALG_AES_GCM_ICV12,
        name: "aes-gcm-12",
        aliases: ["aes-gcm-icv12", "aes-gcm12"],
        kernel: "rfc4106(gcm(aes))",
        keys: AES_PLUS_32_BITS,
        icv: Some(96),
        Aead,
        note: GCM_NOTE,
    ),
    alg!(Encrypt SADB_X_EALG_AES_GCM_ICV16,
        name: "aes-gcm-16",
        aliases: ["aes-gcm-icv16", "aes-gcm16", "aes-gcm", "rfc4106(gcm(aes))", "gcm(aes)",
                  "gcm"],
        kernel: "rfc4106(gcm(aes))",
        keys: AES_PLUS_32_BITS,
        icv: Some(128),
        Aead,
        note: GCM_NOTE,
    ),
    alg!(Encrypt SADB_X_EALG_CAMELLIACBC,
        name: "camellia-cbc",
        aliases: ["cbc(camellia)", "camellia"],
        kernel: "cbc(camellia)",
        keys: AES_BITS,
        icv: None,
        Usable,
        note: None,
    ),
    alg!(Encrypt SADB_X_EALG_NULL_AES_GMAC,
        name: "aes-gmac",
        aliases: ["null-aes-gmac", "gmac", "rfc4543(gcm(aes))"],
        kernel: "rfc4543(gcm(aes))",
        keys: AES_PLUS_32_BITS,
        icv: Some(128),
        Aead,
        note: Some("RFC 4543 (authentication only): the key is the AES key followed by a \
                    32-bit salt (160, 224 or 288 bits); install it with \
                    `ip xfrm state ... aead 'rfc4543(gcm(aes))' KEY 128`"),
    ),
    alg!(Encrypt SADB_X_EALG_SM4CBC,
        name: "sm4-cbc",
        aliases: ["cbc(sm4)", "sm4"],
        kernel: "cbc(sm4)",
        keys: KeyBits::Fixed(&[128]),
        icv: None,
        NotBuilt,
        note: Some("Linux 5.17+ and only if SM4 is built (not in Debian 12's 6.1 kernel); the \
                    kernel advertises 128-256 bits but SM4 takes only a 128-bit key; setkey \
                    has no name for it"),
    ),
    alg!(Encrypt SADB_X_EALG_SERPENTCBC,
        name: "serpent-cbc",
        aliases: ["cbc(serpent)", "serpent"],
        kernel: "cbc(serpent)",
        keys: KeyBits::Range { min: 128, max: 256, step: 8 },
        icv: None,
        Usable,
        note: None,
    ),
    alg!(Encrypt SADB_X_EALG_TWOFISHCBC,
        name: "twofish-cbc",
        aliases: ["cbc(twofish)", "twofish"],
        kernel: "cbc(twofish)",
        keys: AES_BITS,
        icv: None,
        Usable,
        note: Some("setkey's own table allows 0-256 bits, but the kernel's Twofish takes only \
                    128, 192 or 256"),
    ),
    // --- compression ---
    alg!(Compress SADB_X_CALG_OUI,
        name: "oui",
        aliases: [],
        kernel: "",
        keys: KeyBits::None,
        icv: None,
        NoImplementation,
        note: Some("vendor-specific compression; Linux has no entry for it"),
    ),
    alg!(Compress SADB_X_CALG_DEFLATE,
        name: "deflate",
        aliases: [],
        kernel: "deflate",
        keys: KeyBits::None,
        icv: None,
        Usable,
        note: Some("IPComp (RFC 3173/2394); needs the ipcomp modules; the CPI travels in \
                    sadb_sa_spi"),
    ),
    alg!(Compress SADB_X_CALG_LZS,
        name: "lzs",
        aliases: [],
        kernel: "lzs",
        keys: KeyBits::None,
        icv: None,
        NoImplementation,
        note: Some("listed by the kernel, but Linux ships no LZS compressor"),
    ),
    alg!(Compress SADB_X_CALG_LZJH,
        name: "lzjh",
        aliases: [],
        kernel: "lzjh",
        keys: KeyBits::None,
        icv: None,
        NoImplementation,
        note: Some("listed by the kernel, but Linux ships no LZJH compressor; setkey has no \
                    name for it"),
    ),
];

// ---------------------------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------------------------

/// Every algorithm id defined by Linux `pfkeyv2.h` (except the `*_NONE` ids, 0), grouped by
/// kind: auth, encryption, compression.
pub fn all() -> &'static [Algorithm] {
    &TABLE
}

/// Entries of one kind, in table order.
pub fn of_kind(kind: AlgKind) -> impl Iterator<Item = &'static Algorithm> {
    TABLE.iter().filter(move |a| a.kind == kind)
}

/// The entry for an id as carried in `sadb_sa_auth` / `sadb_sa_encrypt` (`linux/pfkeyv2.h`).
/// `None` for id 0 (`*_NONE`, "no algorithm", RFC 2367 §3.5) and for undefined ids.
pub fn by_id(kind: AlgKind, id: u8) -> Option<&'static Algorithm> {
    of_kind(kind).find(|a| a.id == id)
}

/// Finds an algorithm by any spelling people type, within one kind: the canonical name, an
/// alias, the `pfkeyv2.h` constant, or a decimal id. Case-insensitive; `_` and `-` are
/// interchangeable; surrounding whitespace is ignored. Names from setkey(8), iproute2 and the
/// xfrm compat names (`net/xfrm/xfrm_algo.c`).
pub fn lookup(kind: AlgKind, name: &str) -> Option<&'static Algorithm> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    // Fast path: the canonical name exactly as the table writes it (what scripts and
    // `pfkey save` use).
    if let Some(a) = TABLE.iter().find(|a| a.kind == kind && a.name == name) {
        return Some(a);
    }
    if let Some(a) = of_kind(kind).find(|a| a.spellings().any(|s| same_name(name, s))) {
        return Some(a);
    }
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return name.parse::<u8>().ok().and_then(|id| by_id(kind, id));
    }
    None
}

/// [`lookup`] in every kind, for when the kind is not known (e.g. to tell a user that
/// `hmac-sha1` is an authentication algorithm, not an encryption one). A decimal id matches
/// in each kind that defines it; `null` gives both NULL algorithms.
pub fn lookup_any(name: &str) -> Vec<&'static Algorithm> {
    AlgKind::ALL
        .iter()
        .filter_map(|&k| lookup(k, name))
        .collect()
}

/// The closest known spelling for a mistyped name within a kind, for "did you mean …?"
/// messages (optimal-string-alignment edit distance over the spellings [`lookup`] accepts).
/// Returns the spelling as written in the table (so `rijndael-cbx` suggests `rijndael-cbc`).
/// `None` when nothing is close enough (at most 1 edit for names up to 3 characters, 2 up to 7,
/// 3 beyond) or the input is empty or longer than 64 bytes.
pub fn suggest(kind: AlgKind, name: &str) -> Option<&'static str> {
    let input: Vec<u8> = name.trim().bytes().map(norm_byte).collect();
    if input.is_empty() || input.len() > 64 {
        return None;
    }
    let limit = match input.len() {
        0..=3 => 1,
        4..=7 => 2,
        _ => 3,
    };
    let mut best: Option<(usize, &'static str)> = None;
    for a in of_kind(kind) {
        for s in a.spellings() {
            let d = osa_distance(&input, s.as_bytes());
            if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, s));
            }
        }
    }
    best.map(|(_, s)| s)
}

/// Known names that are deliberately *not* in the table, with the explanation a user needs
/// (`net/xfrm/xfrm_algo.c` entries without a PF_KEY id, KAME-only ids absent from
/// `linux/pfkeyv2.h`, setkey(8) variants). Check this before [`suggest`]: a "did you mean"
/// for `hmac-sha256-128` would point at the 96-bit variant, which is not what was asked for.
pub fn unsupported_hint(kind: AlgKind, name: &str) -> Option<&'static str> {
    let name = name.trim();
    HINTS
        .iter()
        .find(|(k, names, _)| *k == kind && names.iter().any(|n| same_name(name, n)))
        .map(|(_, _, hint)| *hint)
}

type Hint = (AlgKind, &'static [&'static str], &'static str);

static HINTS: &[Hint] = &[
    (
        AlgKind::Auth,
        &[
            "hmac-sha256-128",
            "sha256-128",
            "hmac-sha2-256-128",
            "sha2-256-128",
        ],
        "Linux PF_KEY has HMAC-SHA-256 only with a 96-bit ICV (hmac-sha256); RFC 4868's \
         128-bit truncation needs `ip xfrm ... auth-trunc 'hmac(sha256)' KEY 128` (netlink)",
    ),
    (
        AlgKind::Auth,
        &["keyed-md5", "keyed-sha1", "tcp-md5"],
        "a KAME/BSD algorithm that Linux does not define",
    ),
    (
        AlgKind::Auth,
        &["cmac(aes)", "aes-cmac", "aes-cmac-96", "cmac"],
        "AES-CMAC-96 (RFC 4494) has no PF_KEY id; Linux supports it only through `ip xfrm` \
         (netlink)",
    ),
    (
        AlgKind::Encrypt,
        &[
            "chacha20-poly1305",
            "chacha20poly1305",
            "chacha20",
            "rfc7539esp(chacha20,poly1305)",
        ],
        "ChaCha20-Poly1305 (RFC 7634) has no PF_KEY id; use `ip xfrm ... aead \
         'rfc7539esp(chacha20,poly1305)' KEY 128` (netlink)",
    ),
    (
        AlgKind::Encrypt,
        &[
            "aria-cbc",
            "cbc(aria)",
            "aria",
            "aria-ctr",
            "rfc3686(ctr(aria))",
        ],
        "ARIA has no PF_KEY id; Linux supports it only through `ip xfrm` (netlink)",
    ),
    (
        AlgKind::Encrypt,
        &[
            "aes128",
            "aes192",
            "aes256",
            "aes-128",
            "aes-192",
            "aes-256",
            "aes128-cbc",
            "aes192-cbc",
            "aes256-cbc",
            "aes-128-cbc",
            "aes-192-cbc",
            "aes-256-cbc",
        ],
        "use aes-cbc; the key size follows from the key you give (128, 192 or 256 bits)",
    ),
    (
        AlgKind::Encrypt,
        &["des-deriv", "des-32iv"],
        "setkey's DES variants only set SA flags that Linux ignores; use des-cbc",
    ),
];

/// Displays an id as its canonical name, `none` for 0, or `unknown (N)`; for renderers of
/// received messages, where unknown ids must be shown, not rejected (`linux/pfkeyv2.h`).
pub fn display_id(kind: AlgKind, id: u8) -> DisplayId {
    DisplayId { kind, id }
}

/// [`fmt::Display`] of an algorithm id, returned by [`display_id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayId {
    /// Id space.
    pub kind: AlgKind,
    /// The id (`linux/pfkeyv2.h`).
    pub id: u8,
}

impl fmt::Display for DisplayId {
    /// "aes-cbc", "none" (id 0) or "unknown (42)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match by_id(self.kind, self.id) {
            Some(a) => f.write_str(a.name),
            None if self.id == 0 => f.write_str("none"),
            None => write!(f, "unknown ({})", self.id),
        }
    }
}

fn norm_byte(b: u8) -> u8 {
    match b {
        b'_' => b'-',
        _ => b.to_ascii_lowercase(),
    }
}

/// Case-insensitive, `_` = `-` comparison (table spellings are ASCII).
fn same_name(input: &str, candidate: &str) -> bool {
    input.len() == candidate.len()
        && input
            .bytes()
            .zip(candidate.bytes())
            .all(|(a, b)| norm_byte(a) == norm_byte(b))
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions) between an
/// already-normalised input and a table spelling.
fn osa_distance(a: &[u8], b: &[u8]) -> usize {
    let b: Vec<u8> = b.iter().copied().map(norm_byte).collect();
    let m = b.len();
    let mut prev2: Vec<usize> = vec![0; m + 1];
    let mut prev: Vec<usize> = (0..=m).collect();
    let mut cur: Vec<usize> = vec![0; m + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_spelling_resolves_to_its_entry() {
        for a in all() {
            for s in a.spellings() {
                let got = lookup(a.kind, s).unwrap_or_else(|| panic!("{s} not found"));
                assert_eq!((got.kind, got.id), (a.kind, a.id), "{s}");
                // Case and separator insensitivity.
                let upper = s.to_ascii_uppercase();
                assert_eq!(lookup(a.kind, &upper).map(|x| x.id), Some(a.id), "{upper}");
                let padded = format!("  {s}\t");
                assert_eq!(lookup(a.kind, &padded).map(|x| x.id), Some(a.id));
            }
        }
    }

    #[test]
    fn ids_round_trip_through_names_and_decimal() {
        for a in all() {
            let by = by_id(a.kind, a.id).unwrap();
            assert_eq!(by, a);
            assert_eq!(lookup(a.kind, by.name), Some(a));
            assert_eq!(lookup(a.kind, &a.id.to_string()), Some(a));
            assert!(a.id <= a.kind.max_id(), "{} above MAX", a.name);
            assert_eq!(display_id(a.kind, a.id).to_string(), a.name);
        }
    }

    #[test]
    fn no_spelling_is_ambiguous_within_a_kind() {
        for kind in AlgKind::ALL {
            let mut seen: Vec<(String, &str)> = Vec::new();
            let mut ids = Vec::new();
            for a in of_kind(kind) {
                assert!(!ids.contains(&a.id), "duplicate id {} in {kind}", a.id);
                ids.push(a.id);
                for s in a.spellings() {
                    let n: String = s.bytes().map(|b| char::from(norm_byte(b))).collect();
                    assert!(
                        !n.bytes().all(|b| b.is_ascii_digit()),
                        "{s} looks like an id"
                    );
                    assert!(s.is_ascii() && s.trim() == s && !s.is_empty());
                    if let Some((_, other)) = seen.iter().find(|(x, _)| *x == n) {
                        panic!("{kind}: '{s}' of {} also names {other}", a.name);
                    }
                    seen.push((n, a.name));
                }
            }
        }
    }

    #[test]
    fn table_covers_linux_header() {
        let expect: &[(AlgKind, u8)] = &[
            (AlgKind::Auth, SADB_AALG_MD5HMAC),
            (AlgKind::Auth, SADB_AALG_SHA1HMAC),
            (AlgKind::Auth, SADB_X_AALG_SHA2_256HMAC),
            (AlgKind::Auth, SADB_X_AALG_SHA2_384HMAC),
            (AlgKind::Auth, SADB_X_AALG_SHA2_512HMAC),
            (AlgKind::Auth, SADB_X_AALG_RIPEMD160HMAC),
            (AlgKind::Auth, SADB_X_AALG_AES_XCBC_MAC),
            (AlgKind::Auth, SADB_X_AALG_SM3_256HMAC),
            (AlgKind::Auth, SADB_X_AALG_NULL),
            (AlgKind::Encrypt, SADB_EALG_DESCBC),
            (AlgKind::Encrypt, SADB_EALG_3DESCBC),
            (AlgKind::Encrypt, SADB_X_EALG_CASTCBC),
            (AlgKind::Encrypt, SADB_X_EALG_BLOWFISHCBC),
            (AlgKind::Encrypt, SADB_EALG_NULL),
            (AlgKind::Encrypt, SADB_X_EALG_AESCBC),
            (AlgKind::Encrypt, SADB_X_EALG_AESCTR),
            (AlgKind::Encrypt, SADB_X_EALG_AES_CCM_ICV8),
            (AlgKind::Encrypt, SADB_X_EALG_AES_CCM_ICV12),
            (AlgKind::Encrypt, SADB_X_EALG_AES_CCM_ICV16),
            (AlgKind::Encrypt, SADB_X_EALG_AES_GCM_ICV8),
            (AlgKind::Encrypt, SADB_X_EALG_AES_GCM_ICV12),
            (AlgKind::Encrypt, SADB_X_EALG_AES_GCM_ICV16),
            (AlgKind::Encrypt, SADB_X_EALG_CAMELLIACBC),
            (AlgKind::Encrypt, SADB_X_EALG_NULL_AES_GMAC),
            (AlgKind::Encrypt, SADB_X_EALG_SM4CBC),
            (AlgKind::Encrypt, SADB_X_EALG_SERPENTCBC),
            (AlgKind::Encrypt, SADB_X_EALG_TWOFISHCBC),
            (AlgKind::Compress, SADB_X_CALG_OUI),
            (AlgKind::Compress, SADB_X_CALG_DEFLATE),
            (AlgKind::Compress, SADB_X_CALG_LZS),
            (AlgKind::Compress, SADB_X_CALG_LZJH),
        ];
        // The table has exactly these entries plus nothing else.
        assert_eq!(all().len(), expect.len());
        for &(k, id) in expect {
            assert!(by_id(k, id).is_some(), "{k} {id} missing");
        }
        // Literal values from linux/pfkeyv2.h.
        assert_eq!(
            [
                SADB_AALG_NONE,
                SADB_AALG_MD5HMAC,
                SADB_AALG_SHA1HMAC,
                SADB_X_AALG_SHA2_256HMAC
            ],
            [0, 2, 3, 5]
        );
        assert_eq!(
            [
                SADB_X_AALG_SHA2_384HMAC,
                SADB_X_AALG_SHA2_512HMAC,
                SADB_X_AALG_RIPEMD160HMAC
            ],
            [6, 7, 8]
        );
        assert_eq!(
            [
                SADB_X_AALG_AES_XCBC_MAC,
                SADB_X_AALG_SM3_256HMAC,
                SADB_X_AALG_NULL,
                SADB_AALG_MAX
            ],
            [9, 10, 251, 251]
        );
        assert_eq!(
            [
                SADB_EALG_NONE,
                SADB_EALG_DESCBC,
                SADB_EALG_3DESCBC,
                SADB_X_EALG_CASTCBC
            ],
            [0, 2, 3, 6]
        );
        assert_eq!(
            [
                SADB_X_EALG_BLOWFISHCBC,
                SADB_EALG_NULL,
                SADB_X_EALG_AESCBC,
                SADB_X_EALG_AESCTR
            ],
            [7, 11, 12, 13]
        );
        assert_eq!(
            [
                SADB_X_EALG_AES_CCM_ICV8,
                SADB_X_EALG_AES_CCM_ICV12,
                SADB_X_EALG_AES_CCM_ICV16
            ],
            [14, 15, 16]
        );
        assert_eq!(
            [
                SADB_X_EALG_AES_GCM_ICV8,
                SADB_X_EALG_AES_GCM_ICV12,
                SADB_X_EALG_AES_GCM_ICV16
            ],
            [18, 19, 20]
        );
        assert_eq!(
            [
                SADB_X_EALG_CAMELLIACBC,
                SADB_X_EALG_NULL_AES_GMAC,
                SADB_X_EALG_SM4CBC
            ],
            [22, 23, 24]
        );
        assert_eq!(
            [
                SADB_X_EALG_SERPENTCBC,
                SADB_X_EALG_TWOFISHCBC,
                SADB_EALG_MAX
            ],
            [252, 253, 253]
        );
        assert_eq!(
            [
                SADB_X_CALG_NONE,
                SADB_X_CALG_OUI,
                SADB_X_CALG_DEFLATE,
                SADB_X_CALG_LZS
            ],
            [0, 1, 2, 3]
        );
        assert_eq!([SADB_X_CALG_LZJH, SADB_X_CALG_MAX], [4, 4]);
    }

    #[test]
    fn kernel_names_resolve() {
        for a in all() {
            if a.kernel_name.is_empty() {
                continue;
            }
            let got = lookup(a.kind, a.kernel_name).unwrap();
            assert_eq!(got.kernel_name, a.kernel_name);
        }
        // Shared AEAD kernel names go to the 16-byte-ICV variant.
        let gcm = lookup(AlgKind::Encrypt, "rfc4106(gcm(aes))").unwrap();
        assert_eq!(gcm.id, SADB_X_EALG_AES_GCM_ICV16);
        let ccm = lookup(AlgKind::Encrypt, "rfc4309(ccm(aes))").unwrap();
        assert_eq!(ccm.id, SADB_X_EALG_AES_CCM_ICV16);
    }

    #[test]
    fn common_names() {
        let e = |n| lookup(AlgKind::Encrypt, n).map(|a| a.id);
        let a = |n| lookup(AlgKind::Auth, n).map(|a| a.id);
        let c = |n| lookup(AlgKind::Compress, n).map(|a| a.id);
        assert_eq!(e("aes"), Some(SADB_X_EALG_AESCBC));
        assert_eq!(e("AES-CBC"), Some(SADB_X_EALG_AESCBC));
        assert_eq!(e("aes_cbc"), Some(SADB_X_EALG_AESCBC));
        assert_eq!(e("rijndael-cbc"), Some(SADB_X_EALG_AESCBC));
        assert_eq!(e("cbc(aes)"), Some(SADB_X_EALG_AESCBC));
        assert_eq!(e("3des"), Some(SADB_EALG_3DESCBC));
        assert_eq!(e("des"), Some(SADB_EALG_DESCBC));
        assert_eq!(e("null"), Some(SADB_EALG_NULL));
        assert_eq!(e("simple"), Some(SADB_EALG_NULL));
        assert_eq!(e("blowfish"), Some(SADB_X_EALG_BLOWFISHCBC));
        assert_eq!(e("cast128"), Some(SADB_X_EALG_CASTCBC));
        assert_eq!(e("aes-gcm"), Some(SADB_X_EALG_AES_GCM_ICV16));
        assert_eq!(e("SADB_X_EALG_AESCBC"), Some(12));
        assert_eq!(e("12"), Some(12));
        assert_eq!(e("011"), Some(11));
        assert_eq!(a("md5"), Some(SADB_AALG_MD5HMAC));
        assert_eq!(a("hmac(md5)"), Some(SADB_AALG_MD5HMAC));
        assert_eq!(a("sha1"), Some(SADB_AALG_SHA1HMAC));
        assert_eq!(a("sha256"), Some(SADB_X_AALG_SHA2_256HMAC));
        assert_eq!(a("hmac-sha2-256"), Some(SADB_X_AALG_SHA2_256HMAC));
        assert_eq!(a("sha256_96"), Some(SADB_X_AALG_SHA2_256HMAC));
        assert_eq!(a("null"), Some(SADB_X_AALG_NULL));
        assert_eq!(a("251"), Some(SADB_X_AALG_NULL));
        assert_eq!(c("deflate"), Some(SADB_X_CALG_DEFLATE));
        // Kind matters.
        assert_eq!(e("hmac-sha1"), None);
        assert_eq!(a("aes-cbc"), None);
        assert_eq!(a("SADB_X_EALG_AESCBC"), None);
        assert_eq!(e("deflate"), None);
        let both = lookup_any("null");
        assert_eq!(both.len(), 2);
        assert_eq!(lookup_any("hmac-sha1")[0].kind, AlgKind::Auth);
    }

    #[test]
    fn unknown_names_and_ids() {
        for n in [
            "",
            "  ",
            "aes-cbx",
            "sha256-128",
            "hmac-sha256-128",
            "keyed-md5",
            "tcp-md5",
            "chacha20-poly1305",
            "aes128",
            "0",
            "1",
            "256",
            "-1",
            "+12",
            "0x0c",
            "aes\0",
            "ａｅｓ",
        ] {
            assert_eq!(lookup(AlgKind::Encrypt, n).map(|a| a.name), None, "{n:?}");
            assert_eq!(lookup(AlgKind::Auth, n).map(|a| a.name), None, "{n:?}");
        }
        assert_eq!(by_id(AlgKind::Auth, SADB_AALG_NONE), None);
        assert_eq!(by_id(AlgKind::Encrypt, 1), None);
        assert_eq!(by_id(AlgKind::Compress, 5), None);
        assert_eq!(display_id(AlgKind::Encrypt, 0).to_string(), "none");
        assert_eq!(display_id(AlgKind::Encrypt, 99).to_string(), "unknown (99)");
    }

    #[test]
    fn key_sizes() {
        let e = |n| lookup(AlgKind::Encrypt, n).unwrap();
        let a = |n| lookup(AlgKind::Auth, n).unwrap();
        let aes = e("aes-cbc");
        for ok in [128, 192, 256] {
            assert!(aes.check_key_bits(ok).is_ok());
        }
        for bad in [0, 100, 127, 160, 512, u32::MAX] {
            assert!(aes.check_key_bits(bad).is_err(), "{bad}");
        }
        assert_eq!(
            aes.check_key_bits(100).unwrap_err().to_string(),
            "aes-cbc takes a 128, 192 or 256-bit key, not 100 bits"
        );
        assert_eq!(aes.valid_sizes_text(), "128, 192 or 256 bits");
        assert_eq!(aes.default_key_bits(), 256);

        let ctr = e("aes-ctr");
        assert!(ctr.check_key_bits(160).is_ok() && ctr.check_key_bits(288).is_ok());
        assert!(ctr.check_key_bits(128).is_err());
        assert_eq!(ctr.default_key_bits(), 288);

        let sha1 = a("hmac-sha1");
        assert!(sha1.check_key_bits(160).is_ok());
        assert_eq!(
            sha1.check_key_bits(128).unwrap_err().to_string(),
            "hmac-sha1 takes a 160-bit key, not 128 bits"
        );
        assert_eq!(sha1.default_key_bits(), 160);
        assert_eq!(a("hmac-sha512").default_key_bits(), 512);

        let des = e("des");
        assert_eq!(
            des.check_key_bits(1).unwrap_err().to_string(),
            "des-cbc takes a 64-bit key, not 1 bit"
        );

        let bf = e("blowfish-cbc");
        assert!(bf.check_key_bits(40).is_ok() && bf.check_key_bits(448).is_ok());
        assert!(bf.check_key_bits(128).is_ok());
        for bad in [0, 32, 44, 456] {
            assert!(bf.check_key_bits(bad).is_err(), "{bad}");
        }
        assert_eq!(bf.valid_sizes_text(), "40 to 448 bits in steps of 8");
        assert_eq!(
            bf.check_key_bits(44).unwrap_err().to_string(),
            "blowfish-cbc takes a key of 40 to 448 bits in steps of 8, not 44 bits"
        );
        assert_eq!(bf.default_key_bits(), 256);
        assert_eq!(e("cast128-cbc").default_key_bits(), 128);
        assert_eq!(e("serpent").default_key_bits(), 256);

        let null = e("null");
        assert!(null.check_key_bits(0).is_ok());
        assert_eq!(
            null.check_key_bits(64).unwrap_err().to_string(),
            "null takes no key, not 64 bits"
        );
        assert_eq!(null.default_key_bits(), 0);
        assert_eq!(null.valid_sizes_text(), "no key (0 bits)");
        assert!(a("null").check_key_bits(0).is_ok());
        assert!(lookup(AlgKind::Compress, "deflate")
            .unwrap()
            .check_key_bits(0)
            .is_ok());

        let gcm = e("aes-gcm-16");
        assert_eq!(
            gcm.check_key_bits(128).unwrap_err().to_string(),
            "aes-gcm-16 takes a 160, 224 or 288-bit key, not 128 bits"
        );
        assert!(e("aes-ccm-8").check_key_bits(152).is_ok());
        assert!(e("sm4").check_key_bits(256).is_err());
    }

    #[test]
    fn every_default_size_is_valid() {
        for a in all() {
            let bits = a.default_key_bits();
            assert!(a.check_key_bits(bits).is_ok(), "{}", a.name);
            assert!(bits.is_multiple_of(8));
            assert!(!a.valid_sizes_text().is_empty());
        }
    }

    #[test]
    fn articles() {
        assert_eq!(article(8), "an");
        assert_eq!(article(80), "an");
        assert_eq!(article(11), "an");
        assert_eq!(article(18), "an");
        assert_eq!(article(800), "an");
        assert_eq!(article(8000), "an");
        assert_eq!(article(128), "a");
        assert_eq!(article(64), "a");
        assert_eq!(article(110), "a");
    }

    #[test]
    fn usability() {
        for a in all() {
            let is_aead = a.kernel_name.starts_with("rfc4106")
                || a.kernel_name.starts_with("rfc4309")
                || a.kernel_name.starts_with("rfc4543");
            assert_eq!(a.is_aead(), is_aead, "{}", a.name);
            if is_aead {
                assert!(!a.is_usable());
                assert!(a.usability.reason().contains("ENOSYS"));
                assert!(a.icv_bits.is_some());
            }
            if a.usability != Usability::Usable {
                assert!(!a.is_usable());
            }
        }
        for id in [14, 15, 16, 18, 19, 20, 23] {
            let a = by_id(AlgKind::Encrypt, id).unwrap();
            assert_eq!(a.usability, Usability::Aead);
        }
        for (k, id) in [
            (AlgKind::Auth, SADB_X_AALG_SM3_256HMAC),
            (AlgKind::Encrypt, SADB_X_EALG_SM4CBC),
            (AlgKind::Auth, SADB_X_AALG_RIPEMD160HMAC),
        ] {
            assert_eq!(by_id(k, id).unwrap().usability, Usability::NotBuilt);
        }
        for id in [SADB_X_CALG_OUI, SADB_X_CALG_LZS, SADB_X_CALG_LZJH] {
            assert_eq!(
                by_id(AlgKind::Compress, id).unwrap().usability,
                Usability::NoImplementation
            );
        }
        assert!(by_id(AlgKind::Compress, SADB_X_CALG_DEFLATE)
            .unwrap()
            .is_usable());
        assert!(Usability::Aead.reason().contains("ip xfrm"));
        for u in [
            Usability::Usable,
            Usability::NotBuilt,
            Usability::Aead,
            Usability::NoImplementation,
        ] {
            assert!(!u.reason().is_empty() && !u.to_string().is_empty());
        }
    }

    #[test]
    fn icv_lengths() {
        let icv = |n| lookup(AlgKind::Auth, n).unwrap().icv_bits;
        assert_eq!(icv("hmac-sha256"), Some(96));
        assert!(lookup(AlgKind::Auth, "hmac-sha256")
            .unwrap()
            .note
            .unwrap()
            .contains("RFC 4868"));
        assert_eq!(icv("hmac-md5"), Some(96));
        assert_eq!(icv("hmac-sha1"), Some(96));
        assert_eq!(icv("hmac-sha384"), Some(192));
        assert_eq!(icv("hmac-sha512"), Some(256));
        assert_eq!(icv("aes-xcbc-mac"), Some(96));
        let e = |id| by_id(AlgKind::Encrypt, id).unwrap().icv_bits;
        assert_eq!(e(SADB_X_EALG_AES_GCM_ICV8), Some(64));
        assert_eq!(e(SADB_X_EALG_AES_GCM_ICV12), Some(96));
        assert_eq!(e(SADB_X_EALG_AES_GCM_ICV16), Some(128));
        assert_eq!(e(SADB_X_EALG_AES_CCM_ICV8), Some(64));
        assert_eq!(e(SADB_X_EALG_NULL_AES_GMAC), Some(128));
        assert_eq!(e(SADB_X_EALG_AESCBC), None);
    }

    #[test]
    fn suggestions() {
        let s = |k, n| suggest(k, n);
        assert_eq!(s(AlgKind::Encrypt, "aes-cbx"), Some("aes-cbc"));
        assert_eq!(s(AlgKind::Encrypt, "AES-CBX"), Some("aes-cbc"));
        assert_eq!(s(AlgKind::Encrypt, "rijndael-cbx"), Some("rijndael-cbc"));
        assert_eq!(s(AlgKind::Encrypt, "3des-cdc"), Some("3des-cbc"));
        assert_eq!(s(AlgKind::Encrypt, "blowfsh-cbc"), Some("blowfish-cbc"));
        assert_eq!(s(AlgKind::Auth, "hmac-sha265"), Some("hmac-sha256"));
        assert_eq!(s(AlgKind::Auth, "hmac-mdd5"), Some("hmac-md5"));
        assert_eq!(s(AlgKind::Auth, "shaa1"), Some("sha1"));
        assert_eq!(s(AlgKind::Compress, "deflat"), Some("deflate"));
        assert_eq!(s(AlgKind::Encrypt, "completely-unrelated"), None);
        assert_eq!(s(AlgKind::Encrypt, ""), None);
        assert_eq!(s(AlgKind::Auth, "xyzzy"), None);
        assert_eq!(s(AlgKind::Encrypt, &"a".repeat(1000)), None);
        // Every suggestion is a spelling lookup accepts in that kind.
        for n in ["aes-cbx", "hmac-sha265", "sm5", "null1", "gcn"] {
            for k in AlgKind::ALL {
                if let Some(sug) = suggest(k, n) {
                    assert!(lookup(k, sug).is_some(), "{sug}");
                }
            }
        }
    }

    #[test]
    fn hints() {
        let h = |k, n| unsupported_hint(k, n);
        assert!(h(AlgKind::Auth, "hmac-sha256-128")
            .unwrap()
            .contains("96-bit"));
        assert!(h(AlgKind::Auth, "SHA256_128").is_some());
        assert!(h(AlgKind::Encrypt, "chacha20-poly1305")
            .unwrap()
            .contains("ip xfrm"));
        assert!(h(AlgKind::Encrypt, "aes256").unwrap().contains("aes-cbc"));
        assert!(h(AlgKind::Auth, "keyed-md5").is_some());
        assert_eq!(h(AlgKind::Encrypt, "aes-cbc"), None);
        assert_eq!(h(AlgKind::Auth, "chacha20"), None);
        // A hinted name never also resolves.
        for (k, names, _) in HINTS {
            for n in *names {
                assert_eq!(lookup(*k, n), None, "{n}");
            }
        }
    }

    #[test]
    fn osa() {
        assert_eq!(osa_distance(b"abc", b"abc"), 0);
        assert_eq!(osa_distance(b"acb", b"abc"), 1);
        assert_eq!(osa_distance(b"", b"abc"), 3);
        assert_eq!(osa_distance(b"abc", b""), 3);
        assert_eq!(osa_distance(b"kitten", b"sitting"), 3);
    }

    #[test]
    fn kind_display_and_max() {
        assert_eq!(AlgKind::Auth.to_string(), "authentication");
        assert_eq!(AlgKind::Encrypt.to_string(), "encryption");
        assert_eq!(AlgKind::Compress.to_string(), "compression");
        assert_eq!(AlgKind::Auth.max_id(), 251);
        assert_eq!(AlgKind::Encrypt.max_id(), 253);
        assert_eq!(AlgKind::Compress.max_id(), 4);
    }

    proptest! {
        #[test]
        fn lookup_never_panics(s in any::<String>(), k in 0usize..3) {
            let kind = AlgKind::ALL[k];
            let found = lookup(kind, &s);
            if let Some(a) = found {
                prop_assert_eq!(a.kind, kind);
            }
            if let Some(sug) = suggest(kind, &s) {
                prop_assert!(lookup(kind, sug).is_some());
            }
            let _ = lookup_any(&s);
            let _ = unsupported_hint(kind, &s);
        }

        #[test]
        fn lookup_never_panics_on_namelike(s in "[a-zA-Z0-9_()\\- ]{0,24}", k in 0usize..3) {
            let kind = AlgKind::ALL[k];
            let _ = lookup(kind, &s);
            let _ = suggest(kind, &s);
        }

        #[test]
        fn key_checks_never_panic(bits in any::<u32>(), i in 0usize..32) {
            let a = &all()[i % all().len()];
            if let Err(e) = a.check_key_bits(bits) {
                prop_assert!(e.to_string().contains(a.name));
                prop_assert_eq!(e.bits, bits);
            }
        }

        #[test]
        fn by_id_never_panics(id in any::<u8>(), k in 0usize..3) {
            let kind = AlgKind::ALL[k];
            if let Some(a) = by_id(kind, id) {
                prop_assert_eq!(a.id, id);
            }
            let _ = display_id(kind, id).to_string();
        }
    }
}
