//! Every fixture under `fixtures/`, tested in both directions: parsing gives the
//! expected typed values, and emitting those values gives the same bytes
//! (the rust-netlink habit). Plus the truncation sweep and the error paths.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use pfkey::message::{Ext, Message};
use pfkey::policy::{IpsecRequest, Policy};
use pfkey::repr::*;
use pfkey::wire::*;
use pfkey::ParseError;

/// Reads `fixtures/NAME.hex`: hex digits, whitespace ignored, `#` comments.
fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(format!("{name}.hex"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    hex::decode(digits).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn all_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "hex").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .map(|n| {
            let b = fixture(&n);
            (n, b)
        })
        .collect();
    v.sort();
    assert!(v.len() >= 6, "fixtures missing from {dir:?}");
    v
}

fn host(ip: &str) -> Address {
    Address::host(ip.parse().unwrap())
}

/// An SA endpoint as Linux reports it: protocol 0, full prefix.
fn sa_host(ip: &str) -> Address {
    Address {
        proto: 0,
        ..host(ip)
    }
}

fn prefix(ip: &str, len: u8) -> Address {
    Address {
        proto: IPSEC_ULPROTO_ANY,
        prefix_len: len,
        addr: SocketAddr::new(ip.parse().unwrap(), 0),
    }
}

fn lt(addtime: u64) -> Lifetime {
    Lifetime {
        addtime,
        ..Lifetime::default()
    }
}

fn key(range: std::ops::Range<u8>) -> Key {
    Key::new(range.collect()).unwrap()
}

/// Checks both directions for one fixture.
fn both_ways(name: &str, expected: MessageRepr) {
    let bytes = fixture(name);
    let parsed = MessageRepr::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(parsed, expected, "{name}: parsed values");
    let emitted = expected.to_bytes().unwrap();
    assert_eq!(
        hex::encode(&emitted),
        hex::encode(&bytes),
        "{name}: emitted bytes"
    );
    // Emitting into a junk-filled buffer writes every byte, padding included.
    let mut junk = vec![0xa5u8; bytes.len() + 13];
    let n = expected.emit(&mut junk).unwrap();
    assert_eq!(&junk[..n], &bytes[..], "{name}: emit into junk");
}

#[test]
fn dump_esp_sa_272_bytes() {
    let bytes = fixture("dump-esp-sa");
    assert_eq!(bytes.len(), 272);
    both_ways(
        "dump-esp-sa",
        MessageRepr {
            // The only entry of a dump: Linux sends the last entry with seq 0.
            header: Header::new(MsgType::Dump, SaType::Esp, 0, 209),
            extensions: vec![
                Extension::Sa(Sa {
                    spi: 0x1000,
                    replay: 32,
                    state: SaState::Mature,
                    auth: pfkey::alg::SADB_X_AALG_SHA2_256HMAC,
                    encrypt: pfkey::alg::SADB_X_EALG_AESCBC,
                    flags: 0,
                }),
                Extension::Lifetime(ExtType::LifetimeHard, lt(3600)),
                Extension::Lifetime(ExtType::LifetimeSoft, lt(2880)),
                Extension::Lifetime(
                    ExtType::LifetimeCurrent,
                    Lifetime {
                        addtime: 1_795_765_849,
                        ..Lifetime::default()
                    },
                ),
                // The kernel writes protocol 0 (not 255) in SA addresses.
                Extension::Address(ExtType::AddressSrc, sa_host("10.0.0.1")),
                Extension::Address(ExtType::AddressDst, sa_host("10.0.0.2")),
                Extension::Key(ExtType::KeyAuth, key(0x20..0x40)),
                Extension::Key(ExtType::KeyEncrypt, key(0x40..0x60)),
                Extension::Sa2(Sa2 {
                    mode: Mode::Tunnel,
                    sequence: 0,
                    reqid: 7,
                }),
            ],
        },
    );
}

#[test]
fn dump_esp_sa_view_accessors() {
    let bytes = fixture("dump-esp-sa");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.msg_type(), MsgType::Dump);
    assert_eq!(m.satype(), SaType::Esp);
    assert_eq!((m.seq(), m.pid(), m.errno()), (0, 209, 0));
    let sa = m.sa().unwrap();
    // The SPI is big-endian on the wire: 00 00 10 00.
    assert_eq!(sa.spi.get(), 0x1000);
    assert_eq!(&bytes[20..24], &[0, 0, 0x10, 0]);
    assert_eq!(m.src().unwrap().ip(), "10.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(m.dst().unwrap().prefix_len(), 32);
    assert_eq!(m.key_auth().unwrap().bits(), 256);
    assert_eq!(
        m.key_encrypt().unwrap().bytes(),
        &(0x40..0x60).collect::<Vec<u8>>()[..]
    );
    assert_eq!(m.lifetime_hard().unwrap().addtime.get(), 3600);
    assert_eq!(m.lifetime_current().unwrap().addtime.get(), 1_795_765_849);
    assert_eq!(m.sa2().unwrap().reqid.get(), 7);
    assert!(m.policy().is_none() && m.proxy().is_none());
    assert_eq!(m.extensions().count(), 9);
    // Keys never appear in Debug output.
    let dbg = format!("{m:?}");
    assert!(dbg.contains("redacted"), "{dbg}");
    assert!(!dbg.contains("64, 65, 66"), "{dbg}");
    let repr = MessageRepr::parse(&bytes).unwrap();
    let dbg = format!("{repr:?}");
    assert!(
        !dbg.contains("64, 65, 66") && dbg.contains("redacted"),
        "{dbg}"
    );
}

#[test]
fn register_reply() {
    let alg = |id, ivlen, min_bits, max_bits| SupportedAlg {
        id,
        ivlen,
        min_bits,
        max_bits,
        reserved: 0,
    };
    both_ways(
        "register-esp-reply",
        MessageRepr {
            header: Header::new(MsgType::Register, SaType::Esp, 1, 209),
            // Debian 6.1's list, in the kernel's table order (linux-pfkey.md §14 #2).
            extensions: vec![
                Extension::Supported(
                    ExtType::SupportedAuth,
                    vec![
                        alg(251, 0, 0, 0),
                        alg(2, 0, 128, 128),
                        alg(3, 0, 160, 160),
                        alg(5, 0, 256, 256),
                        alg(6, 0, 384, 384),
                        alg(7, 0, 512, 512),
                        alg(8, 0, 160, 160),
                        alg(9, 0, 128, 128),
                    ],
                ),
                Extension::Supported(
                    ExtType::SupportedEncrypt,
                    vec![
                        alg(11, 0, 0, 0),
                        alg(2, 8, 64, 64),
                        alg(3, 8, 192, 192),
                        alg(6, 8, 40, 128),
                        alg(7, 8, 40, 448),
                        alg(12, 8, 128, 256),
                        alg(252, 8, 128, 256),
                        alg(22, 8, 128, 256),
                        alg(253, 8, 128, 256),
                        alg(13, 8, 160, 288),
                    ],
                ),
            ],
        },
    );
    let bytes = fixture("register-esp-reply");
    let m = Message::parse(&bytes).unwrap();
    let enc = m.supported_encrypt().unwrap();
    assert_eq!(enc.algs().len(), 10);
    assert_eq!(enc.algs()[5].id, pfkey::alg::SADB_X_EALG_AESCBC);
    assert_eq!(enc.algs()[5].maxbits.get(), 256);
}

#[test]
fn error_reply() {
    let expected = MessageRepr {
        header: Header {
            errno: 17,
            ..Header::new(MsgType::Add, SaType::Esp, 5, 209)
        },
        extensions: vec![],
    };
    both_ways("add-eexist", expected);
}

#[test]
fn spd_dump_with_tunnel_request_and_refcount() {
    let sock = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 0);
    both_ways(
        "spddump-tunnel",
        MessageRepr {
            header: Header {
                // The policy refcount, which Linux reports in sadb_msg_reserved.
                reserved: 2,
                ..Header::new(MsgType::XSpdDump, SaType::Unspec, 0, 209)
            },
            extensions: vec![
                Extension::Address(ExtType::AddressSrc, prefix("10.1.0.0", 16)),
                Extension::Address(ExtType::AddressDst, prefix("10.2.0.0", 16)),
                Extension::Lifetime(ExtType::LifetimeHard, lt(0)),
                Extension::Lifetime(ExtType::LifetimeSoft, lt(0)),
                Extension::Lifetime(ExtType::LifetimeCurrent, lt(1_795_765_851)),
                Extension::Policy(Policy {
                    policy_type: PolicyType::Ipsec,
                    dir: Direction::Out,
                    reserved: 0,
                    id: 1,
                    priority: 0,
                    requests: vec![
                        IpsecRequest {
                            proto: IPPROTO_ESP,
                            mode: Mode::Tunnel,
                            level: Level::Unique,
                            reqid: 9,
                            tunnel: Some((sock("192.0.2.1"), sock("192.0.2.2"))),
                        },
                        IpsecRequest {
                            proto: IPPROTO_AH,
                            mode: Mode::Transport,
                            level: Level::Require,
                            reqid: 0,
                            tunnel: None,
                        },
                    ],
                }),
            ],
        },
    );
    let bytes = fixture("spddump-tunnel");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.reserved(), 2, "refcount in sadb_msg_reserved is accepted");
    let p = m.policy().unwrap();
    assert_eq!(p.id() & 7, 1, "id & 7 is the direction index (out = 1)");
    let reqs: Vec<_> = p.requests().collect();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header().len.get(), 48, "request length is in bytes");
    assert_eq!(reqs[0].satype(), Some(SaType::Esp));
    assert_eq!(reqs[1].level(), Level::Require);
}

#[test]
fn ipv6_sa_with_nat_t() {
    both_ways(
        "add-esp6-natt",
        MessageRepr {
            header: Header::new(MsgType::Add, SaType::Esp, 2, 209),
            extensions: vec![
                Extension::Sa(Sa {
                    spi: 0xc0ff_ee01,
                    replay: 0,
                    state: SaState::Mature,
                    auth: 3,
                    encrypt: 12,
                    flags: 0,
                }),
                Extension::Lifetime(ExtType::LifetimeHard, lt(0)),
                Extension::Lifetime(ExtType::LifetimeSoft, lt(0)),
                Extension::Lifetime(ExtType::LifetimeCurrent, lt(1_795_765_849)),
                Extension::Address(ExtType::AddressSrc, sa_host("2001:db8::1")),
                Extension::Address(ExtType::AddressDst, sa_host("2001:db8::2")),
                Extension::Key(ExtType::KeyAuth, key(0..20)),
                Extension::Key(ExtType::KeyEncrypt, key(100..116)),
                Extension::Sa2(Sa2 {
                    mode: Mode::Transport,
                    sequence: 0,
                    reqid: 0,
                }),
                Extension::NatTType(UDP_ENCAP_ESPINUDP),
                Extension::NatTPort(ExtType::NatTSport, 4500),
                Extension::NatTPort(ExtType::NatTDport, 4501),
            ],
        },
    );
    let bytes = fixture("add-esp6-natt");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.nat_t_sport(), Some(4500));
    assert_eq!(m.nat_t_dport(), Some(4501));
    assert_eq!(m.raw_extension(ExtType::AddressSrc).unwrap().len(), 40);
}

/// ACQUIRE for a policy added over netlink: the proposal is the cross product of
/// the registered authentication and encryption algorithms with ids below 32, with
/// af_key's default lifetimes (linux-pfkey.md §9).
#[test]
fn acquire_with_proposal() {
    let auths: [(u8, u16); 7] = [
        (2, 128),
        (3, 160),
        (5, 256),
        (6, 384),
        (7, 512),
        (8, 160),
        (9, 128),
    ];
    let encs: [(u8, u16, u16); 8] = [
        (11, 0, 0),
        (2, 64, 64),
        (3, 192, 192),
        (6, 40, 128),
        (7, 40, 448),
        (12, 128, 256),
        (22, 128, 256),
        (13, 160, 288),
    ];
    let mut combs = Vec::new();
    for (encrypt, emin, emax) in encs {
        for (auth, abits) in auths {
            combs.push(Comb {
                auth,
                encrypt,
                auth_minbits: abits,
                auth_maxbits: abits,
                encrypt_minbits: emin,
                encrypt_maxbits: emax,
                soft_addtime: 72000,
                hard_addtime: 86400,
                soft_usetime: 25200,
                hard_usetime: 28800,
                ..Comb::default()
            });
        }
    }
    both_ways(
        "acquire-netlink-policy",
        MessageRepr {
            header: Header::new(MsgType::Acquire, SaType::Esp, 2, 0),
            extensions: vec![
                Extension::Address(ExtType::AddressSrc, sa_host("10.0.0.1")),
                Extension::Address(ExtType::AddressDst, sa_host("10.0.0.3")),
                Extension::Policy(Policy {
                    policy_type: PolicyType::Ipsec,
                    dir: Direction::Out,
                    reserved: 0,
                    id: 1,
                    priority: 0,
                    requests: vec![],
                }),
                Extension::Proposal { replay: 32, combs },
            ],
        },
    );
}

/// Every proper prefix of every fixture is rejected, never a panic: both as-is
/// (length mismatch) and with `sadb_msg_len` patched to the prefix, which makes
/// the extension walk itself hit the cut.
#[test]
fn truncation_sweep() {
    for (name, bytes) in all_fixtures() {
        // Offsets where an extension ends: the only places a cut message is valid.
        let full = Message::parse(&bytes).unwrap();
        let mut boundaries = vec![16];
        let mut at = 16;
        while at < bytes.len() {
            let words = u16::from_ne_bytes([bytes[at], bytes[at + 1]]) as usize;
            at += words * 8;
            boundaries.push(at);
        }
        assert_eq!(boundaries.len(), full.extensions().count() + 1, "{name}");
        for cut in 0..bytes.len() {
            let prefix = &bytes[..cut];
            assert!(
                Message::parse(prefix).is_err(),
                "{name}: prefix {cut} parsed"
            );
            if cut >= 16 && cut % 8 == 0 {
                let mut patched = prefix.to_vec();
                patched[4..6].copy_from_slice(&((cut / 8) as u16).to_ne_bytes());
                match Message::parse(&patched) {
                    Ok(_) => assert!(boundaries.contains(&cut), "{name}: cut at {cut} parsed"),
                    Err(e) => {
                        assert!(!boundaries.contains(&cut), "{name}: cut at {cut}: {e}");
                        assert!(e.to_string().contains("byte"), "{e}");
                    }
                }
            }
        }
    }
}

/// Unknown extension types (> 26) and unknown enum values are kept and round-trip.
#[test]
fn unknown_values_round_trip() {
    let mut bytes = fixture("dump-esp-sa");
    // Append an unknown extension type 40 with 12 bytes of payload (2 words).
    bytes.extend_from_slice(&[2, 0, 40, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    let words = (bytes.len() / 8) as u16;
    bytes[4..6].copy_from_slice(&words.to_ne_bytes());
    bytes[1] = 99; // unknown message type
    bytes[3] = 42; // unknown SA type
    bytes[16 + 9] = 7; // unknown SA state
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.msg_type(), MsgType::Unknown(99));
    assert_eq!(m.satype(), SaType::Unknown(42));
    let last = m.extensions().last().unwrap();
    assert!(matches!(last, Ext::Unknown { ext_type: 40, bytes } if bytes.len() == 16));
    let repr = MessageRepr::from_message(&m);
    assert_eq!(repr.to_bytes().unwrap(), bytes);
}

fn patch_len(bytes: &mut [u8]) {
    let words = (bytes.len() / 8) as u16;
    bytes[4..6].copy_from_slice(&words.to_ne_bytes());
}

#[test]
fn header_errors() {
    assert_eq!(
        Message::parse(&[2, 3, 0]).unwrap_err(),
        ParseError::Truncated {
            what: "sadb_msg header",
            at: 0,
            need: 16,
            have: 3
        }
    );
    let mut b = fixture("add-eexist");
    b[0] = 1;
    assert_eq!(Message::parse(&b).unwrap_err(), ParseError::BadVersion(1));
    let mut b = fixture("add-eexist");
    b[4] = 3;
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        ParseError::LengthMismatch {
            declared: 3,
            actual: 16
        }
    );
    let e = ParseError::LengthMismatch {
        declared: 3,
        actual: 16,
    };
    assert_eq!(
        e.to_string(),
        "sadb_msg_len is 3 words (24 bytes) but the message has 16 bytes"
    );
}

#[test]
fn extension_errors_name_type_and_offset() {
    let base = fixture("dump-esp-sa");
    // The SA extension is at byte 16; the SRC address at 16+16+96 = 128.
    let src_at = 128;
    assert_eq!(&base[src_at + 2..src_at + 4], &[5, 0]);

    // Zero-length extension.
    let mut b = base.clone();
    b[16] = 0;
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        ParseError::BadExtensionLength {
            ext: ExtType::Sa,
            at: 16,
            len_words: 0,
            remaining: 256
        }
    );
    // Extension running past the end.
    let mut b = base.clone();
    b[16] = 40;
    assert!(matches!(
        Message::parse(&b).unwrap_err(),
        ParseError::BadExtensionLength {
            ext: ExtType::Sa,
            at: 16,
            len_words: 40,
            ..
        }
    ));
    // Reserved type 0.
    let mut b = base.clone();
    b[18] = 0;
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        ParseError::ReservedExtension { at: 16 }
    );
    // Duplicate: turn the DST address into a second SRC.
    let mut b = base.clone();
    b[src_at + 24 + 2] = 5;
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        ParseError::DuplicateExtension {
            ext: ExtType::AddressSrc,
            at: src_at + 24,
            first: src_at
        }
    );
    // Too short for its structure: SA2 (16 bytes) declared as 1 word.
    let mut b = fixture("add-eexist");
    b.extend_from_slice(&[1, 0, 19, 0, 0, 0, 0, 0]);
    patch_len(&mut b);
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        ParseError::ExtensionTooShort {
            ext: ExtType::Sa2,
            at: 16,
            need: 16,
            have: 8
        }
    );
    // Unknown address family.
    let mut b = base.clone();
    b[src_at + 8] = 7;
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        ParseError::UnsupportedFamily {
            ext: ExtType::AddressSrc,
            at: src_at + 8,
            family: 7
        }
    );
    // IPv4 address with an IPv6-sized extension is rejected (exact lengths).
    let mut b = fixture("add-eexist");
    b.extend_from_slice(&[5, 0, 5, 0, 255, 32, 0, 0, 2, 0, 0, 0, 10, 0, 0, 1]);
    b.extend_from_slice(&[0; 24]);
    patch_len(&mut b);
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        ParseError::AddressLength {
            ext: ExtType::AddressSrc,
            at: 16,
            family: "IPv4",
            need: 24,
            have: 40
        }
    );
    // Prefix longer than the address.
    let mut b = base.clone();
    b[src_at + 5] = 33;
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        ParseError::PrefixTooLong {
            ext: ExtType::AddressSrc,
            at: src_at,
            prefix: 33,
            max: 32
        }
    );
    // Key bits beyond the extension: the auth key ext (40 bytes) claims 512 bits.
    let key_at = src_at + 48;
    let mut b = base.clone();
    b[key_at + 4..key_at + 6].copy_from_slice(&512u16.to_ne_bytes());
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        ParseError::KeyOverrun {
            ext: ExtType::KeyAuth,
            at: key_at,
            bits: 512,
            need: 72,
            have: 40
        }
    );
    assert_eq!(
        Message::parse(&b).unwrap_err().to_string(),
        "KEY_AUTH extension at byte 176: a 512-bit key needs 72 bytes, the extension has 40"
    );
}

#[test]
fn policy_and_sec_ctx_errors() {
    let base = fixture("spddump-tunnel");
    let pol_at = 16 + 24 + 24 + 96;
    assert_eq!(&base[pol_at + 2..pol_at + 4], &[18, 0]);
    let req_at = pol_at + 16;
    // Request shorter than 16 bytes.
    let mut b = base.clone();
    b[req_at] = 8;
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        ParseError::BadRequest {
            at: req_at,
            len: 8,
            problem: "is shorter than the 16-byte sadb_x_ipsecrequest"
        }
    );
    // Request longer than the policy.
    let mut b = base.clone();
    b[req_at] = 200;
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        ParseError::BadRequest {
            at: req_at,
            len: 200,
            problem: "runs past the end of the policy"
        }
    );
    // Tunnel request whose endpoints have a bad family.
    let mut b = base.clone();
    b[req_at + 16] = 9;
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        ParseError::UnsupportedFamily {
            ext: ExtType::Policy,
            at: req_at + 16,
            family: 9
        }
    );
    // Security context: length must be exactly ceil((8 + ctx_len) / 8) words.
    let mut b = fixture("add-eexist");
    b.extend_from_slice(&[2, 0, 24, 0, 1, 1, 5, 0, b'a', b'b', b'c', b'd', 0, 0, 0, 0]);
    patch_len(&mut b);
    let m = Message::parse(&b).unwrap();
    assert_eq!(m.sec_ctx().unwrap().context(), b"abcd\0");
    b[16] = 3;
    b.extend_from_slice(&[0; 8]);
    patch_len(&mut b);
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        ParseError::SecCtxLength {
            at: 16,
            ctx_len: 5,
            need: 16,
            have: 24
        }
    );
}

/// Builder errors: buffers too small, values that cannot be expressed.
#[test]
fn builder_errors() {
    use pfkey::builder::MessageBuilder;
    use pfkey::BuildError;
    let h = Header::new(MsgType::Add, SaType::Esp, 1, 1);
    let mut small = [0u8; 8];
    assert!(matches!(
        MessageBuilder::new(&mut small, &h),
        Err(BuildError::BufferTooSmall { need: 16, have: 8 })
    ));
    let mut buf = [0u8; 40];
    let mut b = MessageBuilder::new(&mut buf, &h).unwrap();
    b.sa(&Sa::default()).unwrap();
    assert_eq!(
        b.address(ExtType::AddressSrc, &host("10.0.0.1")).err(),
        Some(BuildError::BufferTooSmall { need: 56, have: 40 })
    );
    let mut v = Vec::new();
    let mut b = MessageBuilder::new_vec(&mut v, &h);
    assert!(matches!(
        b.key(ExtType::KeyAuth, 160, &[0u8; 4]),
        Err(BuildError::Unrepresentable {
            ext: ExtType::KeyAuth,
            ..
        })
    ));
    let huge = vec![0u8; 70_000];
    assert!(matches!(
        b.sec_ctx(1, 1, &huge),
        Err(BuildError::Unrepresentable {
            ext: ExtType::SecCtx,
            ..
        })
    ));
    let mut v = Vec::new();
    let mut b = MessageBuilder::new_vec(&mut v, &h);
    let big = vec![0u8; 8100];
    let mut err = None;
    for _ in 0..70 {
        if let Err(e) = b.key(ExtType::KeyAuth, 64800, &big) {
            err = Some(e);
            break;
        }
    }
    assert!(
        matches!(err, Some(BuildError::MessageTooLong(_))),
        "{err:?}"
    );
}

/// Values the parser would reject or change are refused when building, so that
/// whatever the builder emits parses back to the same value.
#[test]
fn builder_refuses_what_would_not_round_trip() {
    use pfkey::BuildError;
    let sock = |s: &str| -> SocketAddr { s.parse().unwrap() };
    let req = |mode, tunnel| IpsecRequest {
        proto: IPPROTO_ESP,
        mode,
        level: Level::Require,
        reqid: 0,
        tunnel,
    };
    let policy = |r| MessageRepr {
        header: Header::new(MsgType::XSpdAdd, SaType::Unspec, 1, 1),
        extensions: vec![Extension::Policy(Policy {
            policy_type: PolicyType::Ipsec,
            dir: Direction::Out,
            reserved: 0,
            id: 0,
            priority: 0,
            requests: vec![r],
        })],
    };
    let what = |m: MessageRepr| match m.to_bytes() {
        Err(BuildError::Unrepresentable { what, .. }) => what,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        what(policy(req(Mode::Tunnel, None))),
        "a tunnel-mode request needs tunnel endpoints"
    );
    assert_eq!(
        what(policy(req(
            Mode::Transport,
            Some((sock("10.0.0.1:0"), sock("10.0.0.2:0")))
        ))),
        "tunnel endpoints are only carried in tunnel mode"
    );
    assert_eq!(
        what(policy(req(
            Mode::Tunnel,
            Some((sock("10.0.0.1:0"), sock("[::1]:0")))
        ))),
        "tunnel endpoints of different address families"
    );
    let one = |e| MessageRepr {
        header: Header::new(MsgType::Dump, SaType::Unspec, 1, 1),
        extensions: vec![e],
    };
    assert_eq!(
        what(one(Extension::KmAddress {
            local: sock("10.0.0.1:500"),
            remote: sock("[2001:db8::1]:500"),
        })),
        "local and remote addresses of different families"
    );
    assert_eq!(
        what(one(Extension::Filter(Filter {
            src: "10.0.0.0".parse().unwrap(),
            src_prefix: 8,
            dst: "2001:db8::".parse().unwrap(),
            dst_prefix: 32,
        }))),
        "source and destination of different families"
    );
    assert_eq!(
        Key::new(vec![0; 9000]).err(),
        Some(BuildError::KeyTooLong(9000))
    );
}

/// Every captured fixture, whatever it holds: it names its provenance, parses, and
/// its owned values build the same bytes again (the tests above also check the
/// values of the ones that matter most).
#[test]
fn every_fixture_round_trips_and_names_its_provenance() {
    for (name, bytes) in all_fixtures() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let text = std::fs::read_to_string(dir.join(format!("{name}.hex"))).unwrap();
        assert!(
            text.lines()
                .any(|l| l.starts_with("# provenance: CAPTURED")),
            "{name}: no capture provenance"
        );
        assert!(
            text.lines().any(|l| l.starts_with("# kernel: Linux")),
            "{name}: no kernel"
        );
        let repr = MessageRepr::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(repr.to_bytes().unwrap(), bytes, "{name}: emitted bytes");
        // And the view agrees with the owned values, extension by extension.
        let m = Message::parse(&bytes).unwrap();
        let kinds: Vec<_> = m.extensions().map(|e| e.ext_type()).collect();
        let owned: Vec<_> = repr.extensions.iter().map(Extension::ext_type).collect();
        assert_eq!(kinds, owned, "{name}");
    }
}
