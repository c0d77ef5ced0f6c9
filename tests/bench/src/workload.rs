//! The one workload every tool is measured on: N ESP SAs (AES-CBC-128 +
//! HMAC-SHA1, transport) between distinct addresses, written for each tool.

use std::fmt::Write as _;

/// The HMAC-SHA1 key of every SA (160 bits).
pub const AUTH_KEY: [u8; 20] = [0x11; 20];
/// The AES-CBC key of every SA (128 bits).
pub const ENC_KEY: [u8; 16] = [0x22; 16];

/// Source, destination and SPI of SA `i`: 10.0.0.0 + i → 10.128.0.0 + i, SPI 0x1000 + i.
pub fn sa_addrs(i: u32) -> ([u8; 4], [u8; 4], u32) {
    let src = 0x0a00_0000u32 + i;
    let dst = 0x0a80_0000u32 + i;
    (src.to_be_bytes(), dst.to_be_bytes(), 0x1000 + i)
}

fn ip(b: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

fn hex(k: &[u8]) -> String {
    k.iter().fold(String::from("0x"), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A setkey-language script of `n` `add` statements, for `pfkey -f`.
pub fn setkey_script(n: u32) -> String {
    let (a, e) = (hex(&AUTH_KEY), hex(&ENC_KEY));
    let mut s = String::with_capacity(n as usize * 140);
    for i in 0..n {
        let (src, dst, spi) = sa_addrs(i);
        let _ = writeln!(
            s,
            "add {} {} esp {spi:#x} -m transport -E aes-cbc {e} -A hmac-sha1 {a};",
            ip(src),
            ip(dst)
        );
    }
    s
}

/// An `ip -batch` file of `n` `xfrm state add` lines.
pub fn ip_batch(n: u32) -> String {
    let (a, e) = (hex(&AUTH_KEY), hex(&ENC_KEY));
    let mut s = String::with_capacity(n as usize * 170);
    for i in 0..n {
        let (src, dst, spi) = sa_addrs(i);
        let _ = writeln!(
            s,
            "xfrm state add src {} dst {} proto esp spi {spi:#x} mode transport enc 'cbc(aes)' {e} auth-trunc 'hmac(sha1)' {a} 96",
            ip(src),
            ip(dst)
        );
    }
    s
}
