//! Unit tests of the client's own logic over the scripted [`Mock`] transport.
//!
//! The frames are built with the codec's [`MessageBuilder`] in the shapes af_key
//! sends (the kernel's behaviour itself is tested in the kernel lab); what is tested
//! here is what the client does with them: which message it takes for the reply,
//! what it queues as an event, when it stops waiting.

use core::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::mock::Mock;
use super::*;
use crate::builder::MessageBuilder;
use crate::repr::{Address, Comb, Header, Key, Lifetime, Sa, Sa2, SupportedAlg};
use crate::wire::*;

const PID: u32 = 4242;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn frame(h: Header, f: impl FnOnce(&mut MessageBuilder<'_>)) -> Vec<u8> {
    let mut v = Vec::new();
    let mut b = MessageBuilder::new_vec(&mut v, &h);
    f(&mut b);
    b.finish().unwrap();
    v
}

fn hdr(t: MsgType, satype: SaType, seq: u32, pid: u32) -> Header {
    Header::new(t, satype, seq, pid)
}

/// A header-only message: an error reply (errno ≠ 0) or a FLUSH echo/broadcast.
fn bare(t: MsgType, satype: SaType, seq: u32, pid: u32, errno: u8) -> Vec<u8> {
    let mut h = hdr(t, satype, seq, pid);
    h.errno = errno;
    frame(h, |_| {})
}

/// An SA message in af_key's `pfkey_xfrm_state2msg` order, with keys.
fn sa_msg(h: Header, spi: u32) -> Vec<u8> {
    frame(h, |b| {
        b.sa(&Sa {
            spi,
            replay: 32,
            state: SaState::Mature,
            auth: 2,
            encrypt: 12,
            flags: 0,
        })
        .unwrap();
        b.lifetime(ExtType::LifetimeHard, &Lifetime::default())
            .unwrap();
        b.lifetime(ExtType::LifetimeSoft, &Lifetime::default())
            .unwrap();
        b.lifetime(
            ExtType::LifetimeCurrent,
            &Lifetime {
                addtime: 1_700_000_000,
                ..Lifetime::default()
            },
        )
        .unwrap();
        b.address(ExtType::AddressSrc, &Address::host(ip("10.0.0.1")))
            .unwrap();
        b.address(ExtType::AddressDst, &Address::host(ip("10.0.0.2")))
            .unwrap();
        b.key(ExtType::KeyAuth, 128, &[0x11; 16]).unwrap();
        b.key(ExtType::KeyEncrypt, 128, &[0x22; 16]).unwrap();
        b.sa2(&Sa2 {
            mode: Mode::Transport,
            sequence: 0,
            reqid: 7,
        })
        .unwrap();
    })
}

/// A hard EXPIRE as af_key's `key_notify_sa_expire` sends it: pid 0, seq 0, no keys.
fn expire_msg(spi: u32) -> Vec<u8> {
    frame(hdr(MsgType::Expire, SaType::Esp, 0, 0), |b| {
        b.sa(&Sa {
            spi,
            ..Sa::default()
        })
        .unwrap();
        b.lifetime(
            ExtType::LifetimeHard,
            &Lifetime {
                addtime: 30,
                ..Lifetime::default()
            },
        )
        .unwrap();
        b.lifetime(ExtType::LifetimeCurrent, &Lifetime::default())
            .unwrap();
        b.address(ExtType::AddressSrc, &Address::host(ip("10.0.0.1")))
            .unwrap();
        b.address(ExtType::AddressDst, &Address::host(ip("10.0.0.2")))
            .unwrap();
    })
}

fn policy_msg(h: Header, id: u32) -> Vec<u8> {
    frame(h, |b| {
        b.address(
            ExtType::AddressSrc,
            &Address {
                proto: 255,
                prefix_len: 24,
                addr: "10.1.0.0:0".parse().unwrap(),
            },
        )
        .unwrap();
        b.address(
            ExtType::AddressDst,
            &Address {
                proto: 255,
                prefix_len: 24,
                addr: "10.2.0.0:0".parse().unwrap(),
            },
        )
        .unwrap();
        b.policy(&Policy {
            policy_type: PolicyType::Ipsec,
            dir: Direction::Out,
            reserved: 0,
            id,
            priority: 0,
            requests: vec![crate::policy::IpsecRequest {
                proto: IPPROTO_ESP,
                mode: Mode::Transport,
                level: Level::Require,
                reqid: 0,
                tunnel: None,
            }],
        })
        .unwrap();
    })
}

fn client(mock: Mock) -> Client<Mock> {
    let mut c = Client::new(mock);
    c.set_pid(PID);
    c.set_timeout(Duration::from_millis(200));
    c
}

fn esp_id() -> SaId {
    SaId {
        satype: SaType::Esp,
        spi: 0x1000,
        src: ip("10.0.0.1"),
        dst: ip("10.0.0.2"),
    }
}

fn esp_spec() -> SaSpec {
    let mut s = SaSpec::new(SaType::Esp, 0x1000, ip("10.0.0.1"), ip("10.0.0.2"));
    s.auth = Some(AlgKey {
        id: 2,
        key: Key::new(vec![0x11; 16]).unwrap(),
    });
    s.enc = Some(AlgKey {
        id: 12,
        key: Key::new(vec![0x22; 16]).unwrap(),
    });
    s
}

/// A responder that answers `t` with one SA message (seq and pid echoed).
fn answer_sa(t: MsgType, spi: u32) -> impl FnMut(&Message<'_>) -> Vec<Vec<u8>> {
    move |m| {
        if m.msg_type() == t {
            vec![sa_msg(hdr(t, m.satype(), m.seq(), m.pid()), spi)]
        } else {
            vec![]
        }
    }
}

#[test]
fn reply_is_matched_on_pid_seq_and_type() {
    let mock = Mock::with_responder(|m| {
        let (s, p) = (m.seq(), m.pid());
        vec![
            // Another process's GET with the same seq.
            sa_msg(hdr(MsgType::Get, SaType::Esp, s, p + 1), 0xbad1),
            // Ours, but a different seq.
            sa_msg(hdr(MsgType::Get, SaType::Esp, s.wrapping_add(1), p), 0xbad2),
            // A kernel event.
            expire_msg(0xbad3),
            // Our pid and seq, but another type.
            sa_msg(hdr(MsgType::Add, SaType::Esp, s, p), 0xbad4),
            // The reply.
            sa_msg(hdr(MsgType::Get, SaType::Esp, s, p), 0x1000),
        ]
    });
    let mut c = client(mock);
    let sa = c.get(&esp_id()).unwrap();
    assert_eq!(sa.spi, 0x1000);
    assert_eq!(sa.reqid, 7);
    assert_eq!(
        sa.key_encrypt.as_ref().unwrap().data.as_slice(),
        &[0x22; 16]
    );
    assert_eq!(c.queued_events(), 4);

    let spi_of = |e: &Event| match e {
        Event::Other(r) => match r.get(ExtType::Sa) {
            Some(crate::repr::Extension::Sa(s)) => s.spi,
            _ => 0,
        },
        Event::Expire(x) => x.sa.spi,
        Event::Sa(x) => x.sa.spi,
        _ => 0,
    };
    let mut spis = Vec::new();
    while let Some(e) = c.try_next_event().unwrap() {
        if let Event::Expire(x) = &e {
            assert!(x.hard);
            assert_eq!(x.sa.hard.unwrap().addtime, 30);
        }
        if let Event::Sa(x) = &e {
            assert_eq!(x.msg_type, MsgType::Add);
        }
        spis.push(spi_of(&e));
    }
    assert_eq!(spis, [0xbad1, 0xbad2, 0xbad3, 0xbad4]);
    assert_eq!(c.stats().stale, 0);
}

#[test]
fn flush_consumes_echo_and_broadcast() {
    let mock = Mock::with_responder(|m| match m.msg_type() {
        MsgType::Flush => vec![
            bare(MsgType::Flush, m.satype(), m.seq(), m.pid(), 0),
            bare(MsgType::Flush, m.satype(), m.seq(), m.pid(), 0),
        ],
        MsgType::XSpdFlush => vec![
            bare(MsgType::XSpdFlush, SaType::Unspec, m.seq(), m.pid(), 0),
            bare(MsgType::XSpdFlush, SaType::Unspec, m.seq(), m.pid(), 0),
        ],
        _ => vec![],
    });
    let mut c = client(mock);
    c.flush(SaType::Esp).unwrap();
    assert!(
        c.transport().inbox.is_empty(),
        "the second reply is consumed by flush itself"
    );
    c.spd_flush().unwrap();
    assert!(c.transport().inbox.is_empty());
    assert_eq!(c.queued_events(), 0);
    assert_eq!(c.stats(), Stats::default());
    // Neither flush had to wait: both replies were queued.
    assert!(c.transport().waits.iter().all(|w| w.is_zero()));
}

#[test]
fn flush_with_one_reply_returns_after_the_bounded_wait() {
    let echo_only = |m: &Message<'_>| vec![bare(MsgType::Flush, m.satype(), m.seq(), m.pid(), 0)];

    // Default: look only at what is already queued.
    let mut c = client(Mock::with_responder(echo_only));
    c.set_timeout(Duration::from_secs(5));
    let t = Instant::now();
    c.flush(SaType::Unspec).unwrap();
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(c.transport().waits.last(), Some(&Duration::ZERO));

    // With a grace period, the wait is bounded by it, not by the timeout.
    let mut c = client(Mock::with_responder(echo_only));
    c.set_timeout(Duration::from_secs(5));
    c.set_flush_grace(Duration::from_millis(30));
    let t = Instant::now();
    c.flush(SaType::Esp).unwrap();
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(25), "{took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    let w = *c.transport().waits.last().unwrap();
    assert!(
        w <= Duration::from_millis(30) && w > Duration::ZERO,
        "{w:?}"
    );
}

#[test]
fn late_second_flush_reply_is_never_taken_for_another_reply() {
    let mock = Mock::with_responder(|m| match m.msg_type() {
        MsgType::Flush => vec![bare(MsgType::Flush, m.satype(), m.seq(), m.pid(), 0)],
        MsgType::Get => vec![sa_msg(
            hdr(MsgType::Get, m.satype(), m.seq(), m.pid()),
            0x1000,
        )],
        _ => vec![],
    });
    let mut c = client(mock);
    c.flush(SaType::Esp).unwrap();
    let flush_seq = Message::parse(&c.transport().sent[0]).unwrap().seq();
    // The broadcast copy arrives only now (it never does on Linux, but if it did).
    c.transport_mut()
        .inbox
        .push_back(bare(MsgType::Flush, SaType::Esp, flush_seq, PID, 0));
    let sa = c.get(&esp_id()).unwrap();
    assert_eq!(sa.spi, 0x1000);
    assert_eq!(c.stats().stale, 1);
    assert_eq!(c.queued_events(), 0);
}

#[test]
fn flush_failure_after_the_echo_is_an_error() {
    let mock = Mock::with_responder(|m| {
        vec![
            bare(MsgType::Flush, m.satype(), m.seq(), m.pid(), 0),
            bare(
                MsgType::Flush,
                m.satype(),
                m.seq(),
                m.pid(),
                libc::EPERM as u8,
            ),
        ]
    });
    let mut c = client(mock);
    let e = c.flush(SaType::Esp).unwrap_err();
    assert!(e.is_kernel_errno(libc::EPERM), "{e}");
    assert!(e.to_string().starts_with("flush esp: "), "{e}");
}

#[test]
fn dump_streams_until_seq_zero() {
    let mock = Mock::with_responder(|m| {
        if m.msg_type() != MsgType::Dump {
            return vec![];
        }
        let p = m.pid();
        vec![
            // On a socket that was promiscuous, the request's own copy; never an end.
            bare(MsgType::Dump, SaType::Unspec, m.seq(), p, 0),
            sa_msg(hdr(MsgType::Dump, SaType::Esp, 1, p), 0x101),
            expire_msg(0xe0),
            sa_msg(hdr(MsgType::Dump, SaType::Ah, 2, p), 0x102),
            sa_msg(hdr(MsgType::Dump, SaType::Esp, 0, p), 0x103),
            // After the end: not part of the dump.
            sa_msg(hdr(MsgType::Add, SaType::Esp, 9, 99), 0x999),
        ]
    });
    let mut c = client(mock);
    let mut d = c.dump(SaType::Unspec).unwrap();
    let mut spis = Vec::new();
    for item in d.by_ref() {
        let sa = item.unwrap();
        spis.push((sa.spi, sa.satype));
    }
    assert_eq!(d.count_so_far(), 3);
    assert!(d.next().is_none(), "a finished dump stays finished");
    drop(d);
    assert_eq!(
        spis,
        [
            (0x101, SaType::Esp),
            (0x102, SaType::Ah),
            (0x103, SaType::Esp)
        ]
    );
    assert_eq!(
        c.transport().inbox.len(),
        1,
        "the dump stops reading at its last entry"
    );
    assert!(matches!(
        c.try_next_event().unwrap(),
        Some(Event::Expire(_))
    ));
    assert!(matches!(c.try_next_event().unwrap(), Some(Event::Sa(_))));
}

#[test]
fn empty_dump_is_no_entries() {
    let mock = Mock::with_responder(|m| {
        vec![bare(
            m.msg_type(),
            m.satype(),
            m.seq(),
            m.pid(),
            libc::ENOENT as u8,
        )]
    });
    let mut c = client(mock);
    assert_eq!(c.dump(SaType::Esp).unwrap().count(), 0);
    assert_eq!(c.spd_dump().unwrap().count(), 0);
    assert_eq!(c.stats(), Stats::default());
}

#[test]
fn dump_error_reply_is_an_error() {
    let mock = Mock::with_responder(|m| {
        vec![bare(
            m.msg_type(),
            m.satype(),
            m.seq(),
            m.pid(),
            libc::EBUSY as u8,
        )]
    });
    let mut c = client(mock);
    let mut d = c.dump(SaType::Esp).unwrap();
    let e = d.next().unwrap().unwrap_err();
    assert_eq!(
        e.to_string(),
        "dump esp: a dump is already running on this socket (EBUSY)"
    );
    assert!(d.next().is_none());
}

#[test]
fn aborted_dump_yields_the_entry_then_the_error() {
    let mock = Mock::with_responder(|m| match m.msg_type() {
        MsgType::Dump => {
            let p = m.pid();
            let mut last = hdr(MsgType::Dump, SaType::Esp, 0, p);
            last.errno = 234;
            vec![
                sa_msg(hdr(MsgType::Dump, SaType::Esp, 1, p), 1),
                sa_msg(last, 2),
                // af_key then answers the request itself with EINVAL.
                bare(
                    MsgType::Dump,
                    SaType::Unspec,
                    m.seq(),
                    p,
                    libc::EINVAL as u8,
                ),
            ]
        }
        MsgType::Get => vec![sa_msg(
            hdr(MsgType::Get, m.satype(), m.seq(), m.pid()),
            0x1000,
        )],
        _ => vec![],
    });
    let mut c = client(mock);
    let items: Vec<_> = c.dump(SaType::Unspec).unwrap().collect();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0].as_ref().unwrap().spi, 1);
    assert_eq!(items[1].as_ref().unwrap().spi, 2);
    let e = items[2].as_ref().unwrap_err();
    assert!(e.is_kernel_errno(234));
    assert!(e.to_string().starts_with("dump all: dump aborted"), "{e}");
    // The trailing error reply is recognised as the dump's, not as anything else.
    assert_eq!(c.get(&esp_id()).unwrap().spi, 0x1000);
    assert_eq!(c.stats().stale, 1);
    assert_eq!(c.queued_events(), 0);
}

#[test]
fn abandoned_dump_is_drained_before_the_next_request() {
    let mock = Mock::with_responder(|m| match m.msg_type() {
        MsgType::Dump => {
            let p = m.pid();
            vec![
                sa_msg(hdr(MsgType::Dump, SaType::Esp, 1, p), 1),
                sa_msg(hdr(MsgType::Dump, SaType::Esp, 2, p), 2),
                sa_msg(hdr(MsgType::Dump, SaType::Esp, 0, p), 3),
            ]
        }
        MsgType::Get => vec![sa_msg(
            hdr(MsgType::Get, m.satype(), m.seq(), m.pid()),
            0x1000,
        )],
        _ => vec![],
    });
    let mut c = client(mock);
    let first = c.dump(SaType::Esp).unwrap().next().unwrap().unwrap();
    assert_eq!(first.spi, 1);
    assert_eq!(c.get(&esp_id()).unwrap().spi, 0x1000);
    assert_eq!(c.stats().stale, 2);
    assert_eq!(c.queued_events(), 0);
}

#[test]
fn dump_timeout_ends_the_iteration_with_an_error() {
    let mock =
        Mock::with_responder(|m| vec![sa_msg(hdr(MsgType::Dump, SaType::Esp, 1, m.pid()), 1)]);
    let mut c = client(mock);
    c.set_timeout(Duration::from_millis(40));
    let items: Vec<_> = c.dump(SaType::Esp).unwrap().collect();
    assert_eq!(items.len(), 2);
    assert!(matches!(items[1], Err(Error::Timeout { .. })));
}

#[test]
fn error_reply_becomes_a_kernel_error_with_context() {
    let mock = Mock::with_responder(|m| {
        let errno = match m.msg_type() {
            MsgType::Add => libc::EEXIST,
            MsgType::Delete => libc::ESRCH,
            MsgType::XSpdDelete2 => libc::ENOENT,
            _ => libc::EINVAL,
        };
        vec![bare(
            m.msg_type(),
            m.satype(),
            m.seq(),
            m.pid(),
            errno as u8,
        )]
    });
    let mut c = client(mock);
    let e = c.add(&esp_spec()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "add esp spi 0x1000 10.0.0.1 -> 10.0.0.2: an SA with this SPI already exists (EEXIST)"
    );
    let e = c.delete(&esp_id()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "delete esp spi 0x1000 10.0.0.1 -> 10.0.0.2: no such SA (ESRCH)"
    );
    let e = c.spd_delete_by_id(33).unwrap_err();
    assert_eq!(e.to_string(), "spddelete2 id 33: no such policy (ENOENT)");
    assert_eq!(e.operation().unwrap().policy_id, Some(33));
}

#[test]
fn missing_reply_times_out_and_a_late_reply_is_stale() {
    let mut c = client(Mock::new());
    c.set_timeout(Duration::from_millis(50));
    let t = Instant::now();
    let e = c.get(&esp_id()).unwrap_err();
    let took = t.elapsed();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(took >= Duration::from_millis(45), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(e
        .to_string()
        .ends_with("no reply from the kernel within 50 ms"));

    // The reply turns up late, just before the next request's.
    let old_seq = Message::parse(&c.transport().sent[0]).unwrap().seq();
    c.transport_mut()
        .inbox
        .push_back(sa_msg(hdr(MsgType::Get, SaType::Esp, old_seq, PID), 0xdead));
    c.transport_mut().responder = Some(Box::new(answer_sa(MsgType::Get, 0x1000)));
    assert_eq!(c.get(&esp_id()).unwrap().spi, 0x1000);
    assert_eq!(c.stats().stale, 1);
    assert_eq!(c.queued_events(), 0);
}

#[test]
fn add_request_carries_the_spec() {
    let mut c = client(Mock::with_responder(answer_sa(MsgType::Add, 0x1000)));
    let mut s = esp_spec();
    s.mode = Mode::Tunnel;
    s.reqid = 9;
    s.replay = 32;
    s.flags = SADB_SAFLAGS_NOECN;
    s.hard = Some(Lifetime {
        addtime: 3600,
        ..Lifetime::default()
    });
    s.nat_t = Some(NatT::esp_in_udp(4500, 4501));
    s.acquire_seq = Some(77);
    let reply = c.add(&s).unwrap();
    assert_eq!(
        reply.header.seq, 77,
        "the reply was correlated on the acquire seq"
    );

    let sent = c.transport().sent[0].clone();
    let m = Message::parse(&sent).unwrap();
    assert_eq!(
        (m.msg_type(), m.satype(), m.seq(), m.pid()),
        (MsgType::Add, SaType::Esp, 77, PID)
    );
    let sa = m.sa().unwrap();
    assert_eq!(sa.spi.get(), 0x1000);
    assert_eq!(
        &sent[16 + 4..16 + 8],
        &[0, 0, 0x10, 0],
        "SPI in network order"
    );
    assert_eq!((sa.auth, sa.encrypt, sa.replay), (2, 12, 32));
    assert_eq!(sa.flags.get(), SADB_SAFLAGS_NOECN);
    assert_eq!(m.lifetime_hard().unwrap().addtime.get(), 3600);
    assert_eq!(
        Lifetime::from_wire(m.lifetime_soft().unwrap()),
        Lifetime::default(),
        "SOFT is sent (unlimited) because af_key needs both or neither"
    );
    assert_eq!(m.key_auth().unwrap().bytes(), &[0x11; 16]);
    assert_eq!(m.key_encrypt().unwrap().bits(), 128);
    let sa2 = m.sa2().unwrap();
    assert_eq!((sa2.mode, sa2.reqid.get()), (Mode::Tunnel.value(), 9));
    assert_eq!(m.nat_t_type().unwrap().nat_t_type, UDP_ENCAP_ESPINUDP);
    assert_eq!((m.nat_t_sport(), m.nat_t_dport()), (Some(4500), Some(4501)));
    assert_eq!(m.src().unwrap().ip(), ip("10.0.0.1"));
}

#[test]
fn debug_output_never_shows_keys() {
    let s = esp_spec();
    let d = format!("{s:?}");
    assert!(d.contains("redacted"), "{d}");
    assert!(!d.contains("17, 17") && !d.contains("34, 34"), "{d}");
    let info = SaInfo::from_message(
        &Message::parse(&sa_msg(hdr(MsgType::Get, SaType::Esp, 1, 1), 5)).unwrap(),
    )
    .unwrap();
    let d = format!("{info:?}");
    assert!(!d.contains("17, 17") && !d.contains("34, 34"), "{d}");
}

#[test]
fn register_lists_the_algorithms() {
    let mock = Mock::with_responder(|m| {
        vec![frame(
            hdr(MsgType::Register, m.satype(), m.seq(), m.pid()),
            |b| {
                b.extension(&crate::repr::Extension::Supported(
                    ExtType::SupportedAuth,
                    vec![SupportedAlg {
                        id: 2,
                        ivlen: 0,
                        min_bits: 128,
                        max_bits: 128,
                        reserved: 0,
                    }],
                ))
                .unwrap();
                b.extension(&crate::repr::Extension::Supported(
                    ExtType::SupportedEncrypt,
                    vec![
                        SupportedAlg {
                            id: 12,
                            ivlen: 8,
                            min_bits: 128,
                            max_bits: 256,
                            reserved: 0,
                        },
                        SupportedAlg {
                            id: 11,
                            ivlen: 0,
                            min_bits: 0,
                            max_bits: 0,
                            reserved: 0,
                        },
                    ],
                ))
                .unwrap();
            },
        )]
    });
    let mut c = client(mock);
    let s = c.register(SaType::Esp).unwrap();
    assert_eq!(s.auth.len(), 1);
    assert_eq!(s.encrypt.iter().map(|a| a.id).collect::<Vec<_>>(), [12, 11]);
    assert_eq!(s.encrypt[0].max_bits, 256);
}

#[test]
fn acquire_event_is_typed_and_its_seq_threads_into_getspi() {
    let acquire = frame(hdr(MsgType::Acquire, SaType::Esp, 55, 0), |b| {
        b.address(
            ExtType::AddressSrc,
            &Address {
                proto: 0,
                prefix_len: 32,
                addr: "10.0.0.1:0".parse().unwrap(),
            },
        )
        .unwrap();
        b.address(
            ExtType::AddressDst,
            &Address {
                proto: 0,
                prefix_len: 32,
                addr: "10.0.0.2:0".parse().unwrap(),
            },
        )
        .unwrap();
        b.policy(&Policy {
            policy_type: PolicyType::Ipsec,
            dir: Direction::Out,
            reserved: 0,
            id: 0x19,
            priority: 7,
            requests: vec![],
        })
        .unwrap();
        b.extension(&crate::repr::Extension::Proposal {
            replay: 32,
            combs: vec![Comb {
                auth: 2,
                encrypt: 12,
                hard_addtime: 86_400,
                ..Comb::default()
            }],
        })
        .unwrap();
    });
    let mut mock = Mock::with_responder(answer_sa(MsgType::GetSpi, 0xc0de));
    mock.inbox.push_back(acquire);
    let mut c = client(mock);
    let Some(Event::Acquire(a)) = c.next_event(Some(Duration::from_millis(10))).unwrap() else {
        panic!("expected an acquire");
    };
    assert_eq!(
        (a.seq, a.satype, a.policy_id, a.policy_dir),
        (55, SaType::Esp, 0x19, Direction::Out)
    );
    assert_eq!(a.policy_priority, 7);
    assert_eq!(a.src.addr.ip(), ip("10.0.0.1"));
    assert_eq!(a.proposal.len(), 1);
    assert_eq!(a.proposal[0].hard_addtime, 86_400);

    let mut req = SpiRequest::new(SaType::Esp, ip("10.0.0.1"), ip("10.0.0.2"));
    req.acquire_seq = Some(a.seq);
    req.range = Some((0x100, 0x1ff));
    let sa = c.get_spi(&req).unwrap();
    assert_eq!(sa.spi, 0xc0de);
    let sent = Message::parse(&c.transport().sent[0]).unwrap();
    assert_eq!(sent.seq(), 55);
    let r = sent.spirange().unwrap();
    assert_eq!((r.min.get(), r.max.get()), (0x100, 0x1ff));
}

#[test]
fn acquire_failed_sends_the_header_and_waits_for_nothing() {
    let mut c = client(Mock::new());
    c.acquire_failed(55, SaType::Esp, libc::EHOSTUNREACH as u8)
        .unwrap();
    let m = Message::parse(&c.transport().sent[0]).unwrap();
    assert_eq!(
        (m.msg_type(), m.seq(), m.errno(), m.pid()),
        (MsgType::Acquire, 55, libc::EHOSTUNREACH as u8, PID)
    );
    assert_eq!(m.as_bytes().len(), 16);
    assert!(c.transport().waits.iter().all(|w| w.is_zero()));
    assert!(c.acquire_failed(55, SaType::Esp, 0).is_err());
}

#[test]
fn event_queue_overflow_is_reported_where_the_gap_is() {
    let mut mock = Mock::new();
    for spi in 1..=5 {
        mock.inbox.push_back(expire_msg(spi));
    }
    let mut c = client(mock);
    c.set_event_queue_limit(2);
    // A request first classifies what is queued (and keeps only two events).
    c.transport_mut().responder = Some(Box::new(answer_sa(MsgType::Get, 0x1000)));
    c.get(&esp_id()).unwrap();
    let mut seen = Vec::new();
    while let Some(e) = c.try_next_event().unwrap() {
        seen.push(match e {
            Event::Expire(x) => format!("expire {}", x.sa.spi),
            Event::Lagged { missed } => format!("lagged {missed}"),
            other => format!("{other:?}"),
        });
    }
    assert_eq!(seen, ["expire 1", "expire 2", "lagged 3"]);
    assert_eq!(c.stats().events_dropped, 3);
}

#[test]
fn promiscuous_client_skips_its_own_request_copies() {
    let mock = Mock::with_responder(|m| {
        let (s, p) = (m.seq(), m.pid());
        match m.msg_type() {
            // Turning promiscuous mode on: the broadcast reply arrives twice.
            MsgType::XPromisc => vec![m.as_bytes().to_vec(), m.as_bytes().to_vec()],
            // The copy of the request (first), then the reply, twice.
            MsgType::Get => vec![
                m.as_bytes().to_vec(),
                sa_msg(hdr(MsgType::Get, SaType::Esp, s, p), 0x1000),
                sa_msg(hdr(MsgType::Get, SaType::Esp, s, p), 0x1000),
            ],
            _ => vec![],
        }
    });
    let mut c = client(mock);
    c.promisc(true).unwrap();
    assert!(c.is_promiscuous());
    assert_eq!(c.get(&esp_id()).unwrap().spi, 0x1000);
    assert_eq!(c.stats().echoes, 1);
    let e = c.dump(SaType::Esp).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    // The duplicates were stale, not events.
    assert_eq!(c.try_next_event().unwrap(), None);
    assert_eq!(c.stats().stale, 2);
}

#[test]
fn spd_get_puts_the_direction_of_the_id_in_the_policy() {
    let mock = Mock::with_responder(|m| {
        let id = m.policy().map_or(0, |p| p.id());
        let mut h = hdr(MsgType::XSpdGet, SaType::Unspec, m.seq(), m.pid());
        h.reserved = 2; // Linux: the policy's refcount.
        vec![policy_msg(h, id)]
    });
    let mut c = client(mock);
    let p = c.spd_get(0x19).unwrap();
    assert_eq!(p.policy.id, 0x19);
    assert_eq!(p.header.reserved, 2);
    assert_eq!(p.src.prefix_len, 24);
    assert_eq!(p.requests().len(), 1);
    let sent = Message::parse(&c.transport().sent[0]).unwrap();
    let pol = sent.policy().unwrap();
    assert_eq!((pol.id(), pol.dir()), (0x19, Direction::Out));
}

#[test]
fn spdsetidx_is_answered_as_spdadd() {
    let mock = Mock::with_responder(|m| {
        vec![policy_msg(
            hdr(MsgType::XSpdAdd, SaType::Unspec, m.seq(), m.pid()),
            8,
        )]
    });
    let mut c = client(mock);
    let req = crate::repr::MessageRepr {
        header: hdr(MsgType::XSpdSetIdx, SaType::Unspec, 0, 0),
        extensions: vec![],
    };
    let r = c.request_raw(&req).unwrap();
    assert_eq!(r.header.msg_type, MsgType::XSpdAdd);
    let sent = Message::parse(&c.transport().sent[0]).unwrap();
    assert_eq!(sent.pid(), PID);
    assert_ne!(sent.seq(), 0);
}

#[test]
fn malformed_messages_are_counted_and_skipped() {
    let mut mock = Mock::with_responder(answer_sa(MsgType::Get, 0x1000));
    mock.inbox.push_back(vec![2, 5, 0]);
    let mut c = client(mock);
    assert_eq!(c.get(&esp_id()).unwrap().spi, 0x1000);
    assert_eq!(c.stats().malformed, 1);

    // A reply that matches but does not parse is that request's error.
    let mut bad = sa_msg(hdr(MsgType::Get, SaType::Esp, 0, PID), 1);
    bad.truncate(bad.len() - 8);
    let mock = Mock::with_responder(move |m| {
        let mut b = bad.clone();
        b[8..12].copy_from_slice(&m.seq().to_ne_bytes());
        vec![b]
    });
    let mut c = client(mock);
    let e = c.get(&esp_id()).unwrap_err();
    assert!(matches!(e, Error::Parse { .. }), "{e}");
}

#[test]
fn tracer_sees_requests_and_replies() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l2 = Arc::clone(&log);
    let mut c = client(Mock::with_responder(answer_sa(MsgType::Get, 0x1000)));
    c.set_tracer(Some(Box::new(move |dir, bytes| {
        l2.lock().unwrap().push((dir, bytes[1]));
    })));
    c.get(&esp_id()).unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [(Traffic::Sent, 5), (Traffic::Received, 5)]
    );
}

#[test]
fn sequence_numbers_are_fresh_and_never_zero() {
    let mut c = client(Mock::with_responder(answer_sa(MsgType::Get, 1)));
    for _ in 0..3 {
        c.get(&esp_id()).unwrap();
    }
    let seqs: Vec<u32> = c
        .transport()
        .sent
        .iter()
        .map(|b| Message::parse(b).unwrap().seq())
        .collect();
    assert!(seqs.iter().all(|&s| s != 0));
    assert!(seqs.windows(2).all(|w| w[0] != w[1]));
}

#[test]
fn raw_request_errors_name_the_sa_or_policy_of_the_message() {
    let mock = Mock::with_responder(|m| {
        vec![bare(
            m.msg_type(),
            m.satype(),
            m.seq(),
            m.pid(),
            libc::EEXIST as u8,
        )]
    });
    let mut c = client(mock);
    let req = crate::repr::MessageRepr {
        header: hdr(MsgType::Add, SaType::Esp, 0, 0),
        extensions: vec![
            Extension::Sa(Sa {
                spi: 0x1000,
                ..Sa::default()
            }),
            Extension::Address(ExtType::AddressSrc, Address::host(ip("10.0.0.1"))),
            Extension::Address(ExtType::AddressDst, Address::host(ip("10.0.0.2"))),
        ],
    };
    let e = c.request_raw(&req).unwrap_err();
    assert_eq!(
        e.to_string(),
        "add esp spi 0x1000 10.0.0.1 -> 10.0.0.2: an SA with this SPI already exists (EEXIST)"
    );
    let pol = crate::policy::Policy {
        policy_type: PolicyType::Ipsec,
        dir: Direction::Out,
        reserved: 0,
        id: 0,
        priority: 0,
        requests: Vec::new(),
    };
    let req = crate::repr::MessageRepr {
        header: hdr(MsgType::XSpdAdd, SaType::Unspec, 0, 0),
        extensions: vec![
            Extension::Policy(pol),
            Extension::Address(
                ExtType::AddressSrc,
                Address {
                    proto: 6,
                    prefix_len: 24,
                    addr: "10.1.0.0:0".parse().unwrap(),
                },
            ),
            Extension::Address(ExtType::AddressDst, Address::host(ip("10.2.0.1"))),
        ],
    };
    let e = c.request_raw(&req).unwrap_err();
    assert_eq!(
        e.to_string(),
        "spdadd 10.1.0.0/24 -> 10.2.0.1 proto 6 out: a policy with this selector and direction \
         already exists (EEXIST)"
    );
}

/// Looks at an empty queue so far (each drain and each fruitless non-blocking read
/// records one zero wait).
fn empty_looks(c: &Client<Mock>) -> usize {
    c.transport().waits.len()
}

#[test]
fn back_to_back_requests_are_one_send_and_one_receive_each() {
    let mut c = client(Mock::with_responder(answer_sa(MsgType::Get, 0x1000)));
    for _ in 0..3 {
        c.get(&esp_id()).unwrap();
    }
    // Only the first request drained the (empty) queue; every reply was already
    // queued when it was looked for, so no receive waited.
    assert_eq!(empty_looks(&c), 1);
    assert!(c.transport().waits.iter().all(|w| w.is_zero()));
}

#[test]
fn other_traffic_seen_makes_the_next_request_drain_first() {
    let mut c = client(Mock::with_responder(|m| {
        let h = hdr(MsgType::Get, m.satype(), m.seq(), m.pid());
        vec![expire_msg(0xe1), sa_msg(h, 0x1000)]
    }));
    c.get(&esp_id()).unwrap();
    let before = empty_looks(&c);
    // Two more events arrive between the requests.
    c.transport_mut().inbox.push_back(expire_msg(0xe2));
    c.transport_mut().inbox.push_back(expire_msg(0xe3));
    c.get(&esp_id()).unwrap();
    // The reply to the first request came after an event, so the second request
    // drained the queue (ending on one empty look) before it was sent.
    assert_eq!(empty_looks(&c), before + 1);
    assert_eq!(c.queued_events(), 4);
}

#[test]
fn an_idle_socket_is_drained_before_the_next_request() {
    let mut c = client(Mock::with_responder(answer_sa(MsgType::Get, 0x1000)));
    c.get(&esp_id()).unwrap();
    c.get(&esp_id()).unwrap();
    let before = empty_looks(&c);
    std::thread::sleep(SETTLE_IDLE * 3);
    c.transport_mut().inbox.push_back(expire_msg(0xe1));
    c.get(&esp_id()).unwrap();
    assert_eq!(empty_looks(&c), before + 1);
    assert_eq!(c.queued_events(), 1);
}

#[test]
fn the_builder_writes_nothing_past_the_message_it_returns() {
    // MsgBuf::set_built relies on this to skip wiping the rest of the send buffer.
    let mut buf = [0x55u8; 1024];
    let h = hdr(MsgType::Add, SaType::Esp, 1, PID);
    let mut b = MessageBuilder::new(&mut buf, &h).unwrap();
    b.key(ExtType::KeyAuth, 160, &[0x11; 20]).unwrap();
    b.address(ExtType::AddressSrc, &Address::host(ip("10.0.0.1")))
        .unwrap();
    // An extension that does not fit fails without writing past what fits either.
    assert!(b.key(ExtType::KeyEncrypt, 8000, &[0x22; 1000]).is_err());
    let n = b.finish().unwrap().len();
    assert!(n < 100);
    assert!(buf[n..].iter().all(|&x| x == 0x55));
}

#[test]
fn no_key_bytes_stay_in_the_send_buffer_after_a_request() {
    let mut c = client(Mock::with_responder(answer_sa(MsgType::Add, 0x1000)));
    c.add(&esp_spec()).unwrap();
    assert!(c.sbuf.scratch().iter().all(|&x| x == 0));
}

/// An ADD of ESP SPI 0x1000, 10.0.0.1 -> 10.0.0.2, with an authentication key, as a
/// caller that builds messages ahead of time has it (seq and pid 0).
fn built_add() -> MessageRepr {
    MessageRepr {
        header: hdr(MsgType::Add, SaType::Esp, 0, 0),
        extensions: vec![
            crate::repr::Extension::Sa(Sa {
                spi: 0x1000,
                ..Sa::default()
            }),
            crate::repr::Extension::Address(ExtType::AddressSrc, Address::host(ip("10.0.0.1"))),
            crate::repr::Extension::Address(ExtType::AddressDst, Address::host(ip("10.0.0.2"))),
            crate::repr::Extension::Key(ExtType::KeyAuth, Key::new(vec![0x11; 20]).unwrap()),
        ],
    }
}

#[test]
fn a_message_built_ahead_is_sent_with_the_clients_seq_and_pid() {
    let mut c = client(Mock::with_responder(answer_sa(MsgType::Add, 0x1000)));
    let repr = built_add();
    let bytes = repr.to_bytes().unwrap();
    let op = Operation::from(&repr);
    let sa: SaInfo = c.request_built_as(&bytes, &op).unwrap();
    assert_eq!(sa.spi, 0x1000);
    let sent = Message::parse(&c.transport().sent[0]).unwrap();
    assert_eq!(sent.pid(), PID);
    assert_ne!(sent.seq(), 0);
    assert_eq!(&c.transport().sent[0][16..], &bytes[16..]);
    assert!(c.sbuf.scratch().iter().all(|&x| x == 0));

    // An error reply names the operation given.
    let mut c = client(Mock::with_responder(|m| {
        vec![bare(m.msg_type(), m.satype(), m.seq(), m.pid(), 17)]
    }));
    let e = c.request_built(&bytes, &op).unwrap_err();
    assert!(e.is_kernel_errno(17));
    assert!(
        e.to_string().contains("spi 0x1000 10.0.0.1 -> 10.0.0.2"),
        "{e}"
    );

    // Not a message, or a dump: refused before anything is sent.
    let short = c.request_built_as::<()>(&bytes[..8], &op).unwrap_err();
    assert!(matches!(short, Error::Unsupported { .. }), "{short}");
    let dump = Operation::new(MsgType::Dump, SaType::Esp);
    assert!(c.request_built_as::<()>(&bytes, &dump).is_err());
    assert_eq!(c.transport().sent.len(), 1);

    // Success only: the reply is wiped unread.
    let mut c = client(Mock::with_responder(answer_sa(MsgType::Add, 0x1000)));
    c.request_built(&bytes, &op).unwrap();
    assert_eq!(c.rbuf.len(), 0);
}

#[test]
fn a_message_built_ahead_can_be_sent_in_place() {
    let repr = built_add();
    let op = Operation::from(&repr);
    let built = repr.to_bytes().unwrap();

    // The seq and pid are filled in in the caller's bytes, which are what is sent; the
    // send buffer is not used and the reply is wiped.
    let mut c = client(Mock::with_responder(answer_sa(MsgType::Add, 0x1000)));
    let mut bytes = built.clone();
    c.request_built_in_place(&mut bytes, &op).unwrap();
    assert_eq!(c.transport().sent[0], bytes);
    let sent = Message::parse(&bytes).unwrap();
    assert_eq!(sent.pid(), PID);
    assert_ne!(sent.seq(), 0);
    assert_eq!(&bytes[16..], &built[16..]);
    assert!(c.sbuf.scratch().iter().all(|&x| x == 0));
    assert_eq!(c.rbuf.len(), 0);

    // A seq and pid given in the message are kept; a second request gets its own reply.
    let mut again = built.clone();
    again[8..12].copy_from_slice(&77u32.to_ne_bytes());
    c.request_built_in_place(&mut again, &op).unwrap();
    assert_eq!(Message::parse(&c.transport().sent[1]).unwrap().seq(), 77);

    // An error reply names the operation; bytes that are not a message are refused
    // before anything is sent.
    let mut c = client(Mock::with_responder(|m| {
        vec![bare(m.msg_type(), m.satype(), m.seq(), m.pid(), 17)]
    }));
    let mut bytes = built.clone();
    let e = c.request_built_in_place(&mut bytes, &op).unwrap_err();
    assert!(e.is_kernel_errno(17));
    assert!(
        e.to_string().contains("spi 0x1000 10.0.0.1 -> 10.0.0.2"),
        "{e}"
    );
    let short = c.request_built_in_place(&mut [0u8; 8], &op).unwrap_err();
    assert!(matches!(short, Error::Unsupported { .. }), "{short}");
    assert_eq!(c.transport().sent.len(), 1);
}

#[test]
fn a_message_sent_in_place_on_a_promiscuous_socket_is_recognised_when_echoed() {
    let mock = Mock::with_responder(|m| match m.msg_type() {
        MsgType::XPromisc => vec![m.as_bytes().to_vec(), m.as_bytes().to_vec()],
        // The copy of the request first, then the reply.
        MsgType::Add => vec![
            m.as_bytes().to_vec(),
            bare(m.msg_type(), m.satype(), m.seq(), m.pid(), 0),
        ],
        _ => vec![],
    });
    let mut c = client(mock);
    c.promisc(true).unwrap();
    let repr = MessageRepr {
        header: hdr(MsgType::Add, SaType::Esp, 0, 0),
        extensions: vec![crate::repr::Extension::Sa(Sa {
            spi: 0x1000,
            ..Sa::default()
        })],
    };
    let mut bytes = repr.to_bytes().unwrap();
    c.request_built_in_place(&mut bytes, &Operation::from(&repr))
        .unwrap();
    assert_eq!(c.stats().echoes, 1);
    assert_eq!(c.try_next_event().unwrap(), None);
}

#[test]
fn add_as_unit_only_acknowledges_and_errors_still_name_the_sa() {
    let mut c = client(Mock::with_responder(answer_sa(MsgType::Add, 0x1000)));
    c.add_as::<()>(&esp_spec()).unwrap();
    assert_eq!(c.rbuf.len(), 0);
    let mut c = client(Mock::with_responder(|m| {
        vec![bare(m.msg_type(), m.satype(), m.seq(), m.pid(), 17)]
    }));
    let e = c.update_as::<()>(&esp_spec()).unwrap_err();
    assert!(e.is_kernel_errno(17));
    assert!(e.to_string().starts_with("update esp spi 0x1000"), "{e}");
    assert_eq!(
        Message::parse(&c.transport().sent[0]).unwrap().msg_type(),
        MsgType::Update
    );
}
