//! Writes the seed corpus for `parse_message`: every fixture under `fixtures/`
//! (hex files, `#` comments allowed), plus messages built with the codec's builder
//! that together use every extension kind.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --bin make_seeds [FIXTURES_DIR] [OUT_DIR]
//! ```
//! Defaults: `fixtures/` and `fuzz/seeds/` of this repository.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use pfkey::policy::{IpsecRequest, Policy};
use pfkey::repr::{
    Address, Comb, Extension, Filter, Header, Key, Lifetime, MessageRepr, Sa, Sa2, SupportedAlg,
};
use pfkey::wire::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut args = std::env::args_os().skip(1);
    let fixtures = args
        .next()
        .map_or_else(|| root.join("fixtures"), PathBuf::from);
    let out = args
        .next()
        .map_or_else(|| root.join("fuzz/seeds"), PathBuf::from);
    std::fs::create_dir_all(&out)?;

    let mut written = 0;
    if let Ok(dir) = std::fs::read_dir(&fixtures) {
        let mut paths: Vec<_> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.extension().and_then(|e| e.to_str()) != Some("hex") {
                continue;
            }
            let bytes = unhex(&std::fs::read_to_string(&path)?)?;
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("fixture");
            std::fs::write(out.join(format!("fixture-{stem}.bin")), bytes)?;
            written += 1;
        }
    }
    for (name, repr) in built() {
        let bytes = repr.to_bytes()?;
        // Every seed must be a valid message, or it seeds nothing interesting.
        pfkey::Message::parse(&bytes)?;
        std::fs::write(out.join(format!("built-{name}.bin")), bytes)?;
        written += 1;
    }
    eprintln!("wrote {written} seeds to {}", out.display());
    Ok(())
}

/// Hex text to bytes: `#` starts a comment; whitespace is ignored.
fn unhex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err("odd number of hex digits".into());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

fn sock(s: &str) -> SocketAddr {
    s.parse().expect("literal socket address")
}

fn host(s: &str) -> Address {
    Address::host(sock(s).ip())
}

fn msg(t: MsgType, satype: SaType, extensions: Vec<Extension>) -> MessageRepr {
    MessageRepr {
        header: Header::new(t, satype, 1, 4242),
        extensions,
    }
}

fn key(t: ExtType, n: usize, start: u8) -> Extension {
    let data = (0..n).map(|i| start.wrapping_add(i as u8)).collect();
    Extension::Key(t, Key::new(data).expect("small key"))
}

fn built() -> Vec<(&'static str, MessageRepr)> {
    let sa = Extension::Sa(Sa {
        spi: 0x1000,
        replay: 32,
        state: SaState::Mature,
        auth: 5,
        encrypt: 12,
        flags: SADB_SAFLAGS_NOECN,
    });
    let life = |t, add| {
        Extension::Lifetime(
            t,
            Lifetime {
                addtime: add,
                ..Lifetime::default()
            },
        )
    };
    let tunnel4 = IpsecRequest {
        proto: IPPROTO_ESP,
        mode: Mode::Tunnel,
        level: Level::Unique,
        reqid: 9,
        tunnel: Some((sock("192.0.2.1:0"), sock("192.0.2.2:0"))),
    };
    let tunnel6 = IpsecRequest {
        proto: IPPROTO_AH,
        mode: Mode::Tunnel,
        level: Level::Require,
        reqid: 0,
        tunnel: Some((sock("[2001:db8::1]:0"), sock("[2001:db8::2]:0"))),
    };
    let transport = IpsecRequest {
        proto: IPPROTO_COMP,
        mode: Mode::Transport,
        level: Level::Use,
        reqid: 0,
        tunnel: None,
    };
    let policy = |requests| {
        Extension::Policy(Policy {
            policy_type: PolicyType::Ipsec,
            dir: Direction::Out,
            reserved: 0,
            id: 0x209,
            priority: 0x8000_0000,
            requests,
        })
    };
    vec![
        (
            "dump-esp",
            msg(
                MsgType::Dump,
                SaType::Esp,
                vec![
                    sa.clone(),
                    life(ExtType::LifetimeHard, 3600),
                    life(ExtType::LifetimeSoft, 2880),
                    life(ExtType::LifetimeCurrent, 1_764_230_400),
                    Extension::Address(ExtType::AddressSrc, host("10.0.0.1:0")),
                    Extension::Address(ExtType::AddressDst, host("10.0.0.2:0")),
                    key(ExtType::KeyAuth, 32, 0x20),
                    key(ExtType::KeyEncrypt, 32, 0x40),
                    Extension::Sa2(Sa2 {
                        mode: Mode::Tunnel,
                        sequence: 0,
                        reqid: 7,
                    }),
                ],
            ),
        ),
        (
            "add-esp6-natt",
            msg(
                MsgType::Add,
                SaType::Esp,
                vec![
                    sa,
                    Extension::Address(ExtType::AddressSrc, host("[2001:db8::1]:0")),
                    Extension::Address(ExtType::AddressDst, host("[2001:db8::2]:0")),
                    Extension::Address(
                        ExtType::AddressProxy,
                        Address {
                            proto: 17,
                            prefix_len: 64,
                            addr: sock("[2001:db8::%2]:500"),
                        },
                    ),
                    key(ExtType::KeyAuth, 20, 0),
                    key(ExtType::KeyEncrypt, 16, 100),
                    Extension::NatTType(UDP_ENCAP_ESPINUDP),
                    Extension::NatTPort(ExtType::NatTSport, 4500),
                    Extension::NatTPort(ExtType::NatTDport, 4501),
                    Extension::Address(ExtType::NatTOa, host("192.168.1.2:0")),
                    Extension::SecCtx {
                        alg: 1,
                        doi: 1,
                        ctx: b"system_u:object_r:ipsec_spd_t:s0\0".to_vec(),
                    },
                ],
            ),
        ),
        (
            "spdadd-tunnel",
            msg(
                MsgType::XSpdAdd,
                SaType::Unspec,
                vec![
                    Extension::Address(
                        ExtType::AddressSrc,
                        Address {
                            proto: 255,
                            prefix_len: 16,
                            addr: sock("10.1.0.0:0"),
                        },
                    ),
                    Extension::Address(
                        ExtType::AddressDst,
                        Address {
                            proto: 6,
                            prefix_len: 24,
                            addr: sock("10.2.0.0:443"),
                        },
                    ),
                    policy(vec![tunnel4, transport]),
                ],
            ),
        ),
        (
            "migrate",
            msg(
                MsgType::XMigrate,
                SaType::Unspec,
                vec![
                    Extension::Address(ExtType::AddressSrc, host("[2001:db8::1]:0")),
                    Extension::Address(ExtType::AddressDst, host("[2001:db8::2]:0")),
                    policy(vec![tunnel6, tunnel6]),
                    Extension::KmAddress {
                        local: sock("10.0.0.1:0"),
                        remote: sock("10.0.0.2:500"),
                    },
                ],
            ),
        ),
        (
            "register-reply",
            msg(
                MsgType::Register,
                SaType::Esp,
                vec![
                    Extension::Supported(
                        ExtType::SupportedAuth,
                        vec![
                            SupportedAlg {
                                id: 2,
                                ivlen: 0,
                                min_bits: 128,
                                max_bits: 128,
                                reserved: 0,
                            },
                            SupportedAlg {
                                id: 3,
                                ivlen: 0,
                                min_bits: 160,
                                max_bits: 160,
                                reserved: 0,
                            },
                        ],
                    ),
                    Extension::Supported(
                        ExtType::SupportedEncrypt,
                        vec![SupportedAlg {
                            id: 12,
                            ivlen: 8,
                            min_bits: 128,
                            max_bits: 256,
                            reserved: 0,
                        }],
                    ),
                ],
            ),
        ),
        (
            "acquire",
            msg(
                MsgType::Acquire,
                SaType::Esp,
                vec![
                    Extension::Address(ExtType::AddressSrc, host("10.0.0.1:0")),
                    Extension::Address(ExtType::AddressDst, host("10.0.0.2:0")),
                    policy(vec![]),
                    Extension::Proposal {
                        replay: 32,
                        combs: vec![Comb {
                            auth: 3,
                            encrypt: 12,
                            auth_minbits: 160,
                            auth_maxbits: 160,
                            encrypt_minbits: 128,
                            encrypt_maxbits: 256,
                            soft_addtime: 72000,
                            hard_addtime: 86400,
                            ..Comb::default()
                        }],
                    },
                    Extension::Identity {
                        ext: ExtType::IdentitySrc,
                        ident_type: SADB_IDENTTYPE_FQDN,
                        reserved: 0,
                        id: 0,
                        data: b"gw.example\0\0\0\0\0\0".to_vec(),
                    },
                    Extension::Sensitivity {
                        header: SadbSens {
                            len: U16::new(3),
                            ext_type: U16::new(ExtType::Sensitivity.value()),
                            sens_len: 1,
                            ..SadbSens::default()
                        },
                        data: vec![0xff; 8],
                    },
                ],
            ),
        ),
        (
            "getspi",
            msg(
                MsgType::GetSpi,
                SaType::Esp,
                vec![
                    Extension::Address(ExtType::AddressSrc, host("10.0.0.1:0")),
                    Extension::Address(ExtType::AddressDst, host("10.0.0.2:0")),
                    Extension::SpiRange {
                        min: 0x100,
                        max: 0x0fff_ffff,
                    },
                    Extension::KmPrivate(vec![1, 2, 3, 4, 5, 6, 7, 8]),
                    Extension::Raw(vec![
                        2, 0, 27, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8,
                    ]),
                ],
            ),
        ),
        (
            "dump-filter",
            msg(
                MsgType::Dump,
                SaType::Unspec,
                vec![Extension::Filter(Filter {
                    src: sock("10.0.0.0:0").ip(),
                    src_prefix: 8,
                    dst: sock("10.1.0.0:0").ip(),
                    dst_prefix: 16,
                })],
            ),
        ),
        ("flush", msg(MsgType::Flush, SaType::Unspec, vec![])),
    ]
}
