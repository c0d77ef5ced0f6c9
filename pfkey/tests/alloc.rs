//! Zero heap allocations while parsing and walking a message, while building one
//! into a caller's slice, and while rendering it as text into a fixed buffer
//! (issue 2: "zero heap allocations while parsing (prove it with a counting
//! allocator)").
//!
//! A counting global allocator counts allocations made by the current thread only
//! (the test harness allocates on other threads), between `start()` and `stop()`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::hint::black_box;

use pfkey::builder::MessageBuilder;
use pfkey::message::{Ext, Message};
use pfkey::policy::{IpsecRequest, Policy};
use pfkey::render::{render, RenderOptions};
use pfkey::repr::{Address, Header, Lifetime, Sa, Sa2};
use pfkey::wire::*;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator may run while thread-locals are torn down.
    let on = COUNTING.try_with(Cell::get).unwrap_or(false);
    if on {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting only
// touches const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns how many heap allocations it made on this thread.
fn allocations<R>(f: impl FnOnce() -> R) -> usize {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    black_box(r);
    COUNT.with(Cell::get)
}

struct Values {
    header: Header,
    sa: Sa,
    life: Lifetime,
    src: Address,
    dst: Address,
    key: [u8; 32],
    sa2: Sa2,
}

fn values() -> Values {
    Values {
        header: Header::new(MsgType::Dump, SaType::Esp, 1, 4242),
        sa: Sa {
            spi: 0x1000,
            replay: 32,
            auth: 5,
            encrypt: 12,
            ..Sa::default()
        },
        life: Lifetime {
            allocations: 1,
            bytes: 2,
            addtime: 3,
            usetime: 4,
        },
        src: Address::host("10.0.0.1".parse().unwrap()),
        dst: Address::host("2001:db8::2".parse().unwrap()),
        key: [0x5a; 32],
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
    b.lifetime(ExtType::LifetimeHard, &v.life).unwrap();
    b.lifetime(ExtType::LifetimeSoft, &v.life).unwrap();
    b.lifetime(ExtType::LifetimeCurrent, &v.life).unwrap();
    b.address(ExtType::AddressSrc, &v.src).unwrap();
    b.address(ExtType::AddressDst, &v.dst).unwrap();
    b.key(ExtType::KeyAuth, 256, &v.key).unwrap();
    b.key(ExtType::KeyEncrypt, 256, &v.key).unwrap();
    b.sa2(&v.sa2).unwrap();
    b.spirange(0x100, 0x200).unwrap();
    b.nat_t_type(UDP_ENCAP_ESPINUDP).unwrap();
    b.nat_t_port(ExtType::NatTSport, 4500).unwrap();
    b.nat_t_port(ExtType::NatTDport, 4500).unwrap();
    b.sec_ctx(1, 1, b"system_u:object_r:ipsec_spd_t:s0")
        .unwrap();
    b.raw_extension(&[0, 0, 30, 0, 1, 2, 3, 4]).unwrap();
    b.finish().unwrap()
}

/// Touches every field of every extension and every typed accessor.
fn walk(msg: &Message<'_>) -> u64 {
    let mut acc = u64::from(msg.seq());
    for ext in msg.extensions() {
        acc = acc.wrapping_add(match ext {
            Ext::Sa(s) => u64::from(s.spi.get()),
            Ext::Lifetime(_, l) => l.bytes.get(),
            Ext::Address(_, a) => u64::from(a.port()) + u64::from(a.ip().is_ipv6()),
            Ext::Key(_, k) => k.bytes().iter().map(|&b| u64::from(b)).sum(),
            Ext::Policy(p) => p
                .requests()
                .map(|r| u64::from(r.reqid()) + u64::from(r.tunnel().is_some()))
                .sum(),
            Ext::SecCtx(c) => c.context().len() as u64,
            other => u64::from(other.ext_type().value()),
        });
    }
    acc += msg.sa().map_or(0, |s| u64::from(s.replay));
    acc += msg.src().map_or(0, |a| u64::from(a.prefix_len()));
    acc += msg.key_encrypt().map_or(0, |k| u64::from(k.bits()));
    acc += msg.sa2().map_or(0, |s| u64::from(s.reqid.get()));
    acc += msg.policy().map_or(0, |p| u64::from(p.priority()));
    acc += msg.nat_t_sport().map_or(0, u64::from);
    acc
}

#[test]
fn parsing_and_walking_do_not_allocate() {
    let v = values();
    let mut storage = [0u8; 1024];
    let bytes = build(&mut storage, &v).to_vec();
    // Warm-up outside the counted region (lazy statics, if any).
    walk(&Message::parse(&bytes).unwrap());
    let n = allocations(|| {
        let msg = Message::parse(black_box(&bytes)).unwrap();
        walk(&msg)
    });
    assert_eq!(n, 0, "parse + walk allocated {n} times");
}

#[test]
fn a_policy_with_tunnel_requests_parses_without_allocating() {
    let policy = Policy {
        policy_type: PolicyType::Ipsec,
        dir: Direction::Out,
        reserved: 0,
        id: 0x209,
        priority: 0x8000_0000,
        requests: vec![
            IpsecRequest {
                proto: IPPROTO_ESP,
                mode: Mode::Tunnel,
                level: Level::Unique,
                reqid: 9,
                tunnel: Some((
                    "192.0.2.1:0".parse().unwrap(),
                    "192.0.2.2:0".parse().unwrap(),
                )),
            },
            IpsecRequest {
                proto: IPPROTO_AH,
                mode: Mode::Tunnel,
                level: Level::Require,
                reqid: 0,
                tunnel: Some((
                    "[2001:db8::1]:0".parse().unwrap(),
                    "[2001:db8::2]:0".parse().unwrap(),
                )),
            },
        ],
    };
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(
        &mut buf,
        &Header::new(MsgType::XSpdAdd, SaType::Unspec, 1, 1),
    )
    .unwrap();
    b.policy(&policy).unwrap();
    let bytes = b.finish().unwrap().to_vec();
    let n = allocations(|| walk(&Message::parse(black_box(&bytes)).unwrap()));
    assert_eq!(n, 0, "parse + walk of a policy allocated {n} times");
}

#[test]
fn building_into_a_slice_does_not_allocate() {
    let v = values();
    let mut buf = [0u8; 1024];
    let n = allocations(|| build(black_box(&mut buf), &v).len());
    assert_eq!(n, 0, "building into a slice allocated {n} times");
}

#[test]
fn rendering_into_a_fixed_buffer_does_not_allocate() {
    struct Fixed {
        buf: [u8; 4096],
        len: usize,
    }
    impl std::fmt::Write for Fixed {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let end = self.len + s.len();
            self.buf
                .get_mut(self.len..end)
                .ok_or(std::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
    let v = values();
    let mut storage = [0u8; 1024];
    let bytes = build(&mut storage, &v).to_vec();
    let msg = Message::parse(&bytes).unwrap();
    let mut out = Fixed {
        buf: [0; 4096],
        len: 0,
    };
    let n = allocations(|| write!(out, "{}", render(&msg, RenderOptions::with_keys())));
    assert_eq!(n, 0, "rendering allocated {n} times");
    let text = std::str::from_utf8(&out.buf[..out.len]).unwrap();
    assert!(text.starts_with("DUMP satype=esp seq=1 pid=4242"));
    assert_eq!(text.lines().count(), 16);
}

#[test]
fn the_counter_counts() {
    // The proof above is only worth something if an allocation is seen.
    let n = allocations(|| vec![1u8; 100]);
    assert_eq!(n, 1);
}
