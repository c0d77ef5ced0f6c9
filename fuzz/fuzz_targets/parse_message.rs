//! Fuzz target: `Message::parse` on arbitrary bytes, and everything a valid message
//! allows afterwards.
//!
//! For every input that parses: walk every extension (policy requests included) and
//! every typed accessor, render it as text (keys shown and hidden), convert it to the
//! owned representation, re-emit it (into a `Vec` and into an exact-size slice),
//! re-parse the result and check that the representation is unchanged and that a
//! second emit reproduces the first byte for byte.
#![no_main]

use std::fmt::Write as _;

use libfuzzer_sys::fuzz_target;
use pfkey::message::{Ext, Message};
use pfkey::render::{render, RenderOptions};
use pfkey::repr::MessageRepr;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::parse(data) else {
        return;
    };
    let walked = walk(&msg);

    let mut text = String::new();
    write!(text, "{}", render(&msg, RenderOptions::default())).expect("render");
    assert!(text.lines().next().is_some());
    let mut keys = String::new();
    write!(keys, "{}", render(&msg, RenderOptions::with_keys())).expect("render keys");

    let repr = MessageRepr::from_message(&msg);
    assert_eq!(repr.extensions.len(), walked, "repr keeps every extension");
    let bytes = repr
        .to_bytes()
        .expect("a parsed message can be emitted again");
    assert!(
        bytes.len() <= data.len(),
        "re-emitting never grows a message"
    );
    let mut exact = vec![0xa5u8; bytes.len()];
    let n = repr
        .emit(&mut exact)
        .expect("emit into an exact-size slice");
    assert_eq!(&exact[..n], &bytes[..], "slice and Vec emit agree");

    let again = Message::parse(&bytes).expect("a re-emitted message parses");
    assert_eq!(walk(&again), walked);
    let repr2 = MessageRepr::from_message(&again);
    assert_eq!(
        repr, repr2,
        "parse -> repr -> emit -> parse -> repr is lossless"
    );
    assert_eq!(repr2.to_bytes().expect("emit"), bytes, "emit is canonical");
});

/// Touches every field reachable from the view; returns the number of extensions.
fn walk(msg: &Message<'_>) -> usize {
    let mut acc = 0u64;
    acc = acc.wrapping_add(u64::from(msg.seq()) + u64::from(msg.pid()) + u64::from(msg.errno()));
    acc = acc.wrapping_add(u64::from(msg.msg_type().value()) + u64::from(msg.satype().value()));
    let mut n = 0;
    for ext in msg.extensions() {
        n += 1;
        acc = acc.wrapping_add(u64::from(ext.ext_type().value()));
        match ext {
            Ext::Sa(s) => acc = acc.wrapping_add(u64::from(s.spi.get())),
            Ext::Lifetime(_, l) => acc = acc.wrapping_add(l.bytes.get()),
            Ext::Address(_, a) => {
                acc = acc.wrapping_add(u64::from(a.port()) + u64::from(a.prefix_len()))
            }
            Ext::Key(_, k) => {
                acc = acc.wrapping_add(k.bytes().iter().map(|&b| u64::from(b)).sum::<u64>())
            }
            Ext::Identity(_, i) => acc = acc.wrapping_add(i.text().len() as u64),
            Ext::Sensitivity(s) => acc = acc.wrapping_add(s.data().len() as u64),
            Ext::Proposal(p) => {
                acc = acc.wrapping_add(p.combs().len() as u64 + p.trailing().len() as u64)
            }
            Ext::Supported(_, s) => acc = acc.wrapping_add(s.algs().len() as u64),
            Ext::SpiRange(r) => acc = acc.wrapping_add(u64::from(r.max.get())),
            Ext::KmPrivate(b) => acc = acc.wrapping_add(b.len() as u64),
            Ext::Policy(p) => {
                for r in p.requests() {
                    acc = acc.wrapping_add(u64::from(r.reqid()) + r.bytes().len() as u64);
                    if let Some((s, d)) = r.tunnel() {
                        acc = acc.wrapping_add(u64::from(s.port()) + u64::from(d.port()));
                    }
                }
            }
            Ext::Sa2(s) => acc = acc.wrapping_add(u64::from(s.reqid.get())),
            Ext::NatTType(t) => acc = acc.wrapping_add(u64::from(t.nat_t_type)),
            Ext::NatTPort(_, p) => acc = acc.wrapping_add(u64::from(p.port.get())),
            Ext::SecCtx(c) => acc = acc.wrapping_add(c.context().len() as u64),
            Ext::KmAddress(k) => {
                acc = acc.wrapping_add(u64::from(k.local().port() ^ k.remote().port()))
            }
            Ext::Filter(f) => acc = acc.wrapping_add(u64::from(f.splen)),
            Ext::Unknown { bytes, .. } => acc = acc.wrapping_add(bytes.len() as u64),
            _ => {}
        }
    }
    // Every typed accessor, too.
    acc = acc.wrapping_add(msg.sa().map_or(0, |s| u64::from(s.replay)));
    acc = acc.wrapping_add(msg.lifetime_current().map_or(0, |l| l.addtime.get()));
    acc = acc.wrapping_add(msg.lifetime_hard().map_or(0, |l| l.addtime.get()));
    acc = acc.wrapping_add(msg.lifetime_soft().map_or(0, |l| l.addtime.get()));
    for a in [msg.src(), msg.dst(), msg.proxy(), msg.nat_t_oa()]
        .into_iter()
        .flatten()
    {
        acc = acc.wrapping_add(u64::from(a.proto()));
    }
    for k in [msg.key_auth(), msg.key_encrypt()].into_iter().flatten() {
        acc = acc.wrapping_add(u64::from(k.bits()));
    }
    acc = acc.wrapping_add(msg.identity_src().map_or(0, |i| i.data().len() as u64));
    acc = acc.wrapping_add(msg.identity_dst().map_or(0, |i| i.data().len() as u64));
    acc = acc.wrapping_add(msg.sensitivity().map_or(0, |s| s.data().len() as u64));
    acc = acc.wrapping_add(msg.proposal().map_or(0, |p| p.combs().len() as u64));
    acc = acc.wrapping_add(msg.supported_auth().map_or(0, |s| s.algs().len() as u64));
    acc = acc.wrapping_add(msg.supported_encrypt().map_or(0, |s| s.algs().len() as u64));
    acc = acc.wrapping_add(msg.spirange().map_or(0, |r| u64::from(r.min.get())));
    acc = acc.wrapping_add(msg.policy().map_or(0, |p| p.requests().count() as u64));
    acc = acc.wrapping_add(msg.sa2().map_or(0, |s| u64::from(s.mode)));
    acc = acc.wrapping_add(msg.nat_t_type().map_or(0, |t| u64::from(t.nat_t_type)));
    acc = acc.wrapping_add(
        msg.nat_t_sport().map_or(0, u64::from) + msg.nat_t_dport().map_or(0, u64::from),
    );
    acc = acc.wrapping_add(
        msg.sec_ctx()
            .map_or(0, |c| u64::from(c.header().ctx_len.get())),
    );
    acc = acc.wrapping_add(
        msg.kmaddress()
            .map_or(0, |k| u64::from(k.local().is_ipv4())),
    );
    acc = acc.wrapping_add(msg.filter().map_or(0, |f| u64::from(f.dplen)));
    std::hint::black_box(acc);
    n
}
