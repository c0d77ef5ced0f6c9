//! Errors of the codec: what is wrong with a message and where.
#![forbid(unsafe_code)]

use crate::wire::ExtType;

/// Why a byte buffer is not a valid PF_KEY v2 message.
///
/// Every variant names the place: the extension type and the byte offset of the
/// extension (or request) from the start of the message, so that a user can find the
/// fault in a hex dump. The checks are those of Linux `af_key.c` (`pfkey_sendmsg`,
/// `parse_exthdrs`, `verify_address_len`, `verify_key_len`, `verify_sec_ctx_len`,
/// `parse_ipsecrequests`), applied to messages in both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The buffer ends before a structure that must be there.
    #[error("truncated {what} at byte {at}: needs {need} bytes, {have} present")]
    Truncated {
        /// What was being read (`"sadb_msg header"`, `"sockaddr"`).
        what: &'static str,
        /// Offset of the structure.
        at: usize,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// `sadb_msg_version` is not `PF_KEY_V2` (RFC 2367 §2.3.1).
    #[error("sadb_msg_version is {0}, expected 2 (PF_KEY_V2)")]
    BadVersion(u8),
    /// `sadb_msg_len` disagrees with the datagram length (af_key: `EMSGSIZE`).
    #[error("sadb_msg_len is {declared} words ({} bytes) but the message has {actual} bytes", *declared as usize * 8)]
    LengthMismatch {
        /// `sadb_msg_len`, in 64-bit words.
        declared: u16,
        /// Bytes actually present.
        actual: usize,
    },
    /// An extension of type 0 (`SADB_EXT_RESERVED`).
    #[error("extension at byte {at} has the reserved type 0")]
    ReservedExtension {
        /// Offset of the extension.
        at: usize,
    },
    /// `sadb_ext_len` is 0 or runs past the end of the message.
    #[error("{ext} extension at byte {at}: length {len_words} words ({} bytes) does not fit the {remaining} bytes left", *len_words as usize * 8)]
    BadExtensionLength {
        /// The extension's type.
        ext: ExtType,
        /// Offset of the extension.
        at: usize,
        /// `sadb_ext_len`, in 64-bit words.
        len_words: u16,
        /// Bytes from the extension's start to the end of the message.
        remaining: usize,
    },
    /// The extension is shorter than its structure (af_key `sadb_ext_min_len`).
    #[error("{ext} extension at byte {at}: {have} bytes, shorter than its {need}-byte structure")]
    ExtensionTooShort {
        /// The extension's type.
        ext: ExtType,
        /// Offset of the extension.
        at: usize,
        /// Minimum length in bytes.
        need: usize,
        /// Length in bytes.
        have: usize,
    },
    /// The same extension type appears twice (af_key: `EINVAL`).
    #[error("duplicate {ext} extension at byte {at} (the first is at byte {first})")]
    DuplicateExtension {
        /// The repeated type.
        ext: ExtType,
        /// Offset of the second occurrence.
        at: usize,
        /// Offset of the first occurrence.
        first: usize,
    },
    /// A sockaddr whose family is neither `AF_INET` nor `AF_INET6`.
    #[error("{ext} extension at byte {at}: address family {family} is neither AF_INET (2) nor AF_INET6 (10)")]
    UnsupportedFamily {
        /// The extension holding the sockaddr.
        ext: ExtType,
        /// Offset of the sockaddr.
        at: usize,
        /// `sa_family`.
        family: u16,
    },
    /// An address extension whose length is not exactly what its family needs
    /// (af_key `verify_address_len`: 3 words for IPv4, 5 for IPv6).
    #[error("{ext} extension at byte {at}: an {family} address extension must be {need} bytes, not {have}")]
    AddressLength {
        /// The extension.
        ext: ExtType,
        /// Offset of the extension.
        at: usize,
        /// `"IPv4"` or `"IPv6"`.
        family: &'static str,
        /// Required length in bytes.
        need: usize,
        /// Actual length in bytes.
        have: usize,
    },
    /// A prefix length longer than the address.
    #[error("{ext} extension at byte {at}: prefix length {prefix} exceeds {max}")]
    PrefixTooLong {
        /// The extension.
        ext: ExtType,
        /// Offset of the extension.
        at: usize,
        /// `sadb_address_prefixlen`.
        prefix: u8,
        /// 32 or 128.
        max: u8,
    },
    /// `sadb_key_bits` needs more bytes than the extension has (af_key `verify_key_len`).
    #[error("{ext} extension at byte {at}: a {bits}-bit key needs {need} bytes, the extension has {have}")]
    KeyOverrun {
        /// `KEY_AUTH` or `KEY_ENCRYPT`.
        ext: ExtType,
        /// Offset of the extension.
        at: usize,
        /// `sadb_key_bits`.
        bits: u16,
        /// Bytes needed (header and key, rounded up to 8).
        need: usize,
        /// Extension length in bytes.
        have: usize,
    },
    /// `sadb_x_sec_len` is not exactly what `sadb_x_ctx_len` needs, or the context is
    /// larger than a page (af_key `verify_sec_ctx_len`).
    #[error("X_SEC_CTX extension at byte {at}: a {ctx_len}-byte context needs a {need}-byte extension, found {have}")]
    SecCtxLength {
        /// Offset of the extension.
        at: usize,
        /// `sadb_x_ctx_len`.
        ctx_len: u16,
        /// Required extension length in bytes (0 when the context exceeds 4096 bytes).
        need: usize,
        /// Actual extension length in bytes.
        have: usize,
    },
    /// A policy request whose byte length is below 16 or beyond the policy
    /// (af_key `parse_ipsecrequests`).
    #[error("X_POLICY request at byte {at}: length {len} bytes {problem}")]
    BadRequest {
        /// Offset of the request.
        at: usize,
        /// `sadb_x_ipsecrequest_len`, in bytes.
        len: u16,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// Why a message could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The caller's buffer is too small.
    #[error("buffer too small: the message needs at least {need} bytes, the buffer has {have}")]
    BufferTooSmall {
        /// Bytes needed so far.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// The message would exceed 524 280 bytes, the most `sadb_msg_len` can express.
    #[error("message of {0} bytes exceeds the PF_KEY maximum of 524280 bytes")]
    MessageTooLong(usize),
    /// One extension would exceed what `sadb_ext_len` can express.
    #[error("{ext} extension of {len} bytes is too long for PF_KEY")]
    ExtensionTooLong {
        /// The extension.
        ext: ExtType,
        /// Its length in bytes.
        len: usize,
    },
    /// A key longer than `sadb_key_bits` (16 bits) can count.
    #[error("a key of {0} bytes is longer than PF_KEY's 8191-byte maximum")]
    KeyTooLong(usize),
    /// A value cannot be represented in its field.
    #[error("{ext}: {what}")]
    Unrepresentable {
        /// The extension.
        ext: ExtType,
        /// What does not fit.
        what: &'static str,
    },
}
