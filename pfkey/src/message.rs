//! A borrowed, validated view of one PF_KEY message: the header and its extensions.
//!
//! [`Message::parse`] applies the kernel's framing rules once (af_key.c
//! `pfkey_sendmsg` and `parse_exthdrs`); afterwards every accessor is infallible,
//! borrows from the buffer and copies nothing.
//!
//! # Panics
//!
//! Nothing in this module panics, whatever the input: every length is checked
//! before it is used, and all casts go through `zerocopy`'s checked conversions.
#![forbid(unsafe_code)]

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use zerocopy::FromBytes;

use crate::error::ParseError;
use crate::wire::*;

/// A validated PF_KEY v2 message borrowed from a buffer.
///
/// ```
/// # use pfkey::message::Message;
/// // A header-only FLUSH reply: version 2, type 9, satype ESP, 2 words.
/// let mut bytes = [0u8; 16];
/// bytes[0] = 2; bytes[1] = 9; bytes[3] = 3;
/// bytes[4..6].copy_from_slice(&2u16.to_ne_bytes());
/// let msg = Message::parse(&bytes)?;
/// assert_eq!(msg.msg_type(), pfkey::wire::MsgType::Flush);
/// assert_eq!(msg.extensions().count(), 0);
/// # Ok::<(), pfkey::ParseError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Message<'a> {
    buf: &'a [u8],
    header: &'a SadbMsg,
    /// Offset in 64-bit words of each known extension type (1..=26), 0 when absent.
    /// Extensions start on word boundaries and a message is at most `u16::MAX`
    /// words, so a word offset fits in 16 bits (and keeps `Message` small).
    index: [u16; SADB_EXT_MAX as usize + 1],
}

impl<'a> Message<'a> {
    /// Validates `buf` as exactly one message and returns a view of it.
    ///
    /// Checks, in the kernel's order: a 16-byte header, version 2, `sadb_msg_len`
    /// equal to the buffer length, then for each extension: a 4-byte header, a
    /// non-zero length inside the message, a non-zero type, the minimum length of its
    /// structure, no duplicate of a known type, and the per-type rules (exact
    /// address lengths, prefix lengths, key bits inside the extension, security
    /// context length, policy request lengths and tunnel addresses). Extension types
    /// above 26 are kept as [`Ext::Unknown`]. A non-zero `sadb_msg_reserved` (the
    /// policy refcount in Linux SPD replies) and unknown enumeration values are
    /// accepted.
    pub fn parse(buf: &'a [u8]) -> Result<Self, ParseError> {
        let (header, body) = SadbMsg::ref_from_prefix(buf).map_err(|_| ParseError::Truncated {
            what: "sadb_msg header",
            at: 0,
            need: SadbMsg::SIZE,
            have: buf.len(),
        })?;
        if header.version != PF_KEY_V2 {
            return Err(ParseError::BadVersion(header.version));
        }
        let declared = header.len.get();
        if declared as usize * WORD != buf.len() {
            return Err(ParseError::LengthMismatch {
                declared,
                actual: buf.len(),
            });
        }
        // One pass frames, checks and indexes each extension (af_key `parse_exthdrs`),
        // in words: the body is whole words, as `sadb_msg_len` counts them.
        let (mut rest, _) = body.as_chunks::<WORD>();
        let mut index = [0u16; SADB_EXT_MAX as usize + 1];
        let mut at = SadbMsg::SIZE / WORD;
        while !rest.is_empty() {
            let Some((ext_type, ext, tail)) = split_ext(rest) else {
                return Err(frame_error(rest, at * WORD));
            };
            check_ext(ext_type, ext.as_flattened(), at * WORD)?;
            if let Some(slot) = index.get_mut(ext_type as usize) {
                if *slot != 0 {
                    return Err(ParseError::DuplicateExtension {
                        ext: ExtType::from_value(ext_type),
                        at: at * WORD,
                        first: *slot as usize * WORD,
                    });
                }
                // A message is at most `u16::MAX` words: the offset fits.
                *slot = at as u16;
            }
            at += ext.len();
            rest = tail;
        }
        Ok(Message { buf, header, index })
    }

    /// The whole message.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The base header.
    #[inline]
    pub fn header(&self) -> &'a SadbMsg {
        self.header
    }

    /// `sadb_msg_type`.
    #[inline]
    pub fn msg_type(&self) -> MsgType {
        MsgType::from_value(self.header.msg_type)
    }

    /// `sadb_msg_satype`.
    #[inline]
    pub fn satype(&self) -> SaType {
        SaType::from_value(self.header.satype)
    }

    /// `sadb_msg_errno`: 0, or the errno of a kernel error reply.
    #[inline]
    pub fn errno(&self) -> u8 {
        self.header.errno
    }

    /// `sadb_msg_seq`.
    #[inline]
    pub fn seq(&self) -> u32 {
        self.header.seq.get()
    }

    /// `sadb_msg_pid`: the requester's pid, 0 for kernel-originated messages.
    #[inline]
    pub fn pid(&self) -> u32 {
        self.header.pid.get()
    }

    /// `sadb_msg_reserved` (Linux: policy refcount in SPD replies).
    #[inline]
    pub fn reserved(&self) -> u16 {
        self.header.reserved.get()
    }

    /// Every extension in wire order, unknown types included.
    #[inline]
    pub fn extensions(&self) -> Extensions<'a> {
        let body = self.buf.get(SadbMsg::SIZE..).unwrap_or_default();
        Extensions {
            rest: body.as_chunks().0,
            at: SadbMsg::SIZE / WORD,
        }
    }

    /// The raw bytes (header included) of the extension of a known type.
    pub fn raw_extension(&self, ext: ExtType) -> Option<&'a [u8]> {
        self.located(ext).map(|(bytes, _)| bytes)
    }

    /// The bytes and offset of the extension of a known type, found through the index
    /// `parse` built: no search and no dispatch on the type.
    #[inline]
    fn located(&self, ext: ExtType) -> Option<(&'a [u8], usize)> {
        let at = *self.index.get(ext.value() as usize)? as usize;
        if at == 0 {
            return None;
        }
        let (_, ext, _) = split_ext(self.buf.as_chunks().0.get(at..)?)?;
        Some((ext.as_flattened(), at * WORD))
    }

    /// The fixed structure of the extension of type `ext`.
    #[inline]
    fn fixed<T>(&self, ext: ExtType) -> Option<&'a T>
    where
        T: FromBytes + zerocopy::KnownLayout + zerocopy::Immutable,
    {
        let (bytes, _) = self.located(ext)?;
        T::ref_from_prefix(bytes).ok().map(|(v, _)| v)
    }

    /// The view of the extension of type `ext`, built by `decode` (one of the
    /// per-kind decoders [`decode_ext`] dispatches to).
    #[inline]
    fn view<V>(&self, ext: ExtType, decode: Decoder<'a, V, NoView>) -> Option<V> {
        let (bytes, at) = self.located(ext)?;
        decode(bytes, ext, at).ok()
    }

    /// `SADB_EXT_SA`.
    #[inline]
    pub fn sa(&self) -> Option<&'a SadbSa> {
        self.fixed(ExtType::Sa)
    }

    /// `SADB_EXT_LIFETIME_CURRENT`.
    #[inline]
    pub fn lifetime_current(&self) -> Option<&'a SadbLifetime> {
        self.fixed(ExtType::LifetimeCurrent)
    }

    /// `SADB_EXT_LIFETIME_HARD`.
    #[inline]
    pub fn lifetime_hard(&self) -> Option<&'a SadbLifetime> {
        self.fixed(ExtType::LifetimeHard)
    }

    /// `SADB_EXT_LIFETIME_SOFT`.
    #[inline]
    pub fn lifetime_soft(&self) -> Option<&'a SadbLifetime> {
        self.fixed(ExtType::LifetimeSoft)
    }

    /// `SADB_EXT_ADDRESS_SRC`.
    #[inline]
    pub fn src(&self) -> Option<AddressView<'a>> {
        self.view(ExtType::AddressSrc, address_view)
    }

    /// `SADB_EXT_ADDRESS_DST`.
    #[inline]
    pub fn dst(&self) -> Option<AddressView<'a>> {
        self.view(ExtType::AddressDst, address_view)
    }

    /// `SADB_EXT_ADDRESS_PROXY` (Linux: the inner source selector).
    #[inline]
    pub fn proxy(&self) -> Option<AddressView<'a>> {
        self.view(ExtType::AddressProxy, address_view)
    }

    /// `SADB_X_EXT_NAT_T_OA`: the NAT-T original address.
    #[inline]
    pub fn nat_t_oa(&self) -> Option<AddressView<'a>> {
        self.view(ExtType::NatTOa, address_view)
    }

    /// `SADB_EXT_KEY_AUTH`.
    #[inline]
    pub fn key_auth(&self) -> Option<KeyView<'a>> {
        self.view(ExtType::KeyAuth, key_view)
    }

    /// `SADB_EXT_KEY_ENCRYPT`.
    #[inline]
    pub fn key_encrypt(&self) -> Option<KeyView<'a>> {
        self.view(ExtType::KeyEncrypt, key_view)
    }

    /// `SADB_EXT_IDENTITY_SRC`.
    #[inline]
    pub fn identity_src(&self) -> Option<IdentityView<'a>> {
        self.view(ExtType::IdentitySrc, identity_view)
    }

    /// `SADB_EXT_IDENTITY_DST`.
    #[inline]
    pub fn identity_dst(&self) -> Option<IdentityView<'a>> {
        self.view(ExtType::IdentityDst, identity_view)
    }

    /// `SADB_EXT_SENSITIVITY`.
    #[inline]
    pub fn sensitivity(&self) -> Option<SensitivityView<'a>> {
        self.view(ExtType::Sensitivity, sensitivity_view)
    }

    /// `SADB_EXT_PROPOSAL`.
    #[inline]
    pub fn proposal(&self) -> Option<ProposalView<'a>> {
        self.view(ExtType::Proposal, proposal_view)
    }

    /// `SADB_EXT_SUPPORTED_AUTH`.
    #[inline]
    pub fn supported_auth(&self) -> Option<SupportedView<'a>> {
        self.view(ExtType::SupportedAuth, supported_view)
    }

    /// `SADB_EXT_SUPPORTED_ENCRYPT`.
    #[inline]
    pub fn supported_encrypt(&self) -> Option<SupportedView<'a>> {
        self.view(ExtType::SupportedEncrypt, supported_view)
    }

    /// `SADB_EXT_SPIRANGE`.
    #[inline]
    pub fn spirange(&self) -> Option<&'a SadbSpirange> {
        self.fixed(ExtType::SpiRange)
    }

    /// `SADB_X_EXT_POLICY`.
    #[inline]
    pub fn policy(&self) -> Option<PolicyView<'a>> {
        self.view(ExtType::Policy, policy_view)
    }

    /// `SADB_X_EXT_SA2`.
    #[inline]
    pub fn sa2(&self) -> Option<&'a SadbXSa2> {
        self.fixed(ExtType::Sa2)
    }

    /// `SADB_X_EXT_NAT_T_TYPE`.
    #[inline]
    pub fn nat_t_type(&self) -> Option<&'a SadbXNatTType> {
        self.fixed(ExtType::NatTType)
    }

    /// `SADB_X_EXT_NAT_T_SPORT`, as a host-order port.
    #[inline]
    pub fn nat_t_sport(&self) -> Option<u16> {
        self.fixed::<SadbXNatTPort>(ExtType::NatTSport)
            .map(|p| p.port.get())
    }

    /// `SADB_X_EXT_NAT_T_DPORT`, as a host-order port.
    #[inline]
    pub fn nat_t_dport(&self) -> Option<u16> {
        self.fixed::<SadbXNatTPort>(ExtType::NatTDport)
            .map(|p| p.port.get())
    }

    /// `SADB_X_EXT_SEC_CTX`.
    #[inline]
    pub fn sec_ctx(&self) -> Option<SecCtxView<'a>> {
        self.view(ExtType::SecCtx, sec_ctx_view)
    }

    /// `SADB_X_EXT_KMADDRESS`.
    #[inline]
    pub fn kmaddress(&self) -> Option<KmAddressView<'a>> {
        self.view(ExtType::KmAddress, kmaddress_view)
    }

    /// `SADB_X_EXT_FILTER`.
    #[inline]
    pub fn filter(&self) -> Option<&'a SadbXFilter> {
        self.fixed(ExtType::Filter)
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("type", &self.msg_type())
            .field("satype", &self.satype())
            .field("errno", &self.errno())
            .field("seq", &self.seq())
            .field("pid", &self.pid())
            .field("extensions", &self.extensions().collect::<ExtList<'_>>())
            .finish()
    }
}

/// Helper so `Debug` of a message can list extensions without allocating a `Vec`
/// in the caller's view of things.
struct ExtList<'a>(Vec<Ext<'a>>);

impl<'a> FromIterator<Ext<'a>> for ExtList<'a> {
    fn from_iter<I: IntoIterator<Item = Ext<'a>>>(iter: I) -> Self {
        ExtList(iter.into_iter().collect())
    }
}

impl fmt::Debug for ExtList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

/// Iterator over the extensions of a [`Message`], in wire order.
#[derive(Clone)]
pub struct Extensions<'a> {
    /// The extensions not yet returned.
    rest: &'a [Word],
    /// Offset of `rest` in the message, in words.
    at: usize,
}

impl<'a> Iterator for Extensions<'a> {
    type Item = Ext<'a>;

    // Inlined into the caller, so that the decoder's dispatch on the type and the
    // caller's `match` on the returned `Ext` fold into one (about half the cost of a
    // walk, callgrind).
    #[inline(always)]
    fn next(&mut self) -> Option<Ext<'a>> {
        // The message was validated by `Message::parse`: the extension is framed and
        // decoded without building errors; should the bytes ever not hold, the
        // iteration ends instead of panicking.
        let (t, ext, tail) = split_ext(self.rest)?;
        let at = self.at * WORD;
        self.rest = tail;
        self.at += ext.len();
        let ext = decode_ext::<NoView>(t, ext.as_flattened(), at).ok();
        if ext.is_none() {
            self.rest = &[];
        }
        ext
    }
}

/// One extension, decoded in place.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Ext<'a> {
    /// `SADB_EXT_SA`.
    Sa(&'a SadbSa),
    /// `SADB_EXT_LIFETIME_{CURRENT,HARD,SOFT}`.
    Lifetime(ExtType, &'a SadbLifetime),
    /// `SADB_EXT_ADDRESS_{SRC,DST,PROXY}` and `SADB_X_EXT_NAT_T_OA`.
    Address(ExtType, AddressView<'a>),
    /// `SADB_EXT_KEY_{AUTH,ENCRYPT}`.
    Key(ExtType, KeyView<'a>),
    /// `SADB_EXT_IDENTITY_{SRC,DST}`.
    Identity(ExtType, IdentityView<'a>),
    /// `SADB_EXT_SENSITIVITY`.
    Sensitivity(SensitivityView<'a>),
    /// `SADB_EXT_PROPOSAL`.
    Proposal(ProposalView<'a>),
    /// `SADB_EXT_SUPPORTED_{AUTH,ENCRYPT}`.
    Supported(ExtType, SupportedView<'a>),
    /// `SADB_EXT_SPIRANGE`.
    SpiRange(&'a SadbSpirange),
    /// `SADB_X_EXT_KMPRIVATE`: the whole extension, header included.
    KmPrivate(&'a [u8]),
    /// `SADB_X_EXT_POLICY`.
    Policy(PolicyView<'a>),
    /// `SADB_X_EXT_SA2`.
    Sa2(&'a SadbXSa2),
    /// `SADB_X_EXT_NAT_T_TYPE`.
    NatTType(&'a SadbXNatTType),
    /// `SADB_X_EXT_NAT_T_{SPORT,DPORT}`.
    NatTPort(ExtType, &'a SadbXNatTPort),
    /// `SADB_X_EXT_SEC_CTX`.
    SecCtx(SecCtxView<'a>),
    /// `SADB_X_EXT_KMADDRESS`.
    KmAddress(KmAddressView<'a>),
    /// `SADB_X_EXT_FILTER`.
    Filter(&'a SadbXFilter),
    /// A type above `SADB_EXT_MAX`: kept whole (header included) so it round-trips.
    Unknown {
        /// `sadb_ext_type`.
        ext_type: u16,
        /// The whole extension, header included.
        bytes: &'a [u8],
    },
}

impl Ext<'_> {
    /// The extension's type.
    pub fn ext_type(&self) -> ExtType {
        match self {
            Ext::Sa(_) => ExtType::Sa,
            Ext::Lifetime(t, _)
            | Ext::Address(t, _)
            | Ext::Key(t, _)
            | Ext::Identity(t, _)
            | Ext::Supported(t, _)
            | Ext::NatTPort(t, _) => *t,
            Ext::Sensitivity(_) => ExtType::Sensitivity,
            Ext::Proposal(_) => ExtType::Proposal,
            Ext::SpiRange(_) => ExtType::SpiRange,
            Ext::KmPrivate(_) => ExtType::KmPrivate,
            Ext::Policy(_) => ExtType::Policy,
            Ext::Sa2(_) => ExtType::Sa2,
            Ext::NatTType(_) => ExtType::NatTType,
            Ext::SecCtx(_) => ExtType::SecCtx,
            Ext::KmAddress(_) => ExtType::KmAddress,
            Ext::Filter(_) => ExtType::Filter,
            Ext::Unknown { ext_type, .. } => ExtType::from_value(*ext_type),
        }
    }
}

/// An address extension: `sadb_address` and its sockaddr.
#[derive(Clone, Copy)]
pub struct AddressView<'a> {
    header: &'a SadbAddress,
    addr: SockRef<'a>,
}

impl<'a> AddressView<'a> {
    /// The fixed header.
    #[inline]
    pub fn header(&self) -> &'a SadbAddress {
        self.header
    }
    /// `sadb_address_proto`: upper-layer protocol, 255 ([`IPSEC_ULPROTO_ANY`]) for any.
    #[inline]
    pub fn proto(&self) -> u8 {
        self.header.proto
    }
    /// `sadb_address_prefixlen`.
    #[inline]
    pub fn prefix_len(&self) -> u8 {
        self.header.prefixlen
    }
    /// The address and port (with flow label and scope for IPv6).
    #[inline]
    pub fn socket_addr(&self) -> SocketAddr {
        self.addr.socket_addr()
    }
    /// The IP address.
    #[inline]
    pub fn ip(&self) -> IpAddr {
        self.socket_addr().ip()
    }
    /// The port (host order), 0 for any.
    #[inline]
    pub fn port(&self) -> u16 {
        self.socket_addr().port()
    }
}

impl fmt::Debug for AddressView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} proto {}",
            self.socket_addr(),
            self.header.prefixlen,
            self.header.proto
        )
    }
}

/// A key extension. `Debug` never shows the key.
#[derive(Clone, Copy)]
pub struct KeyView<'a> {
    header: &'a SadbKey,
    data: &'a [u8],
}

impl<'a> KeyView<'a> {
    /// The fixed header.
    #[inline]
    pub fn header(&self) -> &'a SadbKey {
        self.header
    }
    /// `sadb_key_bits`.
    #[inline]
    pub fn bits(&self) -> u16 {
        self.header.bits.get()
    }
    /// The key: `ceil(bits / 8)` bytes, without padding. This is secret material.
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }
}

impl fmt::Debug for KeyView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({} bits, redacted)", self.bits())
    }
}

/// An identity extension: `sadb_ident` and its string.
#[derive(Debug, Clone, Copy)]
pub struct IdentityView<'a> {
    header: &'a SadbIdent,
    data: &'a [u8],
}

impl<'a> IdentityView<'a> {
    /// The fixed header.
    #[inline]
    pub fn header(&self) -> &'a SadbIdent {
        self.header
    }
    /// The bytes after the header, padding included.
    #[inline]
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
    /// The identity string up to its first NUL.
    pub fn text(&self) -> &'a [u8] {
        let end = self
            .data
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.data.len());
        &self.data[..end]
    }
}

/// A sensitivity extension: `sadb_sens` and its bitmaps.
#[derive(Debug, Clone, Copy)]
pub struct SensitivityView<'a> {
    header: &'a SadbSens,
    data: &'a [u8],
}

impl<'a> SensitivityView<'a> {
    /// The fixed header.
    #[inline]
    pub fn header(&self) -> &'a SadbSens {
        self.header
    }
    /// The bytes after the header (sensitivity then integrity bitmaps).
    #[inline]
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

/// A proposal extension: `sadb_prop` and its combinations.
#[derive(Debug, Clone, Copy)]
pub struct ProposalView<'a> {
    header: &'a SadbProp,
    combs: &'a [SadbComb],
    trailing: &'a [u8],
}

impl<'a> ProposalView<'a> {
    /// The fixed header.
    #[inline]
    pub fn header(&self) -> &'a SadbProp {
        self.header
    }
    /// The combinations, in order of preference.
    #[inline]
    pub fn combs(&self) -> &'a [SadbComb] {
        self.combs
    }
    /// Bytes after the last whole combination (normally empty).
    #[inline]
    pub fn trailing(&self) -> &'a [u8] {
        self.trailing
    }
}

/// A supported-algorithms extension: `sadb_supported` and its `sadb_alg`s.
#[derive(Debug, Clone, Copy)]
pub struct SupportedView<'a> {
    header: &'a SadbSupported,
    algs: &'a [SadbAlg],
}

impl<'a> SupportedView<'a> {
    /// The fixed header.
    #[inline]
    pub fn header(&self) -> &'a SadbSupported {
        self.header
    }
    /// The algorithms.
    #[inline]
    pub fn algs(&self) -> &'a [SadbAlg] {
        self.algs
    }
}

/// A policy extension: `sadb_x_policy` and its IPsec requests.
#[derive(Debug, Clone, Copy)]
pub struct PolicyView<'a> {
    header: &'a SadbXPolicy,
    requests: &'a [u8],
    at: usize,
}

impl<'a> PolicyView<'a> {
    /// The fixed header.
    #[inline]
    pub fn header(&self) -> &'a SadbXPolicy {
        self.header
    }
    /// `sadb_x_policy_type`.
    #[inline]
    pub fn policy_type(&self) -> PolicyType {
        PolicyType::from_value(self.header.policy_type.get())
    }
    /// `sadb_x_policy_dir`.
    #[inline]
    pub fn dir(&self) -> Direction {
        Direction::from_value(self.header.dir)
    }
    /// `sadb_x_policy_id`.
    #[inline]
    pub fn id(&self) -> u32 {
        self.header.id.get()
    }
    /// `sadb_x_policy_priority`.
    #[inline]
    pub fn priority(&self) -> u32 {
        self.header.priority.get()
    }
    /// The IPsec requests (templates), in order.
    pub fn requests(&self) -> Requests<'a> {
        Requests {
            buf: self.requests,
            pos: 0,
            base: self.at + SadbXPolicy::SIZE,
        }
    }
    /// The bytes after the header: the requests and anything after the last one.
    #[inline]
    pub fn request_bytes(&self) -> &'a [u8] {
        self.requests
    }
}

/// Iterator over the requests of a policy.
#[derive(Debug, Clone)]
pub struct Requests<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Iterator for Requests<'a> {
    type Item = RequestView<'a>;

    fn next(&mut self) -> Option<RequestView<'a>> {
        let rest = self.buf.get(self.pos..)?;
        match next_request(rest, self.base + self.pos) {
            Ok(Some((req, used))) => {
                self.pos += used;
                Some(req)
            }
            _ => {
                self.pos = self.buf.len();
                None
            }
        }
    }
}

/// One `sadb_x_ipsecrequest`, with its tunnel endpoints in tunnel mode.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    header: &'a SadbXIpsecrequest,
    tunnel: Option<(SocketAddr, SocketAddr)>,
    bytes: &'a [u8],
}

impl<'a> RequestView<'a> {
    /// The fixed header.
    #[inline]
    pub fn header(&self) -> &'a SadbXIpsecrequest {
        self.header
    }
    /// `sadb_x_ipsecrequest_proto` as an SA type, if it is AH, ESP or IPComp.
    #[inline]
    pub fn satype(&self) -> Option<SaType> {
        SaType::from_ip_proto(self.header.proto.get())
    }
    /// `sadb_x_ipsecrequest_mode`.
    #[inline]
    pub fn mode(&self) -> Mode {
        Mode::from_value(self.header.mode)
    }
    /// `sadb_x_ipsecrequest_level`.
    #[inline]
    pub fn level(&self) -> Level {
        Level::from_value(self.header.level)
    }
    /// `sadb_x_ipsecrequest_reqid`.
    #[inline]
    pub fn reqid(&self) -> u32 {
        self.header.reqid.get()
    }
    /// Tunnel endpoints (source, destination), present in tunnel mode.
    #[inline]
    pub fn tunnel(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.tunnel
    }
    /// The request's bytes (`sadb_x_ipsecrequest_len` of them).
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// A security context extension: `sadb_x_sec_ctx` and the context string.
#[derive(Debug, Clone, Copy)]
pub struct SecCtxView<'a> {
    header: &'a SadbXSecCtx,
    ctx: &'a [u8],
}

impl<'a> SecCtxView<'a> {
    /// The fixed header.
    #[inline]
    pub fn header(&self) -> &'a SadbXSecCtx {
        self.header
    }
    /// The context (`sadb_x_ctx_len` bytes).
    #[inline]
    pub fn context(&self) -> &'a [u8] {
        self.ctx
    }
}

/// A key manager address extension: local and remote addresses.
#[derive(Debug, Clone, Copy)]
pub struct KmAddressView<'a> {
    header: &'a SadbXKmaddress,
    local: SockRef<'a>,
    remote: SockRef<'a>,
}

impl<'a> KmAddressView<'a> {
    /// The fixed header.
    #[inline]
    pub fn header(&self) -> &'a SadbXKmaddress {
        self.header
    }
    /// The local key manager address.
    #[inline]
    pub fn local(&self) -> SocketAddr {
        self.local.socket_addr()
    }
    /// The remote key manager address.
    #[inline]
    pub fn remote(&self) -> SocketAddr {
        self.remote.socket_addr()
    }
}

/// One 64-bit word: the unit of `sadb_msg_len` and `sadb_ext_len`, and the alignment
/// of every extension (RFC 2367 §2.2).
type Word = [u8; WORD];

/// Splits off the extension at the start of `rest` (af_key `parse_exthdrs` steps 1–2:
/// a length of at least one word, inside the message): its raw type, its words
/// (header included) and the words after it. `None` when the length does not hold,
/// which [`frame_error`] then reports. The type is not checked here: type 0
/// (`SADB_EXT_RESERVED`) is refused by the decoder.
#[inline(always)]
fn split_ext(rest: &[Word]) -> Option<(u16, &[Word], &[Word])> {
    let (header, _) = SadbExt::ref_from_prefix(rest.first()?).ok()?;
    let (ext, tail) = rest.split_at_checked(header.len.get() as usize)?;
    if ext.is_empty() {
        return None;
    }
    Some((header.ext_type.get(), ext, tail))
}

/// Why [`split_ext`] refused the extension at byte `at`, whose words to the end of
/// the message are `rest`.
#[cold]
#[inline(never)]
fn frame_error(rest: &[Word], at: usize) -> ParseError {
    let (len_words, ext_type) = rest.first().map_or((0, 0), |w| {
        (
            u16::from_ne_bytes([w[0], w[1]]),
            u16::from_ne_bytes([w[2], w[3]]),
        )
    });
    ParseError::BadExtensionLength {
        ext: ExtType::from_value(ext_type),
        at,
        len_words,
        remaining: rest.len() * WORD,
    }
}

/// Casts the fixed header of an extension, reporting a too-short extension.
#[inline]
fn head<T>(bytes: &[u8], ext: ExtType, at: usize) -> Result<(&T, &[u8]), ParseError>
where
    T: FromBytes + zerocopy::KnownLayout + zerocopy::Immutable,
{
    T::ref_from_prefix(bytes).map_err(|_| ParseError::ExtensionTooShort {
        ext,
        at,
        need: core::mem::size_of::<T>(),
        have: bytes.len(),
    })
}

/// What [`check_ext`]'s fast path checks of an extension of a known type, beyond the
/// minimum length of its structure (af_key `sadb_ext_min_len`).
#[derive(Clone, Copy)]
enum Rule {
    /// Nothing more.
    Plain,
    /// af_key `verify_address_len`: AF_INET in exactly 3 words with a prefix ≤ 32,
    /// AF_INET6 in exactly 5 words with a prefix ≤ 128.
    Address,
    /// af_key `verify_key_len`: `sadb_key_bits` fit inside the extension.
    Key,
    /// af_key `verify_sec_ctx_len`: a context of at most 4096 bytes that fills the
    /// extension, padded to a word.
    SecCtx,
    /// A walk (the policy's requests, KMADDRESS's two sockaddrs) or the reserved
    /// type: left to the full decoder.
    Full,
}

impl Rule {
    /// The fast path's rule and minimum length for an extension type.
    const fn of(ext: ExtType) -> (Rule, u8) {
        let (rule, min) = match ext {
            ExtType::Sa => (Rule::Plain, SadbSa::SIZE),
            ExtType::LifetimeCurrent | ExtType::LifetimeHard | ExtType::LifetimeSoft => {
                (Rule::Plain, SadbLifetime::SIZE)
            }
            ExtType::AddressSrc | ExtType::AddressDst | ExtType::AddressProxy | ExtType::NatTOa => {
                (Rule::Address, SadbAddress::SIZE)
            }
            ExtType::KeyAuth | ExtType::KeyEncrypt => (Rule::Key, SadbKey::SIZE),
            ExtType::IdentitySrc | ExtType::IdentityDst => (Rule::Plain, SadbIdent::SIZE),
            ExtType::Sensitivity => (Rule::Plain, SadbSens::SIZE),
            ExtType::Proposal => (Rule::Plain, SadbProp::SIZE),
            ExtType::SupportedAuth | ExtType::SupportedEncrypt => {
                (Rule::Plain, SadbSupported::SIZE)
            }
            ExtType::SpiRange => (Rule::Plain, SadbSpirange::SIZE),
            ExtType::KmPrivate => (Rule::Plain, SadbXKmprivate::SIZE),
            ExtType::Sa2 => (Rule::Plain, SadbXSa2::SIZE),
            ExtType::NatTType => (Rule::Plain, SadbXNatTType::SIZE),
            ExtType::NatTSport | ExtType::NatTDport => (Rule::Plain, SadbXNatTPort::SIZE),
            ExtType::SecCtx => (Rule::SecCtx, SadbXSecCtx::SIZE),
            ExtType::Filter => (Rule::Plain, SadbXFilter::SIZE),
            ExtType::Policy | ExtType::KmAddress | ExtType::Reserved | ExtType::Unknown(_) => {
                (Rule::Full, 0)
            }
        };
        (rule, min as u8)
    }

    /// Whether an extension at least as long as its structure passes the rule.
    #[inline(always)]
    fn holds(self, bytes: &[u8]) -> bool {
        let len = bytes.len();
        match self {
            Rule::Plain => true,
            Rule::Address => {
                let prefix = bytes.get(5).copied().unwrap_or(u8::MAX);
                match bytes.get(8..10).map(|f| u16::from_ne_bytes([f[0], f[1]])) {
                    Some(AF_INET) => len == 24 && prefix <= 32,
                    Some(AF_INET6) => len == 40 && prefix <= 128,
                    _ => false,
                }
            }
            Rule::Key => match SadbKey::ref_from_prefix(bytes) {
                // `align8(8 + ceil(bits / 8)) <= len`: the left side is whole words, so
                // it holds when the key fits the whole words after the header.
                Ok((key, _)) => {
                    let room = (len & !(WORD - 1)).saturating_sub(SadbKey::SIZE);
                    key.bits.get() as usize <= room * 8
                }
                Err(_) => false,
            },
            Rule::SecCtx => match bytes.get(6..8) {
                Some(b) => {
                    let ctx_len = u16::from_ne_bytes([b[0], b[1]]) as usize;
                    ctx_len <= 4096 && align8(SadbXSecCtx::SIZE + ctx_len) == len
                }
                None => false,
            },
            Rule::Full => false,
        }
    }
}

/// [`Rule::of`] for each type up to `SADB_EXT_MAX`, indexed by type: a plain
/// extension is checked with one lookup and one comparison.
const RULES: [(Rule, u8); SADB_EXT_MAX as usize + 1] = {
    let mut rules = [(Rule::Full, 0); SADB_EXT_MAX as usize + 1];
    let mut t = 0;
    while t < rules.len() {
        rules[t] = Rule::of(ExtType::from_value(t as u16));
        t += 1;
    }
    rules
};

/// Validates one extension's contents: exactly [`parse_ext`]'s verdict (and error),
/// without building the view. Valid extensions take a fast path of plain length and
/// field checks ([`RULES`]); anything that fails it (and the policy and KMADDRESS
/// extensions, whose check is a walk) goes through [`parse_ext`], which names the
/// fault. Types above `SADB_EXT_MAX` are accepted (af_key skips them).
#[inline(always)]
fn check_ext(t: u16, bytes: &[u8], at: usize) -> Result<(), ParseError> {
    let Some(&(rule, min)) = RULES.get(t as usize) else {
        return Ok(());
    };
    if bytes.len() >= min as usize && (matches!(rule, Rule::Plain) || rule.holds(bytes)) {
        Ok(())
    } else {
        check_ext_slow(t, bytes, at)
    }
}

/// The full check, through the decoder (see [`check_ext`]).
#[cold]
#[inline(never)]
fn check_ext_slow(t: u16, bytes: &[u8], at: usize) -> Result<(), ParseError> {
    parse_ext(t, bytes, at).map(drop)
}

/// Decodes and validates one extension's contents (af_key `parse_exthdrs` steps 3–8).
#[inline]
pub(crate) fn parse_ext(t: u16, bytes: &[u8], at: usize) -> Result<Ext<'_>, ParseError> {
    decode_ext::<ParseError>(t, bytes, at)
}

/// How [`decode_ext`] reports a fault: with the full [`ParseError`] (validation), or
/// as a bare [`NoView`] for an extension of a message `Message::parse` already
/// validated (the iterator and the typed accessors), where no error is shown and
/// the zero-sized fault keeps the result as small as an `Option<Ext>`.
trait Fault: From<ParseError> {
    /// Whether to apply every rule of [`Message::parse`], or only what building the
    /// view needs.
    const CHECK: bool;
}

impl Fault for ParseError {
    const CHECK: bool = true;
}

/// The view of an extension could not be built (see [`Fault`]).
struct NoView;

impl From<ParseError> for NoView {
    #[inline(always)]
    fn from(_: ParseError) -> Self {
        NoView
    }
}

impl Fault for NoView {
    const CHECK: bool = false;
}

/// A per-kind decoder of [`decode_ext`]: an extension's bytes (header included), its
/// type and its offset in the message to its view. The typed accessors of
/// [`Message`] call them directly, without the dispatch on the type.
type Decoder<'a, V, E> = fn(&'a [u8], ExtType, usize) -> Result<V, E>;

/// Decodes one extension. With `E::CHECK`, applies every rule of [`Message::parse`];
/// without, only what building the view needs (for extensions of a message that
/// `Message::parse` already validated: the iterator and the typed accessors).
/// Either way nothing panics: a view that cannot be built is an error.
///
/// Always inlined, so that in the iterator its dispatch on the type and the caller's
/// `match` on the result fold into one.
#[inline(always)]
fn decode_ext<E: Fault>(t: u16, bytes: &[u8], at: usize) -> Result<Ext<'_>, E> {
    use raw::*;
    // Matching the raw value, and converting it in each arm rather than before the
    // match, spares the conversion on the way to the arms that do not use it
    // (-3 instructions per extension in a walk, callgrind).
    let et = || ExtType::from_value(t);
    Ok(match t {
        SA => Ext::Sa(head(bytes, et(), at)?.0),
        LIFETIME_CURRENT | LIFETIME_HARD | LIFETIME_SOFT => {
            Ext::Lifetime(et(), head(bytes, et(), at)?.0)
        }
        ADDRESS_SRC | ADDRESS_DST | ADDRESS_PROXY | NAT_T_OA => {
            Ext::Address(et(), address_view::<E>(bytes, et(), at)?)
        }
        KEY_AUTH | KEY_ENCRYPT => Ext::Key(et(), key_view::<E>(bytes, et(), at)?),
        IDENTITY_SRC | IDENTITY_DST => Ext::Identity(et(), identity_view::<E>(bytes, et(), at)?),
        SENSITIVITY => Ext::Sensitivity(sensitivity_view::<E>(bytes, et(), at)?),
        PROPOSAL => Ext::Proposal(proposal_view::<E>(bytes, et(), at)?),
        SUPPORTED_AUTH | SUPPORTED_ENCRYPT => {
            Ext::Supported(et(), supported_view::<E>(bytes, et(), at)?)
        }
        SPIRANGE => Ext::SpiRange(head(bytes, et(), at)?.0),
        KMPRIVATE => {
            head::<SadbXKmprivate>(bytes, et(), at)?;
            Ext::KmPrivate(bytes)
        }
        POLICY => Ext::Policy(policy_view::<E>(bytes, et(), at)?),
        SA2 => Ext::Sa2(head(bytes, et(), at)?.0),
        NAT_T_TYPE => Ext::NatTType(head(bytes, et(), at)?.0),
        NAT_T_SPORT | NAT_T_DPORT => Ext::NatTPort(et(), head(bytes, et(), at)?.0),
        SEC_CTX => Ext::SecCtx(sec_ctx_view::<E>(bytes, et(), at)?),
        KMADDRESS => Ext::KmAddress(kmaddress_view::<E>(bytes, et(), at)?),
        FILTER => Ext::Filter(head(bytes, et(), at)?.0),
        RESERVED => return Err(ParseError::ReservedExtension { at }.into()),
        ext_type => Ext::Unknown { ext_type, bytes },
    })
}

/// Raw `sadb_ext_type` values (`linux/pfkeyv2.h` `SADB_EXT_*`, `SADB_X_EXT_*`), so
/// that [`decode_ext`] matches the wire value without first converting it.
mod raw {
    use crate::wire::ExtType;

    pub(super) const RESERVED: u16 = ExtType::Reserved.value();
    pub(super) const SA: u16 = ExtType::Sa.value();
    pub(super) const LIFETIME_CURRENT: u16 = ExtType::LifetimeCurrent.value();
    pub(super) const LIFETIME_HARD: u16 = ExtType::LifetimeHard.value();
    pub(super) const LIFETIME_SOFT: u16 = ExtType::LifetimeSoft.value();
    pub(super) const ADDRESS_SRC: u16 = ExtType::AddressSrc.value();
    pub(super) const ADDRESS_DST: u16 = ExtType::AddressDst.value();
    pub(super) const ADDRESS_PROXY: u16 = ExtType::AddressProxy.value();
    pub(super) const KEY_AUTH: u16 = ExtType::KeyAuth.value();
    pub(super) const KEY_ENCRYPT: u16 = ExtType::KeyEncrypt.value();
    pub(super) const IDENTITY_SRC: u16 = ExtType::IdentitySrc.value();
    pub(super) const IDENTITY_DST: u16 = ExtType::IdentityDst.value();
    pub(super) const SENSITIVITY: u16 = ExtType::Sensitivity.value();
    pub(super) const PROPOSAL: u16 = ExtType::Proposal.value();
    pub(super) const SUPPORTED_AUTH: u16 = ExtType::SupportedAuth.value();
    pub(super) const SUPPORTED_ENCRYPT: u16 = ExtType::SupportedEncrypt.value();
    pub(super) const SPIRANGE: u16 = ExtType::SpiRange.value();
    pub(super) const KMPRIVATE: u16 = ExtType::KmPrivate.value();
    pub(super) const POLICY: u16 = ExtType::Policy.value();
    pub(super) const SA2: u16 = ExtType::Sa2.value();
    pub(super) const NAT_T_TYPE: u16 = ExtType::NatTType.value();
    pub(super) const NAT_T_SPORT: u16 = ExtType::NatTSport.value();
    pub(super) const NAT_T_DPORT: u16 = ExtType::NatTDport.value();
    pub(super) const NAT_T_OA: u16 = ExtType::NatTOa.value();
    pub(super) const SEC_CTX: u16 = ExtType::SecCtx.value();
    pub(super) const KMADDRESS: u16 = ExtType::KmAddress.value();
    pub(super) const FILTER: u16 = ExtType::Filter.value();
}

/// [`Decoder`] of the address extensions (checked: af_key `verify_address_len`).
#[inline]
fn address_view<E: Fault>(bytes: &[u8], ext: ExtType, at: usize) -> Result<AddressView<'_>, E> {
    let (header, tail) = head::<SadbAddress>(bytes, ext, at)?;
    let addr = if E::CHECK {
        parse_address_ext(header, tail, ext, at, bytes.len())?
    } else {
        sockaddr_ref(tail, ext, at + SadbAddress::SIZE)?.0
    };
    Ok(AddressView { header, addr })
}

/// [`Decoder`] of the key extensions (checked: af_key `verify_key_len`).
#[inline]
fn key_view<E: Fault>(bytes: &[u8], ext: ExtType, at: usize) -> Result<KeyView<'_>, E> {
    let (header, tail) = head::<SadbKey>(bytes, ext, at)?;
    let bits = header.bits.get();
    let key_len = (bits as usize).div_ceil(8);
    let need = align8(SadbKey::SIZE + key_len);
    if E::CHECK && need > bytes.len() {
        return Err(ParseError::KeyOverrun {
            ext,
            at,
            bits,
            need,
            have: bytes.len(),
        }
        .into());
    }
    Ok(KeyView {
        header,
        data: tail.get(..key_len).unwrap_or_default(),
    })
}

/// [`Decoder`] of the identity extensions.
#[inline]
fn identity_view<E: Fault>(bytes: &[u8], ext: ExtType, at: usize) -> Result<IdentityView<'_>, E> {
    let (header, data) = head::<SadbIdent>(bytes, ext, at)?;
    Ok(IdentityView { header, data })
}

/// [`Decoder`] of the sensitivity extension.
#[inline]
fn sensitivity_view<E: Fault>(
    bytes: &[u8],
    ext: ExtType,
    at: usize,
) -> Result<SensitivityView<'_>, E> {
    let (header, data) = head::<SadbSens>(bytes, ext, at)?;
    Ok(SensitivityView { header, data })
}

/// [`Decoder`] of the proposal extension.
#[inline]
fn proposal_view<E: Fault>(bytes: &[u8], ext: ExtType, at: usize) -> Result<ProposalView<'_>, E> {
    let (header, tail) = head::<SadbProp>(bytes, ext, at)?;
    let n = tail.len() / SadbComb::SIZE;
    let (combs, trailing) =
        <[SadbComb]>::ref_from_prefix_with_elems(tail, n).unwrap_or((&[], tail));
    Ok(ProposalView {
        header,
        combs,
        trailing,
    })
}

/// [`Decoder`] of the supported-algorithms extensions.
#[inline]
fn supported_view<E: Fault>(bytes: &[u8], ext: ExtType, at: usize) -> Result<SupportedView<'_>, E> {
    let (header, tail) = head::<SadbSupported>(bytes, ext, at)?;
    // Extensions are whole words and `sadb_alg` is one word: no remainder.
    let n = tail.len() / SadbAlg::SIZE;
    let (algs, _) = <[SadbAlg]>::ref_from_prefix_with_elems(tail, n).unwrap_or((&[], tail));
    Ok(SupportedView { header, algs })
}

/// [`Decoder`] of the policy extension (checked: af_key `parse_ipsecrequests`).
#[inline]
fn policy_view<E: Fault>(bytes: &[u8], ext: ExtType, at: usize) -> Result<PolicyView<'_>, E> {
    let (header, requests) = head::<SadbXPolicy>(bytes, ext, at)?;
    if E::CHECK {
        // Walk once to validate.
        let mut pos = 0;
        let base = at + SadbXPolicy::SIZE;
        while let Some((_, used)) = next_request(&requests[pos..], base + pos)? {
            pos += used;
        }
    }
    Ok(PolicyView {
        header,
        requests,
        at,
    })
}

/// [`Decoder`] of the security context extension (checked: af_key
/// `verify_sec_ctx_len`).
#[inline]
fn sec_ctx_view<E: Fault>(bytes: &[u8], ext: ExtType, at: usize) -> Result<SecCtxView<'_>, E> {
    let (header, tail) = head::<SadbXSecCtx>(bytes, ext, at)?;
    let ctx_len = header.ctx_len.get();
    let need = if ctx_len as usize > 4096 {
        0
    } else {
        align8(SadbXSecCtx::SIZE + ctx_len as usize)
    };
    if E::CHECK && need != bytes.len() {
        return Err(ParseError::SecCtxLength {
            at,
            ctx_len,
            need,
            have: bytes.len(),
        }
        .into());
    }
    Ok(SecCtxView {
        header,
        ctx: tail.get(..ctx_len as usize).unwrap_or_default(),
    })
}

/// [`Decoder`] of the key manager address extension (checked: both sockaddrs of
/// one family).
#[inline]
fn kmaddress_view<E: Fault>(bytes: &[u8], ext: ExtType, at: usize) -> Result<KmAddressView<'_>, E> {
    let (header, tail) = head::<SadbXKmaddress>(bytes, ext, at)?;
    let base = at + SadbXKmaddress::SIZE;
    let (local, used) = sockaddr_ref(tail, ext, base)?;
    let (remote, _) = sockaddr_ref(tail.get(used..).unwrap_or_default(), ext, base + used)?;
    if E::CHECK && local.is_ipv4() != remote.is_ipv4() {
        return Err(ParseError::UnsupportedFamily {
            ext,
            at: base + used,
            family: family_of(&remote.socket_addr()),
        }
        .into());
    }
    Ok(KmAddressView {
        header,
        local,
        remote,
    })
}

fn family_of(a: &SocketAddr) -> u16 {
    if a.is_ipv4() {
        AF_INET
    } else {
        AF_INET6
    }
}

/// Address extension rules (af_key `verify_address_len`): AF_INET needs exactly 3
/// words and a prefix ≤ 32, AF_INET6 exactly 5 words and a prefix ≤ 128.
#[inline]
fn parse_address_ext<'a>(
    header: &SadbAddress,
    tail: &'a [u8],
    ext: ExtType,
    at: usize,
    len: usize,
) -> Result<SockRef<'a>, ParseError> {
    let (addr, _) = sockaddr_ref(tail, ext, at + SadbAddress::SIZE)?;
    let (family, need, max) = match addr {
        SockRef::V4(_) => ("IPv4", 24, 32),
        SockRef::V6(_) => ("IPv6", 40, 128),
    };
    if len != need {
        return Err(ParseError::AddressLength {
            ext,
            at,
            family,
            need,
            have: len,
        });
    }
    if header.prefixlen > max {
        return Err(ParseError::PrefixTooLong {
            ext,
            at,
            prefix: header.prefixlen,
            max,
        });
    }
    Ok(addr)
}

/// A sockaddr inside a message, borrowed: decoded to a [`SocketAddr`] on demand, so
/// that views stay a few pointers wide (cheap to return from the extension iterator).
#[derive(Clone, Copy)]
enum SockRef<'a> {
    V4(&'a SockaddrIn),
    V6(&'a SockaddrIn6),
}

impl fmt::Debug for SockRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.socket_addr(), f)
    }
}

impl SockRef<'_> {
    #[inline]
    fn socket_addr(self) -> SocketAddr {
        match self {
            SockRef::V4(sin) => {
                SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(sin.addr), sin.port.get()))
            }
            SockRef::V6(sin6) => SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.addr),
                sin6.port.get(),
                sin6.flowinfo.get(),
                sin6.scope_id.get(),
            )),
        }
    }

    #[inline]
    fn is_ipv4(self) -> bool {
        matches!(self, SockRef::V4(_))
    }
}

/// Reads one Linux sockaddr (no `sa_len`), returning it and the bytes it occupies
/// (16 for `sockaddr_in`, 28 for `sockaddr_in6`).
#[inline]
pub(crate) fn parse_sockaddr(
    bytes: &[u8],
    ext: ExtType,
    at: usize,
) -> Result<(SocketAddr, usize), ParseError> {
    sockaddr_ref(bytes, ext, at).map(|(s, n)| (s.socket_addr(), n))
}

/// [`parse_sockaddr`] without the conversion.
#[inline]
fn sockaddr_ref(bytes: &[u8], ext: ExtType, at: usize) -> Result<(SockRef<'_>, usize), ParseError> {
    let truncated = |need| ParseError::Truncated {
        what: "sockaddr",
        at,
        need,
        have: bytes.len(),
    };
    let (family, _) = U16::read_from_prefix(bytes).map_err(|_| truncated(2))?;
    match family.get() {
        AF_INET => {
            let (sin, _) = SockaddrIn::ref_from_prefix(bytes).map_err(|_| truncated(16))?;
            Ok((SockRef::V4(sin), SockaddrIn::SIZE))
        }
        AF_INET6 => {
            let (sin6, _) = SockaddrIn6::ref_from_prefix(bytes).map_err(|_| truncated(28))?;
            Ok((SockRef::V6(sin6), SockaddrIn6::SIZE))
        }
        family => Err(ParseError::UnsupportedFamily { ext, at, family }),
    }
}

/// Reads the request at the start of `rest` (af_key `parse_ipsecrequests`): `Ok(None)`
/// when fewer than 16 bytes remain (the kernel stops there too).
fn next_request(rest: &[u8], at: usize) -> Result<Option<(RequestView<'_>, usize)>, ParseError> {
    let Ok((header, _)) = SadbXIpsecrequest::ref_from_prefix(rest) else {
        return Ok(None);
    };
    let len = header.len.get();
    if (len as usize) < SadbXIpsecrequest::SIZE {
        return Err(ParseError::BadRequest {
            at,
            len,
            problem: "is shorter than the 16-byte sadb_x_ipsecrequest",
        });
    }
    let Some(bytes) = rest.get(..len as usize) else {
        return Err(ParseError::BadRequest {
            at,
            len,
            problem: "runs past the end of the policy",
        });
    };
    let tunnel = if header.mode == Mode::Tunnel.value() {
        let base = at + SadbXIpsecrequest::SIZE;
        let addrs = &bytes[SadbXIpsecrequest::SIZE..];
        let (src, used) = parse_sockaddr(addrs, ExtType::Policy, base)?;
        let (dst, _) = parse_sockaddr(&addrs[used..], ExtType::Policy, base + used)?;
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(ParseError::BadRequest {
                at,
                len,
                problem: "has tunnel endpoints of different address families",
            });
        }
        Some((src, dst))
    } else {
        None
    };
    Ok(Some((
        RequestView {
            header,
            tunnel,
            bytes,
        },
        len as usize,
    )))
}

#[cfg(test)]
mod check_tests {
    use super::*;
    use proptest::prelude::*;

    /// An extension body with its header, biased towards the values the rules look
    /// at: families 2 and 10, small key bit counts and context lengths.
    fn ext_bytes() -> impl Strategy<Value = (u16, Vec<u8>)> {
        (
            0u16..=30,
            any::<u8>(),
            any::<[u8; 8]>(),
            any::<u8>(),
            any::<u16>(),
        )
            .prop_flat_map(|(t, w, head, prefix, small)| {
                // Address extensions are 3 or 5 words: make those common.
                let words = [1, 2, 3, 5, 3, 5, 4, 6, 9, 12][w as usize % 10];
                proptest::collection::vec(any::<u8>(), words * WORD).prop_map(move |mut b| {
                    b[..2].copy_from_slice(&(words as u16).to_ne_bytes());
                    b[2..4].copy_from_slice(&t.to_ne_bytes());
                    if b.len() >= 16 {
                        b[4..8].copy_from_slice(&head[..4]);
                        b[5] = [0, 32, 33, 64, 128, 129, 255, prefix][prefix as usize % 8];
                        // A plausible sockaddr family after an 8-byte header.
                        let fam = if head[4] % 3 == 0 { AF_INET } else { AF_INET6 };
                        b[8..10].copy_from_slice(&fam.to_ne_bytes());
                    }
                    if head[5] % 2 == 0 && matches!(t, 8 | 9 | 24) {
                        // key bits / ctx_len near the extension's size
                        let v = small % (b.len() as u16 * 8 + 16);
                        b[4..6].copy_from_slice(&v.to_ne_bytes());
                        let c = small % (b.len() as u16 + 8);
                        b[6..8].copy_from_slice(&c.to_ne_bytes());
                    }
                    (t, b)
                })
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

        /// The fast check in `Message::parse` gives exactly the verdict and error of
        /// the full decoder.
        #[test]
        fn check_ext_agrees_with_parse_ext((t, bytes) in ext_bytes(), at in 16usize..4096) {
            prop_assert_eq!(check_ext(t, &bytes, at), parse_ext(t, &bytes, at).map(drop));
        }
    }

    /// What each typed accessor returns, by type, as text (keys with their bytes).
    fn through_accessors(m: &Message<'_>) -> Vec<(u16, String)> {
        fn put<T: fmt::Debug>(v: &mut Vec<(u16, String)>, t: ExtType, x: Option<T>) {
            if let Some(x) = x {
                v.push((t.value(), format!("{x:?}")));
            }
        }
        let mut v = Vec::new();
        put(&mut v, ExtType::Sa, m.sa());
        put(&mut v, ExtType::LifetimeCurrent, m.lifetime_current());
        put(&mut v, ExtType::LifetimeHard, m.lifetime_hard());
        put(&mut v, ExtType::LifetimeSoft, m.lifetime_soft());
        put(&mut v, ExtType::AddressSrc, m.src());
        put(&mut v, ExtType::AddressDst, m.dst());
        put(&mut v, ExtType::AddressProxy, m.proxy());
        let key = |k: KeyView<'_>| format!("{:?}", (k, k.bytes().to_vec()));
        for (t, k) in [
            (ExtType::KeyAuth, m.key_auth()),
            (ExtType::KeyEncrypt, m.key_encrypt()),
        ] {
            if let Some(k) = k.map(key) {
                v.push((t.value(), k));
            }
        }
        put(&mut v, ExtType::IdentitySrc, m.identity_src());
        put(&mut v, ExtType::IdentityDst, m.identity_dst());
        put(&mut v, ExtType::Sensitivity, m.sensitivity());
        put(&mut v, ExtType::Proposal, m.proposal());
        put(&mut v, ExtType::SupportedAuth, m.supported_auth());
        put(&mut v, ExtType::SupportedEncrypt, m.supported_encrypt());
        put(&mut v, ExtType::SpiRange, m.spirange());
        put(&mut v, ExtType::Policy, m.policy());
        put(&mut v, ExtType::Sa2, m.sa2());
        put(&mut v, ExtType::NatTType, m.nat_t_type());
        put(&mut v, ExtType::NatTSport, m.nat_t_sport());
        put(&mut v, ExtType::NatTDport, m.nat_t_dport());
        put(&mut v, ExtType::NatTOa, m.nat_t_oa());
        put(&mut v, ExtType::SecCtx, m.sec_ctx());
        put(&mut v, ExtType::KmAddress, m.kmaddress());
        put(&mut v, ExtType::Filter, m.filter());
        v.sort();
        v
    }

    /// The same from the iterator.
    fn through_iterator(m: &Message<'_>) -> Vec<(u16, String)> {
        let mut v: Vec<_> = m
            .extensions()
            .filter_map(|e| {
                let text = match e {
                    Ext::Sa(x) => format!("{x:?}"),
                    Ext::Lifetime(_, x) => format!("{x:?}"),
                    Ext::Address(_, x) => format!("{x:?}"),
                    Ext::Key(_, x) => format!("{:?}", (x, x.bytes().to_vec())),
                    Ext::Identity(_, x) => format!("{x:?}"),
                    Ext::Sensitivity(x) => format!("{x:?}"),
                    Ext::Proposal(x) => format!("{x:?}"),
                    Ext::Supported(_, x) => format!("{x:?}"),
                    Ext::SpiRange(x) => format!("{x:?}"),
                    Ext::Policy(x) => format!("{x:?}"),
                    Ext::Sa2(x) => format!("{x:?}"),
                    Ext::NatTType(x) => format!("{x:?}"),
                    Ext::NatTPort(_, x) => format!("{:?}", x.port.get()),
                    Ext::SecCtx(x) => format!("{x:?}"),
                    Ext::KmAddress(x) => format!("{x:?}"),
                    Ext::Filter(x) => format!("{x:?}"),
                    Ext::KmPrivate(_) | Ext::Unknown { .. } => return None,
                };
                Some((e.ext_type().value(), text))
            })
            .collect();
        v.sort();
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        /// The typed accessors (through the index) return exactly what the iterator
        /// (through the decoder) returns for each type.
        #[test]
        fn accessors_agree_with_the_iterator(exts in proptest::collection::vec(ext_bytes(), 1..8)) {
            let mut buf = vec![0u8; SadbMsg::SIZE];
            buf[0] = PF_KEY_V2;
            let mut seen = Vec::new();
            for (t, bytes) in exts {
                let valid = parse_ext(t, &bytes, buf.len()).is_ok();
                if valid && t != 0 && !seen.contains(&t) {
                    seen.push(t);
                    buf.extend_from_slice(&bytes);
                }
            }
            let words = (buf.len() / WORD) as u16;
            buf[4..6].copy_from_slice(&words.to_ne_bytes());
            let m = Message::parse(&buf).expect("valid extensions make a valid message");
            prop_assert_eq!(m.extensions().count(), seen.len());
            prop_assert_eq!(through_accessors(&m), through_iterator(&m));
        }
    }

    #[test]
    fn the_fast_path_accepts_what_it_should() {
        let mut a = [0u8; 24];
        a[5] = 32;
        a[8..10].copy_from_slice(&AF_INET.to_ne_bytes());
        assert_eq!(check_ext(ExtType::AddressSrc.value(), &a, 16), Ok(()));
        a[5] = 33;
        assert!(matches!(
            check_ext(ExtType::AddressSrc.value(), &a, 16),
            Err(ParseError::PrefixTooLong { prefix: 33, .. })
        ));
        let mut k = [0u8; 16];
        k[4..6].copy_from_slice(&64u16.to_ne_bytes());
        assert_eq!(check_ext(ExtType::KeyAuth.value(), &k, 16), Ok(()));
        k[4..6].copy_from_slice(&65u16.to_ne_bytes());
        assert!(matches!(
            check_ext(ExtType::KeyAuth.value(), &k, 16),
            Err(ParseError::KeyOverrun {
                need: 24,
                have: 16,
                ..
            })
        ));
    }
}
