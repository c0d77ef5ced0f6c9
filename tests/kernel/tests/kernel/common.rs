//! Requests shared by several tests.

use std::net::IpAddr;

use pfkey_kernel_tests::raw::{alg, ext, ipsec, msg, satype, Builder, Header};
use pfkey_kernel_tests::PfKeySocket;

/// 128-bit AES key used by the ESP SAs in these tests.
pub const ENC_KEY: [u8; 16] = *b"0123456789abcdef";
/// 160-bit HMAC-SHA1 key used by the ESP SAs in these tests.
pub const AUTH_KEY: [u8; 20] = *b"abcdefghij0123456789";

pub fn addr(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// ADD request for a transport-mode ESP SA, AES-CBC-128 + HMAC-SHA1-96, with hard and soft
/// lifetimes and reqid `reqid`.
pub fn add_esp(seq: u32, spi: u32, src: &str, dst: &str, reqid: u32) -> Vec<u8> {
    Builder::new(msg::ADD, satype::ESP, seq)
        .sa(spi, 32, alg::AALG_SHA1HMAC, alg::EALG_AESCBC)
        .lifetime(ext::LIFETIME_HARD, 0, 0, 3600, 0)
        .lifetime(ext::LIFETIME_SOFT, 0, 0, 3000, 0)
        .address(ext::ADDRESS_SRC, addr(src))
        .address(ext::ADDRESS_DST, addr(dst))
        .key(ext::KEY_AUTH, &AUTH_KEY)
        .key(ext::KEY_ENCRYPT, &ENC_KEY)
        .sa2(ipsec::MODE_TRANSPORT, reqid)
        .finish()
}

/// Sends `req` and asserts the kernel answered without error; returns the reply.
pub fn request_ok(sock: &PfKeySocket, req: &[u8]) -> Vec<u8> {
    let reply = sock.request(req);
    let h = Header::parse(&reply);
    assert_eq!(
        h.errno,
        0,
        "kernel refused message type {}: errno {} ({})",
        h.msg_type,
        h.errno,
        std::io::Error::from_raw_os_error(i32::from(h.errno))
    );
    reply
}

/// Sends `req` and returns the errno of the kernel's reply (0 for success).
pub fn request_errno(sock: &PfKeySocket, req: &[u8]) -> i32 {
    i32::from(Header::parse(&sock.request(req)).errno)
}
