//! Kernel tests of `pfkey::Client` against the real af_key: correlation, FLUSH's two
//! replies, dump numbering and streaming, errors in words, timeouts, events. Each test runs in
//! a fresh network namespace; the kernel's state is checked with `ip xfrm` where it matters.
//!
//! This is its own test executable so that its counting allocator (used to measure a dump's
//! memory) sees only this file's tests.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pfkey::alg::{
    SADB_AALG_SHA1HMAC, SADB_EALG_NULL, SADB_X_EALG_AESCBC, SADB_X_EALG_AES_GCM_ICV16,
};
use pfkey::builder::MessageBuilder;
use pfkey::client::{AlgKey, Error, Event, PolicySpec, SaId, SaSpec, SpiRequest, Traffic};
use pfkey::message::Message;
use pfkey::policy::{IpsecRequest, Policy};
use pfkey::repr::{Address, Header, Key, Lifetime};
use pfkey::socket::PfKeySocket;
use pfkey::transport::MsgBuf;
use pfkey::wire::{Direction, Level, Mode, MsgType, PolicyType, SaState, SaType, IPPROTO_ESP};
use pfkey::Client;
use pfkey_kernel_tests::xfrm::{entries, state_with_spi};
use pfkey_kernel_tests::{fresh_netns, xfrm_policy, xfrm_state};

// ----- a per-thread counting allocator, to measure what a dump allocates -----

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let v = live.get() + delta;
        live.set(v);
        let _ = PEAK.try_with(|p| {
            if v > p.get() {
                p.set(v)
            }
        });
    });
}

// SAFETY: every method forwards to the system allocator with the caller's arguments
// unchanged and only updates thread-local counters (const-initialised `Cell`s, which
// neither allocate nor unwind), so the GlobalAlloc contract is the system allocator's.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Starts measuring: the current thread's live heap bytes become the baseline.
fn measure_start() -> isize {
    let live = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(live));
    live
}

/// Peak heap growth of this thread since `measure_start`.
fn measured_peak(base: isize) -> isize {
    PEAK.with(Cell::get) - base
}

// ----- helpers -----

const AUTH_KEY: [u8; 20] = *b"abcdefghij0123456789";
const ENC_KEY: [u8; 16] = *b"0123456789abcdef";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn client() -> Client {
    Client::open().unwrap_or_else(|e| panic!("{e}; kernel tests run in the kernel lab"))
}

/// A transport ESP SA with AES-CBC-128 and HMAC-SHA1, reqid 7, replay 32.
fn esp(spi: u32, src: &str, dst: &str) -> SaSpec {
    let mut s = SaSpec::new(SaType::Esp, spi, ip(src), ip(dst));
    s.mode = Mode::Transport;
    s.reqid = 7;
    s.replay = 32;
    s.auth = Some(AlgKey {
        id: SADB_AALG_SHA1HMAC,
        key: Key::new(AUTH_KEY.to_vec()).unwrap(),
    });
    s.enc = Some(AlgKey {
        id: SADB_X_EALG_AESCBC,
        key: Key::new(ENC_KEY.to_vec()).unwrap(),
    });
    s
}

fn lifetime(addtime: u64, bytes: u64) -> Lifetime {
    Lifetime {
        addtime,
        bytes,
        ..Lifetime::default()
    }
}

/// (type, seq, errno, length) of received messages.
type Received = Arc<Mutex<Vec<(MsgType, u32, u8, usize)>>>;

/// Records (type, seq, errno, length) of every message the client receives.
fn record_received(c: &mut Client) -> Received {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l2 = Arc::clone(&log);
    c.set_tracer(Some(Box::new(move |dir, bytes| {
        if dir == Traffic::Received {
            if let Ok(m) = Message::parse(bytes) {
                l2.lock()
                    .unwrap()
                    .push((m.msg_type(), m.seq(), m.errno(), bytes.len()));
            }
        }
    })));
    log
}

fn outbound_esp_policy(src: Address, dst: Address) -> PolicySpec {
    PolicySpec::new(
        src,
        dst,
        Policy {
            policy_type: PolicyType::Ipsec,
            dir: Direction::Out,
            reserved: 0,
            id: 0,
            priority: 0,
            requests: vec![IpsecRequest {
                proto: IPPROTO_ESP,
                mode: Mode::Transport,
                level: Level::Require,
                reqid: 0,
                tunnel: None,
            }],
        },
    )
}

fn net(s: &str, prefix_len: u8) -> Address {
    Address {
        prefix_len,
        ..Address::host(ip(s))
    }
}

// ----- tests -----

#[test]
fn register_lists_the_kernels_algorithms_and_refuses_a_second_registration() {
    let _ns = fresh_netns();
    let mut c = client();
    let s = c.register(SaType::Esp).unwrap();
    let auth: Vec<u8> = s.auth.iter().map(|a| a.id).collect();
    let enc: Vec<u8> = s.encrypt.iter().map(|a| a.id).collect();
    for id in [2, 3, 5, 6, 7, 9, 251] {
        assert!(auth.contains(&id), "auth {id} missing from {auth:?}");
    }
    for id in [3, 11, 12, 13] {
        assert!(enc.contains(&id), "cipher {id} missing from {enc:?}");
    }
    assert!(
        !enc.contains(&SADB_X_EALG_AES_GCM_ICV16),
        "AEAD is not offered through PF_KEY"
    );
    let aes = s
        .encrypt
        .iter()
        .find(|a| a.id == SADB_X_EALG_AESCBC)
        .unwrap();
    assert_eq!((aes.min_bits, aes.max_bits), (128, 256));

    let e = c.register(SaType::Esp).unwrap_err();
    assert_eq!(
        e.to_string(),
        "register esp: this socket is already registered for this SA type (EEXIST)"
    );
}

#[test]
fn add_get_update_delete_and_the_kernel_agrees() {
    let _ns = fresh_netns();
    let mut c = client();
    let mut spec = esp(0x1000, "10.0.0.1", "10.0.0.2");
    spec.hard = Some(lifetime(3600, 0));
    spec.soft = Some(lifetime(3000, 0));
    let added = c.add(&spec).unwrap();
    assert_eq!(added.header.msg_type, MsgType::Add);
    assert_eq!(
        (
            added.spi,
            added.state,
            added.auth,
            added.encrypt,
            added.reqid,
            added.mode
        ),
        (
            0x1000,
            SaState::Mature,
            SADB_AALG_SHA1HMAC,
            SADB_X_EALG_AESCBC,
            7,
            Mode::Transport
        )
    );
    assert_eq!(
        added.key_encrypt.as_ref().unwrap().data.as_slice(),
        &ENC_KEY
    );

    // The kernel's own view.
    let st = state_with_spi(0x1000).expect("SA in ip xfrm state");
    assert!(st.contains("src 10.0.0.1 dst 10.0.0.2"), "{st}");
    assert!(st.contains("reqid 7 mode transport"), "{st}");
    assert!(st.contains("replay-window 32"), "{st}");
    let hex = |k: &[u8]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert!(
        st.contains(&format!("auth-trunc hmac(sha1) 0x{} 96", hex(&AUTH_KEY))),
        "{st}"
    );
    assert!(
        st.contains(&format!("enc cbc(aes) 0x{}", hex(&ENC_KEY))),
        "{st}"
    );

    let got = c.get(&spec.id()).unwrap();
    assert_eq!(got.header.msg_type, MsgType::Get);
    assert_eq!(got.key_auth.as_ref().unwrap().data.as_slice(), &AUTH_KEY);
    assert_eq!(got.hard.unwrap().addtime, 3600);
    assert_eq!(got.soft.unwrap().addtime, 3000);
    assert_eq!(got.replay, 32);
    assert!(
        got.current.unwrap().addtime > 1_600_000_000,
        "creation time is wall clock"
    );

    // UPDATE of a mature SA changes its lifetimes (and silently keeps its keys).
    let mut upd = spec.clone();
    upd.hard = Some(lifetime(7200, 1 << 30));
    upd.soft = Some(lifetime(6000, 1 << 29));
    upd.enc = Some(AlgKey {
        id: SADB_X_EALG_AESCBC,
        key: Key::new(vec![0x77; 16]).unwrap(),
    });
    let updated = c.update(&upd).unwrap();
    assert_eq!(updated.header.msg_type, MsgType::Update);
    let got = c.get(&spec.id()).unwrap();
    assert_eq!(
        (got.hard.unwrap().addtime, got.hard.unwrap().bytes),
        (7200, 1 << 30)
    );
    assert_eq!(got.soft.unwrap().addtime, 6000);
    assert_eq!(got.key_encrypt.as_ref().unwrap().data.as_slice(), &ENC_KEY);

    let deleted = c.delete(&spec.id()).unwrap();
    assert_eq!(
        (deleted.header.msg_type, deleted.spi),
        (MsgType::Delete, 0x1000)
    );
    assert!(state_with_spi(0x1000).is_none(), "{}", xfrm_state());
    assert_eq!(c.stats().stale, 0);
}

#[test]
fn kernel_errors_read_in_words() {
    let _ns = fresh_netns();
    let mut c = client();
    let spec = esp(0x1000, "10.0.0.1", "10.0.0.2");
    c.add(&spec).unwrap();
    let e = c.add(&spec).unwrap_err();
    assert_eq!(
        e.to_string(),
        "add esp spi 0x1000 10.0.0.1 -> 10.0.0.2: an SA with this SPI already exists (EEXIST)"
    );
    let missing = SaId {
        spi: 0x2000,
        ..spec.id()
    };
    assert_eq!(
        c.get(&missing).unwrap_err().to_string(),
        "get esp spi 0x2000 10.0.0.1 -> 10.0.0.2: no such SA (ESRCH)"
    );
    assert_eq!(
        c.delete(&missing).unwrap_err().to_string(),
        "delete esp spi 0x2000 10.0.0.1 -> 10.0.0.2: no such SA (ESRCH)"
    );
    let mut gcm = esp(0x3000, "10.0.0.1", "10.0.0.2");
    gcm.auth = None;
    gcm.enc = Some(AlgKey {
        id: SADB_X_EALG_AES_GCM_ICV16,
        key: Key::new(vec![1; 20]).unwrap(),
    });
    let e = c.add(&gcm).unwrap_err();
    assert!(e.is_kernel_errno(libc::ENOSYS), "{e}");
    assert!(
        e.to_string().starts_with(
            "add esp spi 0x3000 10.0.0.1 -> 10.0.0.2: algorithm not available through PF_KEY"
        ),
        "{e}"
    );
    assert_eq!(
        c.spd_delete_by_id(0x1234 * 8 + 1).unwrap_err().to_string(),
        format!("spddelete2 id {}: no such policy (ENOENT)", 0x1234 * 8 + 1)
    );
    // Nothing changed but the one SA.
    assert_eq!(entries(&xfrm_state()).len(), 1, "{}", xfrm_state());
}

/// Linux's FLUSH replies, seen on a raw socket: one for an empty table, two (same seq and
/// pid) otherwise — and both are already queued when `send()` returns, which is what lets
/// the client look for the second one without waiting.
#[test]
fn flush_replies_on_the_wire_are_one_or_two_and_queued_at_once() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open().unwrap();
    let mut buf = MsgBuf::new();
    let pid = 777_777;
    let flush = |seq: u32| {
        let mut b = [0u8; 16];
        MessageBuilder::new(
            &mut b,
            &Header::new(MsgType::Flush, SaType::Unspec, seq, pid),
        )
        .unwrap()
        .finish()
        .unwrap()
        .to_vec()
    };
    let replies = |sock: &PfKeySocket, buf: &mut MsgBuf| {
        let mut out = Vec::new();
        // Only what is queued right now.
        while sock.try_recv(buf).unwrap().is_some() {
            let m = Message::parse(buf.as_slice()).unwrap();
            out.push((m.msg_type(), m.seq(), m.pid(), m.errno()));
        }
        // Nothing more arrives later.
        assert_eq!(
            sock.recv_timeout(buf, Duration::from_millis(300)).unwrap(),
            None
        );
        out
    };

    sock.send(&flush(11)).unwrap();
    assert_eq!(replies(&sock, &mut buf), [(MsgType::Flush, 11, pid, 0)]);

    let mut c = client();
    c.add(&esp(0x1000, "10.0.0.1", "10.0.0.2")).unwrap();
    sock.drain().unwrap(); // the ADD broadcast
    sock.send(&flush(12)).unwrap();
    assert_eq!(
        replies(&sock, &mut buf),
        [(MsgType::Flush, 12, pid, 0), (MsgType::Flush, 12, pid, 0)]
    );
}

#[test]
fn client_flush_consumes_both_replies_and_an_empty_flush_does_not_wait() {
    let _ns = fresh_netns();
    let mut c = client();
    let log = record_received(&mut c);
    c.add(&esp(0x1000, "10.0.0.1", "10.0.0.2")).unwrap();
    c.add(&esp(0x1001, "10.0.0.1", "10.0.0.2")).unwrap();
    c.flush(SaType::Unspec).unwrap();
    assert!(entries(&xfrm_state()).is_empty(), "{}", xfrm_state());
    let flushes = log
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.0 == MsgType::Flush)
        .count();
    assert_eq!(flushes, 2, "echo and broadcast both read by flush()");
    assert_eq!(
        c.transport().peek_len().unwrap(),
        None,
        "nothing left on the socket"
    );

    let t = Instant::now();
    c.flush(SaType::Esp).unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );

    // The same for the SPD.
    let p = outbound_esp_policy(net("10.1.0.0", 24), net("10.2.0.0", 24));
    c.spd_add(&p).unwrap();
    c.spd_flush().unwrap();
    assert_eq!(c.transport().peek_len().unwrap(), None);
    assert!(entries(&xfrm_policy()).is_empty(), "{}", xfrm_policy());
    c.spd_flush().unwrap();

    // Nothing was left to be mistaken for a later reply.
    assert_eq!(c.stats().stale, 0);
    assert_eq!(c.try_next_event().unwrap(), None);
    c.add(&esp(0x1002, "10.0.0.1", "10.0.0.2")).unwrap();
}

#[test]
fn dumps_of_0_1_and_3_sas_end_at_seq_0() {
    let _ns = fresh_netns();
    let mut c = client();
    let log = record_received(&mut c);
    let dump_seqs = |log: &Received| {
        let mut l = log.lock().unwrap();
        let v: Vec<(u32, u8, bool)> = l
            .iter()
            .filter(|r| r.0 == MsgType::Dump)
            .map(|r| (r.1, r.2, r.3 > 16))
            .collect();
        l.clear();
        v
    };

    assert_eq!(c.dump(SaType::Esp).unwrap().count(), 0);
    let v = dump_seqs(&log);
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].1, v[0].2),
        (libc::ENOENT as u8, false),
        "empty: one ENOENT reply"
    );
    assert_ne!(v[0].0, 0, "the ENOENT reply carries the request's seq");

    c.add(&esp(0x1000, "10.0.0.1", "10.0.0.2")).unwrap();
    let one: Vec<_> = c.dump(SaType::Esp).unwrap().map(Result::unwrap).collect();
    assert_eq!(one.len(), 1);
    assert_eq!(dump_seqs(&log), [(0, 0, true)]);

    c.add(&esp(0x1001, "10.0.0.1", "10.0.0.2")).unwrap();
    c.add(&esp(0x1002, "10.0.0.3", "10.0.0.4")).unwrap();
    let three: Vec<_> = c
        .dump(SaType::Unspec)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(dump_seqs(&log), [(1, 0, true), (2, 0, true), (0, 0, true)]);
    let mut spis: Vec<u32> = three.iter().map(|s| s.spi).collect();
    spis.sort_unstable();
    assert_eq!(spis, [0x1000, 0x1001, 0x1002]);
    for sa in &three {
        assert_eq!(sa.header.msg_type, MsgType::Dump);
        assert_eq!(sa.key_encrypt.as_ref().unwrap().data.as_slice(), &ENC_KEY);
        assert!(sa.current.is_some() && sa.hard.is_some());
    }
    // Dropping a dump early leaves nothing behind for the next request.
    let first = c.dump(SaType::Esp).unwrap().next().unwrap().unwrap();
    assert!(spis.contains(&first.spi));
    assert_eq!(
        c.get(&esp(0x1001, "10.0.0.1", "10.0.0.2").id())
            .unwrap()
            .spi,
        0x1001
    );
    assert_eq!(c.stats().stale, 2, "the rest of the abandoned dump");
}

/// Dumps the ESP SAs with a new client (so that its receive buffer's growth counts) and
/// checks that every SPI `0x10000..0x10000 + n` comes back once; returns the peak heap
/// growth of the dump.
fn dump_and_measure(n: u32) -> isize {
    let mut seen = vec![false; n as usize];
    let mut count = 0u32;
    let mut d = client();
    let base = measure_start();
    for sa in d.dump(SaType::Esp).unwrap() {
        let sa = sa.unwrap();
        let i = sa.spi.checked_sub(0x10000).expect("an SPI we added") as usize;
        assert!(!seen[i], "spi {:#x} twice", sa.spi);
        seen[i] = true;
        count += 1;
        assert!(sa.key_auth.is_some());
    }
    let peak = measured_peak(base);
    assert_eq!(count, n);
    assert!(seen.iter().all(|&s| s));
    peak
}

#[test]
fn dump_of_10000_sas_streams_in_constant_memory() {
    let _ns = fresh_netns();
    let mut c = client();
    let mut spec = esp(0, "10.0.0.1", "10.0.0.2");
    let mut add_up_to = |n: u32| {
        while spec.spi < 0x10000 + n {
            spec.spi = spec.spi.max(0x10000);
            c.add(&spec).unwrap();
            spec.spi += 1;
        }
    };
    add_up_to(100);
    let peak_100 = dump_and_measure(100);
    add_up_to(10_000);
    let peak_10000 = dump_and_measure(10_000);
    // Each entry is a ~300-byte message with ~40 bytes of keys; holding 10 000 of them would
    // take megabytes. Streaming holds one.
    eprintln!("dump peak heap growth: 100 SAs {peak_100} bytes, 10000 SAs {peak_10000} bytes");
    assert!(
        peak_100 > 0,
        "the counter sees the receive buffer and the entries' keys"
    );
    // The client's receive buffer is one allocation of the largest PF_KEY message
    // (524,280 bytes, so a datagram is read in one system call and never truncated);
    // its pages are the kernel's zero pages until a message is written into them.
    // Beyond it the dump holds one entry at a time.
    assert!(
        peak_10000 < (pfkey::wire::MAX_MESSAGE_LEN + 16 * 1024) as isize,
        "peak heap growth {peak_10000} bytes"
    );
    assert!(
        peak_10000 <= peak_100 + 1024,
        "memory grows with the table: {peak_100} -> {peak_10000} bytes"
    );
}

#[test]
fn a_reply_that_never_comes_times_out() {
    let _ns = fresh_netns();
    let mut c = client();
    c.set_timeout(Duration::from_millis(300));
    // A user-space ACQUIRE with errno 0 is accepted and answered with nothing (af_key
    // pfkey_acquire returns 0 without a message).
    let msg = pfkey::repr::MessageRepr {
        header: Header::new(MsgType::Acquire, SaType::Esp, 0, 0),
        extensions: vec![],
    };
    let t = Instant::now();
    let e = c.request_raw(&msg).unwrap_err();
    let took = t.elapsed();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "acquire esp: no reply from the kernel within 300 ms"
    );
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The client is still usable.
    c.add(&esp(0x1000, "10.0.0.1", "10.0.0.2")).unwrap();
}

#[test]
fn other_sockets_broadcasts_are_events_never_replies() {
    let _ns = fresh_netns();
    let mut c = client();
    let mut other = client();
    other.set_pid(c.pid().wrapping_add(1));
    // The other client's ADD is broadcast to our socket with the other pid.
    other.add(&esp(0x1000, "10.0.0.1", "10.0.0.2")).unwrap();
    // Our GET of the same SA is answered only to us; the broadcast stays an event.
    let got = c.get(&esp(0x1000, "10.0.0.1", "10.0.0.2").id()).unwrap();
    assert_eq!(got.header.pid, c.pid());
    match c.try_next_event().unwrap() {
        Some(Event::Sa(ch)) => {
            assert_eq!(
                (ch.msg_type, ch.pid, ch.sa.spi),
                (MsgType::Add, other.pid(), 0x1000)
            );
        }
        e => panic!("expected the other client's ADD, got {e:?}"),
    }
    other.flush(SaType::Unspec).unwrap();
    assert!(matches!(
        c.try_next_event().unwrap(),
        Some(Event::SaFlush {
            satype: SaType::Unspec,
            ..
        })
    ));
    assert_eq!(c.try_next_event().unwrap(), None);
}

#[test]
fn registered_client_gets_expire_events() {
    let _ns = fresh_netns();
    let mut events = client();
    events.register(SaType::Esp).unwrap();
    let mut c = client();
    let mut spec = esp(0x1000, "10.0.0.1", "10.0.0.2");
    // The xfrm timer checks the hard limit first, so the two limits are far enough apart
    // that a late tick in the slow, busy guest still sees only the soft one expired.
    spec.soft = Some(lifetime(1, 0));
    spec.hard = Some(lifetime(6, 0));
    c.add(&spec).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < 2 && Instant::now() < deadline {
        if let Some(Event::Expire(x)) = events.next_event(Some(Duration::from_secs(1))).unwrap() {
            assert_eq!(x.sa.spi, 0x1000);
            assert_eq!(x.sa.header.pid, 0, "kernel-originated");
            assert!(x.sa.key_encrypt.is_none(), "EXPIRE carries no keys");
            got.push(x.hard);
        }
    }
    assert_eq!(got, [false, true], "soft, then hard");
    assert!(state_with_spi(0x1000).is_none());
}

#[test]
fn acquire_event_and_getspi_with_its_seq() {
    let ns = fresh_netns();
    // Not on lo: Linux exempts loopback from xfrm (NOXFRM), so traffic must leave by a
    // real device for the policy to apply.
    ns.ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"])
        .expect_ok();
    ns.ip(&["addr", "add", "10.0.0.1/24", "dev", "va"])
        .expect_ok();
    ns.ip(&["link", "set", "va", "up"]).expect_ok();
    ns.ip(&["link", "set", "vb", "up"]).expect_ok();
    let mut events = client();
    events.register(SaType::Esp).unwrap();
    let mut c = client();
    let pol = c
        .spd_add(&outbound_esp_policy(
            net("10.0.0.1", 32),
            net("10.0.0.2", 32),
        ))
        .unwrap();
    assert_eq!(pol.policy.dir, Direction::Out);
    // Traffic that needs the missing SA makes the kernel ask for it.
    let s = UdpSocket::bind("10.0.0.1:0").unwrap();
    let _ = s.send_to(b"x", "10.0.0.2:9");
    let acq = loop {
        match events.next_event(Some(Duration::from_secs(5))).unwrap() {
            Some(Event::Acquire(a)) => break a,
            Some(_) => continue,
            None => panic!("no ACQUIRE within 5 s"),
        }
    };
    assert_ne!(acq.seq, 0);
    assert_eq!(acq.satype, SaType::Esp);
    assert_eq!(
        (acq.src.addr.ip(), acq.dst.addr.ip()),
        (ip("10.0.0.1"), ip("10.0.0.2"))
    );
    assert_eq!(
        (acq.policy_id, acq.policy_dir),
        (pol.policy.id, Direction::Out)
    );

    let mut req = SpiRequest::new(SaType::Esp, ip("10.0.0.1"), ip("10.0.0.2"));
    req.acquire_seq = Some(acq.seq);
    req.range = Some((0x4000, 0x4fff));
    let larval = c.get_spi(&req).unwrap();
    assert_eq!(larval.state, SaState::Larval);
    assert!((0x4000..=0x4fff).contains(&larval.spi), "{:#x}", larval.spi);
    // The SPI went to the ACQUIRE's larval state: still one state for this pair.
    assert_eq!(entries(&xfrm_state()).len(), 1, "{}", xfrm_state());

    // Giving up on it is accepted silently.
    events
        .acquire_failed(acq.seq, SaType::Esp, libc::EHOSTUNREACH as u8)
        .unwrap();
}

#[test]
fn spd_add_get_update_delete() {
    let _ns = fresh_netns();
    let mut c = client();
    let spec = outbound_esp_policy(net("10.1.0.0", 24), net("10.2.0.0", 24));
    let added = c.spd_add(&spec).unwrap();
    assert_eq!(added.header.msg_type, MsgType::XSpdAdd);
    assert_eq!(added.src.prefix_len, 24);
    assert_eq!(added.requests().len(), 1);
    let id = added.policy.id;
    assert_eq!(
        id & 7,
        1,
        "outbound policy ids have direction 1 in the low bits"
    );
    let e = c.spd_add(&spec).unwrap_err();
    assert_eq!(
        e.to_string(),
        "spdadd 10.1.0.0/24 -> 10.2.0.0/24 out: a policy with this selector and direction already exists (EEXIST)"
    );
    let got = c.spd_get(id).unwrap();
    assert_eq!((got.policy.id, got.policy.dir), (id, Direction::Out));
    let mut upd = spec.clone();
    upd.policy.priority = 100;
    assert_eq!(c.spd_update(&upd).unwrap().policy.priority, 100);
    assert_eq!(c.spd_dump().unwrap().count(), 1);
    assert!(
        xfrm_policy().contains("dir out priority 100"),
        "{}",
        xfrm_policy()
    );
    c.spd_delete(&upd).unwrap();
    let e = c.spd_delete(&upd).unwrap_err();
    assert!(e.to_string().ends_with("no such policy (ENOENT)"), "{e}");
    assert_eq!(c.spd_dump().unwrap().count(), 0);
    assert_eq!(c.stats().stale, 0);
}

#[test]
fn null_encryption_and_getspi_range() {
    let _ns = fresh_netns();
    let mut c = client();
    let mut s = esp(0x1000, "fd00::1", "fd00::2");
    s.enc = Some(AlgKey {
        id: SADB_EALG_NULL,
        key: Key::empty(),
    });
    let sa = c.add(&s).unwrap();
    assert_eq!(sa.encrypt, SADB_EALG_NULL);
    assert_eq!(sa.dst.addr.ip(), ip("fd00::2"));
    let mut r = SpiRequest::new(SaType::Esp, ip("fd00::1"), ip("fd00::3"));
    r.range = Some((0x200, 0x200));
    assert_eq!(c.get_spi(&r).unwrap().spi, 0x200);
    // Linux 6.1 keeps GETSPI's SPIs unique per protocol, whatever the destination: the
    // taken SPI is refused for another destination too.
    let e = c
        .get_spi(&SpiRequest {
            dst: ip("fd00::4"),
            ..r
        })
        .unwrap_err();
    assert!(e.is_kernel_errno(libc::ENOENT), "{e}");
    // A second larval state for the same destination (another reqid) finds the range taken.
    let e = c.get_spi(&SpiRequest { reqid: 5, ..r }).unwrap_err();
    assert_eq!(
        e.to_string(),
        "getspi esp fd00::1 -> fd00::3: no free SPI in the requested range, or no larval SA for \
         this acquire sequence number (ENOENT)"
    );
}

#[test]
fn promiscuous_client_sees_everything_and_still_correlates() {
    let _ns = fresh_netns();
    let mut c = client();
    c.promisc(true).unwrap();
    let mut other = client();
    other.set_pid(c.pid().wrapping_add(1));
    other.add(&esp(0x1000, "10.0.0.1", "10.0.0.2")).unwrap();
    // Our own request: the kernel first copies it to us (promiscuous), then answers twice
    // (once as a promiscuous copy, once to the sender).
    let got = c.get(&esp(0x1000, "10.0.0.1", "10.0.0.2").id()).unwrap();
    assert_eq!((got.header.msg_type, got.spi), (MsgType::Get, 0x1000));
    assert_eq!(
        c.stats().echoes,
        1,
        "the copy of our GET request was skipped"
    );
    let mut adds = 0;
    while let Some(e) = c.try_next_event().unwrap() {
        match e {
            Event::Sa(ch) if ch.msg_type == MsgType::Add => {
                assert_eq!((ch.pid, ch.sa.spi), (other.pid(), 0x1000));
                adds += 1;
            }
            Event::Other(m) => assert_eq!(m.header.msg_type, MsgType::XPromisc, "{m:?}"),
            e => panic!("unexpected event {e:?}"),
        }
    }
    // The other client's ADD: the copy of its request, and the broadcast result twice.
    assert_eq!(adds, 3);
    assert!(
        c.stats().stale >= 2,
        "duplicates of our replies: {:?}",
        c.stats()
    );
    assert!(c.dump(SaType::Esp).is_err(), "no dumps while promiscuous");
    c.promisc(false).unwrap();
    assert_eq!(c.dump(SaType::Esp).unwrap().count(), 1);
}
