//! Property tests over every extension kind.
//!
//! - emit → parse → repr gives back the input, and parse → emit gives back the bytes;
//! - parsing never panics on arbitrary bytes, nor on mutated valid messages, and
//!   whatever parses survives the round trip;
//! - every proper prefix of a valid message is an error (never a panic).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use pfkey::message::{Ext, Message};
use pfkey::policy::{IpsecRequest, Policy};
use pfkey::render::{render, RenderOptions};
use pfkey::repr::{
    Address, Comb, Extension, Filter, Header, Key, Lifetime, MessageRepr, Sa, Sa2, SupportedAlg,
};
use pfkey::wire::*;
use proptest::collection::vec;
use proptest::prelude::*;

// ----------------------------------------------------------------------------------
// Strategies
// ----------------------------------------------------------------------------------

fn v4() -> impl Strategy<Value = SocketAddr> {
    (any::<[u8; 4]>(), any::<u16>())
        .prop_map(|(ip, port)| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
}

fn v6() -> impl Strategy<Value = SocketAddr> {
    (any::<[u8; 16]>(), any::<u16>(), any::<u32>(), any::<u32>()).prop_map(
        |(ip, port, flow, scope)| {
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, flow, scope))
        },
    )
}

fn sockaddr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![v4(), v6()]
}

/// Two addresses of the same family (tunnel endpoints, KMADDRESS).
fn sockaddr_pair() -> impl Strategy<Value = (SocketAddr, SocketAddr)> {
    prop_oneof![(v4(), v4()), (v6(), v6())]
}

fn sa() -> impl Strategy<Value = Sa> {
    (
        any::<u32>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
    )
        .prop_map(|(spi, replay, state, auth, encrypt, flags)| Sa {
            spi,
            replay,
            state: SaState::from_value(state),
            auth,
            encrypt,
            flags,
        })
}

fn lifetime() -> impl Strategy<Value = Lifetime> {
    (any::<u32>(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
        |(allocations, bytes, addtime, usetime)| Lifetime {
            allocations,
            bytes,
            addtime,
            usetime,
        },
    )
}

/// An address extension value: the prefix fits the family (af_key `verify_address_len`).
fn address() -> impl Strategy<Value = Address> {
    (any::<u8>(), sockaddr(), any::<u8>()).prop_map(|(proto, addr, p)| Address {
        proto,
        prefix_len: if addr.is_ipv4() { p % 33 } else { p % 129 },
        addr,
    })
}

/// Key material: `ceil(bits / 8)` bytes, any bit count up to 1024.
fn key() -> impl Strategy<Value = Key> {
    (0u16..=1024).prop_flat_map(|bits| {
        vec(any::<u8>(), (bits as usize).div_ceil(8)).prop_map(move |data| {
            let mut k = Key::new(data).expect("short key");
            k.bits = bits;
            k
        })
    })
}

/// Bytes that fill whole 64-bit words (what follows a fixed header of 8 or 16 bytes).
fn words(max_words: usize) -> impl Strategy<Value = Vec<u8>> {
    (0..=max_words).prop_flat_map(|n| vec(any::<u8>(), n * WORD))
}

fn comb() -> impl Strategy<Value = Comb> {
    (
        (
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
            any::<[u16; 4]>(),
            any::<u32>(),
        ),
        (any::<[u32; 2]>(), any::<[u64; 6]>()),
    )
        .prop_map(
            |((auth, encrypt, flags, bits, reserved), (alloc, l))| Comb {
                auth,
                encrypt,
                flags,
                auth_minbits: bits[0],
                auth_maxbits: bits[1],
                encrypt_minbits: bits[2],
                encrypt_maxbits: bits[3],
                reserved,
                soft_allocations: alloc[0],
                hard_allocations: alloc[1],
                soft_bytes: l[0],
                hard_bytes: l[1],
                soft_addtime: l[2],
                hard_addtime: l[3],
                soft_usetime: l[4],
                hard_usetime: l[5],
            },
        )
}

fn supported_alg() -> impl Strategy<Value = SupportedAlg> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(id, ivlen, min_bits, max_bits, reserved)| SupportedAlg {
            id,
            ivlen,
            min_bits,
            max_bits,
            reserved,
        })
}

/// A policy request: tunnel mode has endpoints (v4 or v6), other modes have none —
/// the parser reads endpoints only in tunnel mode.
fn request() -> impl Strategy<Value = IpsecRequest> {
    let tunnel = (any::<u16>(), any::<u8>(), any::<u32>(), sockaddr_pair()).prop_map(
        |(proto, level, reqid, ends)| IpsecRequest {
            proto,
            mode: Mode::Tunnel,
            level: Level::from_value(level),
            reqid,
            tunnel: Some(ends),
        },
    );
    let other = (
        any::<u16>(),
        any::<u8>().prop_filter("not tunnel", |m| *m != Mode::Tunnel.value()),
        any::<u8>(),
        any::<u32>(),
    )
        .prop_map(|(proto, mode, level, reqid)| IpsecRequest {
            proto,
            mode: Mode::from_value(mode),
            level: Level::from_value(level),
            reqid,
            tunnel: None,
        });
    prop_oneof![tunnel, other]
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
        vec(request(), 0..=7),
    )
        .prop_map(|(t, dir, reserved, id, priority, requests)| Policy {
            policy_type: PolicyType::from_value(t),
            dir: Direction::from_value(dir),
            reserved,
            id,
            priority,
            requests,
        })
}

fn ip_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<[u8; 4]>()).prop_map(|(a, b)| (
            IpAddr::from(Ipv4Addr::from(a)),
            IpAddr::from(Ipv4Addr::from(b))
        )),
        (any::<[u8; 16]>(), any::<[u8; 16]>()).prop_map(|(a, b)| (
            IpAddr::from(Ipv6Addr::from(a)),
            IpAddr::from(Ipv6Addr::from(b))
        )),
    ]
}

/// An extension of a type above `SADB_EXT_MAX`, kept raw (header included).
fn raw_unknown() -> impl Strategy<Value = Extension> {
    (27u16..=u16::MAX, 0usize..6)
        .prop_flat_map(|(t, n)| (Just(t), vec(any::<u8>(), 4 + n * WORD)))
        .prop_map(|(t, body)| {
            let total = 4 + body.len();
            let mut raw = Vec::with_capacity(total);
            raw.extend_from_slice(&((total / WORD) as u16).to_ne_bytes());
            raw.extend_from_slice(&t.to_ne_bytes());
            raw.extend_from_slice(&body);
            Extension::Raw(raw)
        })
}

/// Every owned extension kind (`repr::Extension` variants and the types each covers).
fn extension() -> impl Strategy<Value = Extension> {
    let lifetime_t = prop_oneof![
        Just(ExtType::LifetimeCurrent),
        Just(ExtType::LifetimeHard),
        Just(ExtType::LifetimeSoft)
    ];
    let address_t = prop_oneof![
        Just(ExtType::AddressSrc),
        Just(ExtType::AddressDst),
        Just(ExtType::AddressProxy),
        Just(ExtType::NatTOa)
    ];
    let key_t = prop_oneof![Just(ExtType::KeyAuth), Just(ExtType::KeyEncrypt)];
    let ident_t = prop_oneof![Just(ExtType::IdentitySrc), Just(ExtType::IdentityDst)];
    let supp_t = prop_oneof![
        Just(ExtType::SupportedAuth),
        Just(ExtType::SupportedEncrypt)
    ];
    let port_t = prop_oneof![Just(ExtType::NatTSport), Just(ExtType::NatTDport)];
    prop_oneof![
        sa().prop_map(Extension::Sa),
        (lifetime_t, lifetime()).prop_map(|(t, l)| Extension::Lifetime(t, l)),
        (address_t, address()).prop_map(|(t, a)| Extension::Address(t, a)),
        (key_t, key()).prop_map(|(t, k)| Extension::Key(t, k)),
        (ident_t, any::<u16>(), any::<u16>(), any::<u64>(), words(4)).prop_map(
            |(ext, ident_type, reserved, id, data)| Extension::Identity {
                ext,
                ident_type,
                reserved,
                id,
                data
            }
        ),
        (any::<(u32, u8, u8, u8, u8, u32)>(), words(4)).prop_map(|(h, data)| {
            // The kept header leaves length and type to the builder (zero in the value).
            let header = SadbSens {
                len: U16::ZERO,
                ext_type: U16::ZERO,
                dpd: U32::new(h.0),
                sens_level: h.1,
                sens_len: h.2,
                integ_level: h.3,
                integ_len: h.4,
                reserved: U32::new(h.5),
            };
            Extension::Sensitivity { header, data }
        }),
        (any::<u8>(), vec(comb(), 0..4))
            .prop_map(|(replay, combs)| Extension::Proposal { replay, combs }),
        (supp_t, vec(supported_alg(), 0..12)).prop_map(|(t, a)| Extension::Supported(t, a)),
        (any::<u32>(), any::<u32>()).prop_map(|(min, max)| Extension::SpiRange { min, max }),
        words(4).prop_map(Extension::KmPrivate),
        policy().prop_map(Extension::Policy),
        (any::<u8>(), any::<u32>(), any::<u32>()).prop_map(|(m, sequence, reqid)| {
            Extension::Sa2(Sa2 {
                mode: Mode::from_value(m),
                sequence,
                reqid,
            })
        }),
        any::<u8>().prop_map(Extension::NatTType),
        (port_t, any::<u16>()).prop_map(|(t, p)| Extension::NatTPort(t, p)),
        (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..300))
            .prop_map(|(alg, doi, ctx)| Extension::SecCtx { alg, doi, ctx }),
        sockaddr_pair().prop_map(|(local, remote)| Extension::KmAddress { local, remote }),
        (ip_pair(), any::<u8>(), any::<u8>()).prop_map(|((src, dst), sp, dp)| {
            Extension::Filter(Filter {
                src,
                src_prefix: sp,
                dst,
                dst_prefix: dp,
            })
        }),
        raw_unknown(),
    ]
}

fn header() -> impl Strategy<Value = Header> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(t, s, errno, reserved, seq, pid)| Header {
            msg_type: MsgType::from_value(t),
            satype: SaType::from_value(s),
            errno,
            reserved,
            seq,
            pid,
        })
}

/// A whole message: no known extension type twice (unknown types may repeat, as the
/// kernel allows).
fn message() -> impl Strategy<Value = MessageRepr> {
    (header(), vec(extension(), 0..14)).prop_map(|(header, exts)| {
        let mut seen = [false; SADB_EXT_MAX as usize + 1];
        let extensions = exts
            .into_iter()
            .filter(|e| match seen.get_mut(e.ext_type().value() as usize) {
                Some(s) if *s => false,
                Some(s) => {
                    *s = true;
                    true
                }
                None => true,
            })
            .collect();
        MessageRepr { header, extensions }
    })
}

/// A valid message's bytes.
fn message_bytes() -> impl Strategy<Value = Vec<u8>> {
    message().prop_map(|m| m.to_bytes().expect("generated messages fit"))
}

// ----------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------

/// Everything the fuzz target does with a message that parsed.
fn exercise(msg: &Message<'_>) {
    let n = msg.extensions().count();
    for e in msg.extensions() {
        if let Ext::Policy(p) = e {
            for r in p.requests() {
                let _ = r.tunnel();
            }
        }
    }
    let _ = render(msg, RenderOptions::with_keys()).to_string();
    let repr = MessageRepr::from_message(msg);
    assert_eq!(repr.extensions.len(), n);
    let bytes = repr.to_bytes().expect("a parsed message can be emitted");
    let again = MessageRepr::parse(&bytes).expect("an emitted message parses");
    assert_eq!(again, repr);
    assert_eq!(again.to_bytes().expect("emit"), bytes);
}

// ----------------------------------------------------------------------------------
// Properties
// ----------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// One extension of each kind alone in a message: emit → parse gives it back.
    #[test]
    fn every_extension_round_trips(e in extension()) {
        let repr = MessageRepr {
            header: Header::new(MsgType::Add, SaType::Esp, 1, 2),
            extensions: vec![e],
        };
        let bytes = repr.to_bytes().unwrap();
        let parsed = MessageRepr::parse(&bytes).unwrap();
        prop_assert_eq!(&parsed, &repr);
        prop_assert_eq!(parsed.to_bytes().unwrap(), bytes);
    }

    /// Whole messages: emit → parse → repr equals the input; parse → emit
    /// reproduces the bytes; emitting into a slice gives the same bytes.
    #[test]
    fn messages_round_trip(m in message()) {
        let bytes = m.to_bytes().unwrap();
        prop_assert_eq!(bytes.len() % WORD, 0);
        let msg = Message::parse(&bytes).unwrap();
        prop_assert_eq!(msg.as_bytes().len(), bytes.len());
        prop_assert_eq!(msg.extensions().count(), m.extensions.len());
        let parsed = MessageRepr::from_message(&msg);
        prop_assert_eq!(&parsed, &m);
        prop_assert_eq!(&parsed.to_bytes().unwrap(), &bytes);
        let mut buf = vec![0xa5; bytes.len()];
        prop_assert_eq!(m.emit(&mut buf).unwrap(), bytes.len());
        prop_assert_eq!(&buf, &bytes);
        // A slice one byte short is an error, not a panic or a cut message.
        if !bytes.is_empty() {
            let mut short = vec![0; bytes.len() - 1];
            prop_assert!(m.emit(&mut short).is_err());
        }
    }

    /// Typed accessors agree with the extension walk.
    #[test]
    fn accessors_agree_with_the_walk(bytes in message_bytes()) {
        let msg = Message::parse(&bytes).unwrap();
        for e in msg.extensions() {
            let t = e.ext_type();
            let raw = msg.raw_extension(t);
            if t.is_known() {
                prop_assert!(raw.is_some(), "raw_extension({t}) missing");
            }
            match e {
                Ext::Sa(s) => prop_assert_eq!(msg.sa(), Some(s)),
                Ext::Sa2(s) => prop_assert_eq!(msg.sa2(), Some(s)),
                Ext::SpiRange(s) => prop_assert_eq!(msg.spirange(), Some(s)),
                Ext::Filter(f) => prop_assert_eq!(msg.filter(), Some(f)),
                Ext::Address(ExtType::AddressSrc, a) => {
                    prop_assert_eq!(msg.src().map(|x| x.socket_addr()), Some(a.socket_addr()))
                }
                Ext::Key(ExtType::KeyAuth, k) => {
                    prop_assert_eq!(msg.key_auth().map(|x| x.bytes()), Some(k.bytes()))
                }
                Ext::Policy(p) => prop_assert_eq!(
                    msg.policy().map(|x| x.requests().count()),
                    Some(p.requests().count())
                ),
                _ => {}
            }
        }
    }

    /// Arbitrary bytes never panic the parser; what parses survives the round trip.
    #[test]
    fn parse_never_panics(bytes in vec(any::<u8>(), 0..600)) {
        if let Ok(msg) = Message::parse(&bytes) {
            exercise(&msg);
        }
    }

    /// Arbitrary bytes with a plausible header (version 2, matching length) reach the
    /// extension parser.
    #[test]
    fn parse_never_panics_on_framed_garbage(body in words(40), h in any::<[u8; 16]>()) {
        let mut bytes = h.to_vec();
        bytes[0] = PF_KEY_V2;
        let words = ((16 + body.len()) / WORD) as u16;
        bytes[4..6].copy_from_slice(&words.to_ne_bytes());
        bytes.extend_from_slice(&body);
        if let Ok(msg) = Message::parse(&bytes) {
            exercise(&msg);
        }
    }

    /// Valid messages with a few bytes overwritten: no panic, and whatever still
    /// parses survives the round trip.
    #[test]
    fn mutated_messages_never_panic(
        bytes in message_bytes(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = bytes;
        for (i, v) in edits {
            let at = i.index(bytes.len());
            // Keep the header's framing most of the time so extensions get parsed.
            if (1..4).contains(&at) || at >= 6 {
                bytes[at] = v;
            }
        }
        if let Ok(msg) = Message::parse(&bytes) {
            exercise(&msg);
        }
    }

    /// Every proper prefix of a valid message fails to parse (its sadb_msg_len no
    /// longer matches), and never panics.
    #[test]
    fn every_prefix_fails(bytes in message_bytes()) {
        for n in 0..bytes.len() {
            prop_assert!(Message::parse(&bytes[..n]).is_err(), "prefix of {} bytes parsed", n);
        }
    }

    /// Prefixes cut at a word boundary with sadb_msg_len patched to match: either a
    /// clean error or a message made of the whole extensions before the cut.
    #[test]
    fn patched_prefixes_never_panic(bytes in message_bytes()) {
        for words in 2..bytes.len() / WORD {
            let mut cut = bytes[..words * WORD].to_vec();
            cut[4..6].copy_from_slice(&(words as u16).to_ne_bytes());
            if let Ok(msg) = Message::parse(&cut) {
                exercise(&msg);
            }
        }
    }
}
