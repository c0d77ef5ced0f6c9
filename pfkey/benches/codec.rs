//! The codec on a typical 272-byte DUMP reply: an ESP SA with HMAC-SHA-256 and
//! AES-CBC-256 keys, three lifetimes, two IPv4 addresses and SA2
//! (16 + 16 + 3×32 + 2×24 + 2×40 + 16 = 272 bytes; the same message as
//! fixtures/dump-esp-sa.hex, captured from Linux 6.1, but for its pid, seq, protocol-0 addresses and current lifetime).
//!
//! - `parse_walk`: `Message::parse` and a full walk of every extension's fields;
//! - `build`: the same message built with `MessageBuilder` into a reused buffer;
//! - `copy_272`: copying the 272 bytes, as a baseline in the same run.
//!
//! Goals (issue 2): parse+walk < 60 ns, build < 120 ns. Run:
//! `cargo bench -p pfkey --bench codec`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use pfkey::builder::MessageBuilder;
use pfkey::message::{Ext, Message};
use pfkey::repr::{Address, Header, Lifetime, Sa, Sa2};
use pfkey::wire::{ExtType, Mode, MsgType, SaState, SaType};

struct Values {
    header: Header,
    sa: Sa,
    hard: Lifetime,
    soft: Lifetime,
    current: Lifetime,
    src: Address,
    dst: Address,
    auth: [u8; 32],
    enc: [u8; 32],
    sa2: Sa2,
}

fn values() -> Values {
    Values {
        header: Header::new(MsgType::Dump, SaType::Esp, 1, 4242),
        sa: Sa {
            spi: 0x1000,
            replay: 32,
            state: SaState::Mature,
            auth: 5,
            encrypt: 12,
            flags: 0,
        },
        hard: Lifetime {
            addtime: 3600,
            ..Lifetime::default()
        },
        soft: Lifetime {
            addtime: 2880,
            ..Lifetime::default()
        },
        current: Lifetime {
            allocations: 12,
            bytes: 1440,
            addtime: 1_764_230_400,
            usetime: 1_764_230_460,
        },
        src: Address::host("10.0.0.1".parse().unwrap()),
        dst: Address::host("10.0.0.2".parse().unwrap()),
        auth: core::array::from_fn(|i| 0x20 + i as u8),
        enc: core::array::from_fn(|i| 0x40 + i as u8),
        sa2: Sa2 {
            mode: Mode::Tunnel,
            sequence: 0,
            reqid: 7,
        },
    }
}

fn build<'b>(buf: &'b mut [u8], v: &Values) -> &'b [u8] {
    let mut b = MessageBuilder::new(buf, &v.header).unwrap();
    b.sa(&v.sa).unwrap();
    b.lifetime(ExtType::LifetimeHard, &v.hard).unwrap();
    b.lifetime(ExtType::LifetimeSoft, &v.soft).unwrap();
    b.lifetime(ExtType::LifetimeCurrent, &v.current).unwrap();
    b.address(ExtType::AddressSrc, &v.src).unwrap();
    b.address(ExtType::AddressDst, &v.dst).unwrap();
    b.key(ExtType::KeyAuth, 256, &v.auth).unwrap();
    b.key(ExtType::KeyEncrypt, 256, &v.enc).unwrap();
    b.sa2(&v.sa2).unwrap();
    b.finish().unwrap()
}

/// Reads every field of every extension, as a dump consumer would.
fn walk(msg: &Message<'_>) -> u64 {
    let mut acc = u64::from(msg.seq()) ^ u64::from(msg.pid()) ^ u64::from(msg.satype().value());
    for ext in msg.extensions() {
        acc = acc.wrapping_add(match ext {
            Ext::Sa(s) => {
                u64::from(s.spi.get())
                    ^ u64::from(s.replay)
                    ^ u64::from(s.state)
                    ^ u64::from(s.auth)
                    ^ u64::from(s.encrypt)
                    ^ u64::from(s.flags.get())
            }
            Ext::Lifetime(_, l) => {
                u64::from(l.allocations.get()) ^ l.bytes.get() ^ l.addtime.get() ^ l.usetime.get()
            }
            Ext::Address(_, a) => {
                let ip = match a.ip() {
                    std::net::IpAddr::V4(v4) => u64::from(u32::from(v4)),
                    std::net::IpAddr::V6(v6) => u128::from(v6) as u64,
                };
                ip ^ u64::from(a.port()) ^ u64::from(a.prefix_len()) ^ u64::from(a.proto())
            }
            Ext::Key(_, k) => {
                u64::from(k.bits()) ^ k.bytes().len() as u64 ^ u64::from(k.bytes()[0])
            }
            Ext::Sa2(s) => u64::from(s.mode) ^ u64::from(s.reqid.get()),
            other => u64::from(other.ext_type().value()),
        });
    }
    acc
}

fn codec(c: &mut Criterion) {
    let v = values();
    let mut storage = [0u8; 512];
    let msg = build(&mut storage, &v).to_vec();
    assert_eq!(msg.len(), 272);
    assert_eq!(Message::parse(&msg).unwrap().extensions().count(), 9);

    let mut g = c.benchmark_group("dump_reply_272");
    g.bench_function("parse_walk", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(&msg)).unwrap();
            walk(&m)
        })
    });
    let mut buf = [0u8; 512];
    g.bench_function("build", |b| {
        b.iter(|| build(black_box(&mut buf), black_box(&v)).len())
    });
    let mut dst = [0u8; 272];
    g.bench_function("copy_272", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&msg));
            black_box(&mut dst);
        })
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
