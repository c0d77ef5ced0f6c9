//! Requests shared by several tests, built with the `pfkey` codec.

use std::net::IpAddr;

use pfkey::alg::{SADB_AALG_SHA1HMAC, SADB_X_EALG_AESCBC};
use pfkey::builder::MessageBuilder;
use pfkey::policy::{IpsecRequest, Policy};
use pfkey::repr::{Address, Lifetime, Sa, Sa2};
use pfkey::wire::{Direction, ExtType, Level, Mode, MsgType, PolicyType, SaType, IPPROTO_ESP};
use pfkey::BuildError;
use pfkey_kernel_tests::{build, parse, PfKeySocket};

/// 128-bit AES key used by the ESP SAs in these tests.
pub const ENC_KEY: [u8; 16] = *b"0123456789abcdef";
/// 160-bit HMAC-SHA1 key used by the ESP SAs in these tests.
pub const AUTH_KEY: [u8; 20] = *b"abcdefghij0123456789";

pub fn addr(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

pub fn host(s: &str) -> Address {
    Address::host(addr(s))
}

/// A selector address: `ip/prefix`, any upper-layer protocol.
pub fn net(s: &str, prefix_len: u8) -> Address {
    Address {
        prefix_len,
        ..host(s)
    }
}

pub fn addtime(seconds: u64) -> Lifetime {
    Lifetime {
        addtime: seconds,
        ..Lifetime::default()
    }
}

/// SA, addresses and the AES-CBC-128 + HMAC-SHA1 keys of a transport ESP SA.
pub fn esp_sa(
    b: &mut MessageBuilder<'_>,
    spi: u32,
    src: &str,
    dst: &str,
) -> Result<(), BuildError> {
    b.sa(&Sa {
        spi,
        replay: 32,
        auth: SADB_AALG_SHA1HMAC,
        encrypt: SADB_X_EALG_AESCBC,
        ..Sa::default()
    })?
    .address(ExtType::AddressSrc, &host(src))?
    .address(ExtType::AddressDst, &host(dst))?
    .key(ExtType::KeyAuth, 160, &AUTH_KEY)?
    .key(ExtType::KeyEncrypt, 128, &ENC_KEY)?;
    Ok(())
}

/// ADD request for a transport-mode ESP SA, AES-CBC-128 + HMAC-SHA1-96, with hard and soft
/// lifetimes (addtime 3600/3000 s) and reqid `reqid`.
pub fn add_esp(seq: u32, spi: u32, src: &str, dst: &str, reqid: u32) -> Vec<u8> {
    build(MsgType::Add, SaType::Esp, seq, |b| {
        esp_sa(b, spi, src, dst)?;
        b.lifetime(ExtType::LifetimeHard, &addtime(3600))?
            .lifetime(ExtType::LifetimeSoft, &addtime(3000))?
            .sa2(&Sa2 {
                mode: Mode::Transport,
                sequence: 0,
                reqid,
            })?;
        Ok(())
    })
}

/// GET or DELETE of the ESP SA `spi` between `src` and `dst`.
pub fn sa_by_spi(msg_type: MsgType, seq: u32, spi: u32, src: &str, dst: &str) -> Vec<u8> {
    build(msg_type, SaType::Esp, seq, |b| {
        b.sa(&Sa {
            spi,
            ..Sa::default()
        })?
        .address(ExtType::AddressSrc, &host(src))?
        .address(ExtType::AddressDst, &host(dst))?;
        Ok(())
    })
}

/// One ESP template: transport, or tunnel between `tunnel` endpoints.
pub fn esp_request(level: Level, reqid: u32, tunnel: Option<(&str, &str)>) -> IpsecRequest {
    IpsecRequest {
        proto: IPPROTO_ESP,
        mode: if tunnel.is_some() {
            Mode::Tunnel
        } else {
            Mode::Transport
        },
        level,
        reqid,
        tunnel: tunnel.map(|(s, d)| ((addr(s), 0).into(), (addr(d), 0).into())),
    }
}

/// An IPSEC policy in direction `dir` with `requests`.
pub fn ipsec_policy(dir: Direction, requests: Vec<IpsecRequest>) -> Policy {
    Policy {
        policy_type: PolicyType::Ipsec,
        dir,
        reserved: 0,
        id: 0,
        priority: 0,
        requests,
    }
}

/// X_SPDADD (or another SPD message type) for `src -> dst` (any protocol) with `policy`.
pub fn spd(msg_type: MsgType, seq: u32, src: Address, dst: Address, policy: &Policy) -> Vec<u8> {
    build(msg_type, SaType::Unspec, seq, |b| {
        b.address(ExtType::AddressSrc, &src)?
            .address(ExtType::AddressDst, &dst)?
            .policy(policy)?;
        Ok(())
    })
}

/// Sends `req` and asserts the kernel answered without error; returns the reply.
pub fn request_ok(sock: &PfKeySocket, req: &[u8]) -> Vec<u8> {
    let reply = sock.request(req);
    let m = parse(&reply);
    assert_eq!(
        m.errno(),
        0,
        "kernel refused {:?}: errno {} ({})",
        m.msg_type(),
        m.errno(),
        std::io::Error::from_raw_os_error(i32::from(m.errno()))
    );
    reply
}

/// Sends `req` and returns the errno of the kernel's reply (0 for success).
pub fn request_errno(sock: &PfKeySocket, req: &[u8]) -> i32 {
    i32::from(parse(&sock.request(req)).errno())
}

/// The extension types of a message, in order.
pub fn ext_types(msg: &[u8]) -> Vec<ExtType> {
    parse(msg).extensions().map(|e| e.ext_type()).collect()
}
