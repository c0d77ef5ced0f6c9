//! Security policies: SPDADD, SPDDUMP, SPDFLUSH, SPDDELETE and per-socket policies, built and
//! parsed with the `pfkey` codec and checked through `ip xfrm policy`.

use std::net::UdpSocket;
use std::time::Duration;

use pfkey::policy::IpsecRequest;
use pfkey::sockpolicy::{Encoding, Family, SocketDirection, SocketPolicy, Template};
use pfkey::wire::{
    Direction, ExtType, Level, Mode, MsgType, PolicyType, SaState, SaType, IPPROTO_AH,
};
use pfkey_kernel_tests::socket::setsockopt_bytes;
use pfkey_kernel_tests::xfrm::entries;
use pfkey_kernel_tests::{
    build, capture_fixture, fresh_netns, header_only, parse, xfrm_policy, xfrm_state, PfKeySocket,
};

use crate::common::{
    addr, esp_request, ext_types, host, ipsec_policy, net, request_errno, request_ok, spd,
};

/// SPDADD of `src/32 -> dst/32`, any protocol, one ESP template.
fn spdadd_esp(
    seq: u32,
    src: &str,
    dst: &str,
    dir: Direction,
    level: Level,
    tunnel: Option<(&str, &str)>,
) -> Vec<u8> {
    spd(
        MsgType::XSpdAdd,
        seq,
        host(src),
        host(dst),
        &ipsec_policy(dir, vec![esp_request(level, 0, tunnel)]),
    )
}

#[test]
fn spdadd_transport_and_tunnel_policies_show_in_ip_xfrm_policy() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let transport = request_ok(
        &sock,
        &spdadd_esp(
            1,
            "192.0.2.1",
            "192.0.2.2",
            Direction::Out,
            Level::Require,
            None,
        ),
    );
    capture_fixture(
        "spdadd-transport-reply",
        &transport,
        "X_SPDADD 192.0.2.1/32->192.0.2.2/32 any proto, out, ipsec esp/transport//require, seq 1: the reply",
    );
    let tunnel = request_ok(
        &sock,
        &spdadd_esp(
            2,
            "10.1.0.0",
            "10.2.0.0",
            Direction::In,
            Level::Require,
            Some(("192.0.2.2", "192.0.2.1")),
        ),
    );
    capture_fixture(
        "spdadd-tunnel-reply",
        &tunnel,
        "X_SPDADD 10.1.0.0/32->10.2.0.0/32 any proto, in, ipsec esp/tunnel/192.0.2.2-192.0.2.1/require, seq 2: the reply",
    );
    let policies = xfrm_policy();
    assert!(
        policies.contains("src 192.0.2.1/32 dst 192.0.2.2/32"),
        "{policies}"
    );
    assert!(policies.contains("dir out priority"), "{policies}");
    assert!(
        policies.contains("tmpl src 192.0.2.2 dst 192.0.2.1"),
        "{policies}"
    );
    assert!(
        policies.contains("proto esp reqid 0 mode tunnel"),
        "{policies}"
    );

    assert_eq!(
        ext_types(&tunnel),
        [
            ExtType::AddressSrc,
            ExtType::AddressDst,
            ExtType::LifetimeHard,
            ExtType::LifetimeSoft,
            ExtType::LifetimeCurrent,
            ExtType::Policy
        ]
    );
    let m = parse(&tunnel);
    let p = m.policy().expect("policy");
    assert_eq!(
        (p.policy_type(), p.dir()),
        (PolicyType::Ipsec, Direction::In)
    );
    assert_eq!(p.id() & 7, 0, "policy id & 7 is the direction (in = 0)");
    let reqs: Vec<_> = p.requests().collect();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].mode(), Mode::Tunnel);
    assert_eq!(
        reqs[0].tunnel(),
        Some(((addr("192.0.2.2"), 0).into(), (addr("192.0.2.1"), 0).into()))
    );
    assert_eq!(
        parse(&transport).policy().expect("policy").id() & 7,
        1,
        "out = 1"
    );

    let dump = sock.dump(&header_only(MsgType::XSpdDump, SaType::Unspec, 3));
    let seqs: Vec<u32> = dump.iter().map(|m| parse(m).seq()).collect();
    assert_eq!(seqs, [1, 0]);
    // Newest first.
    let dirs: Vec<Direction> = dump
        .iter()
        .map(|m| parse(m).policy().expect("policy").dir())
        .collect();
    assert_eq!(dirs, [Direction::In, Direction::Out]);
}

/// Produces the `spddump-tunnel` fixture on a real kernel.
#[test]
fn spddump_of_a_two_template_tunnel_policy() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let policy = ipsec_policy(
        Direction::Out,
        vec![
            esp_request(Level::Unique, 9, Some(("192.0.2.1", "192.0.2.2"))),
            IpsecRequest {
                proto: IPPROTO_AH,
                mode: Mode::Transport,
                level: Level::Require,
                reqid: 0,
                tunnel: None,
            },
        ],
    );
    request_ok(
        &sock,
        &spd(
            MsgType::XSpdAdd,
            1,
            net("10.1.0.0", 16),
            net("10.2.0.0", 16),
            &policy,
        ),
    );
    let dump = sock.dump(&header_only(MsgType::XSpdDump, SaType::Unspec, 2));
    assert_eq!(dump.len(), 1);
    capture_fixture(
        "spddump-tunnel",
        &dump[0],
        "X_SPDDUMP seq 2, one policy: out 10.1.0.0/16->10.2.0.0/16 any proto, ipsec \
         esp/tunnel/192.0.2.1-192.0.2.2/unique:9 ah/transport//require: the only entry",
    );
    let m = parse(&dump[0]);
    assert_eq!(
        (m.msg_type(), m.seq(), m.satype()),
        (MsgType::XSpdDump, 0, SaType::Unspec)
    );
    assert!(m.reserved() > 0, "reserved carries the policy refcount");
    let p = m.policy().expect("policy");
    let reqs: Vec<(Mode, Level, u32)> = p
        .requests()
        .map(|r| (r.mode(), r.level(), r.reqid()))
        .collect();
    assert_eq!(
        reqs,
        [
            (Mode::Tunnel, Level::Unique, 9),
            (Mode::Transport, Level::Require, 0)
        ]
    );
    let policies = xfrm_policy();
    assert!(
        policies.contains("src 10.1.0.0/16 dst 10.2.0.0/16"),
        "{policies}"
    );
    assert!(
        policies.contains("proto esp reqid 9 mode tunnel"),
        "{policies}"
    );
    assert!(
        policies.contains("proto ah reqid 0 mode transport"),
        "{policies}"
    );
}

#[test]
fn spd_replies_carry_a_refcount_in_reserved() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let reply = request_ok(
        &sock,
        &spdadd_esp(
            1,
            "192.0.2.1",
            "192.0.2.2",
            Direction::Out,
            Level::Require,
            None,
        ),
    );
    let add_reserved = parse(&reply).reserved();
    let dump = sock.dump(&header_only(MsgType::XSpdDump, SaType::Unspec, 2));
    let dump_reserved = parse(&dump[0]).reserved();
    assert!(add_reserved > 0, "SPDADD reply reserved = {add_reserved}");
    assert!(
        dump_reserved > 0,
        "SPDDUMP entry reserved = {dump_reserved}"
    );
}

#[test]
fn spdflush_answers_twice_and_spddelete_of_a_missing_policy_is_enoent() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    request_ok(
        &sock,
        &spdadd_esp(
            1,
            "192.0.2.1",
            "192.0.2.2",
            Direction::Out,
            Level::Require,
            None,
        ),
    );
    sock.send(&header_only(MsgType::XSpdFlush, SaType::Unspec, 2));
    let replies = sock.drain(Duration::from_millis(300));
    assert_eq!(
        replies.len(),
        2,
        "SPDFLUSH of a non-empty SPD answers twice"
    );
    for (i, r) in replies.iter().enumerate() {
        let m = parse(r);
        assert_eq!(
            (m.msg_type(), m.seq(), m.errno()),
            (MsgType::XSpdFlush, 2, 0)
        );
        capture_fixture(
            &format!("spdflush-reply-{}", i + 1),
            r,
            &format!(
                "X_SPDFLUSH seq 2 with one policy installed: reply {} of 2",
                i + 1
            ),
        );
    }
    assert!(xfrm_policy().trim().is_empty());

    let del = spd(
        MsgType::XSpdDelete,
        3,
        host("192.0.2.1"),
        host("192.0.2.2"),
        &ipsec_policy(Direction::Out, vec![]),
    );
    assert_eq!(request_errno(&sock, &del), libc::ENOENT);
}

#[test]
fn optional_outbound_tunnel_template_is_refused() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let tunnel = Some(("192.0.2.1", "192.0.2.2"));
    let out = spdadd_esp(
        1,
        "10.1.0.0",
        "10.2.0.0",
        Direction::Out,
        Level::Use,
        tunnel,
    );
    assert_eq!(request_errno(&sock, &out), libc::EINVAL);
    let inbound = spdadd_esp(2, "10.2.0.0", "10.1.0.0", Direction::In, Level::Use, tunnel);
    request_ok(&sock, &inbound);
}

#[test]
fn unique_level_keeps_the_requested_reqid_and_require_forces_0() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    for (seq, level, src, want) in [
        (1, Level::Unique, "192.0.2.1", 77),
        (2, Level::Require, "192.0.2.3", 0),
    ] {
        let req = spd(
            MsgType::XSpdAdd,
            seq,
            host(src),
            host("192.0.2.2"),
            &ipsec_policy(Direction::Out, vec![esp_request(level, 77, None)]),
        );
        let reply = request_ok(&sock, &req);
        let m = parse(&reply);
        let reqid = m
            .policy()
            .expect("policy")
            .requests()
            .next()
            .expect("request")
            .reqid();
        assert_eq!(reqid, want, "{level:?}");
    }
}

/// Sets `policy` in both directions on `udp`, with `encoding`.
fn set_socket_policy(udp: &UdpSocket, policy: &SocketPolicy, encoding: Encoding) {
    for dir in [SocketDirection::In, SocketDirection::Out] {
        let (level, name, value) = policy
            .sockopt(Family::V4, dir, encoding)
            .unwrap_or_else(|e| panic!("encoding {policy:?}: {e}"));
        setsockopt_bytes(udp, level, name, &value)
            .unwrap_or_else(|e| panic!("setsockopt {encoding:?} {dir:?}: {e}"));
    }
}

#[test]
fn socket_bypass_policies_show_in_spddump_with_dir_4_and_5() {
    let _ns = fresh_netns();
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    set_socket_policy(&udp, &SocketPolicy::Bypass, Encoding::PfKey);
    let sock = PfKeySocket::open_or_panic();
    let dump = sock.dump(&header_only(MsgType::XSpdDump, SaType::Unspec, 1));
    let mut dirs: Vec<(Direction, u32)> = dump
        .iter()
        .map(|m| {
            let m = parse(m);
            let p = m.policy().expect("policy");
            // Installed as BYPASS, reported back as NONE.
            assert_eq!(p.policy_type(), PolicyType::None);
            (p.dir(), p.id() & 7)
        })
        .collect();
    dirs.sort_unstable_by_key(|d| d.1);
    assert_eq!(
        dirs,
        [(Direction::SocketIn, 3), (Direction::SocketOut, 4)],
        "(dir, id & 7) of the socket policies"
    );
    capture_fixture(
        "spddump-socket-policy",
        &dump[0],
        "X_SPDDUMP seq 1 with only two IP_IPSEC_POLICY bypass socket policies (in, out) on a UDP socket: first entry",
    );

    // SPDFLUSH leaves socket policies alone (the main SPD is empty: one reply).
    sock.send(&header_only(MsgType::XSpdFlush, SaType::Unspec, 2));
    assert_eq!(sock.drain(Duration::from_millis(300)).len(), 1);
    let again = sock.dump(&header_only(MsgType::XSpdDump, SaType::Unspec, 3));
    assert_eq!(again.len(), 2, "socket policies survive SPDFLUSH");
}

#[test]
fn socket_ipsec_policy_through_ip_xfrm_policy_encoding() {
    let _ns = fresh_netns();
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    let esp = SocketPolicy::Ipsec(vec![Template::transport(SaType::Esp)]);
    set_socket_policy(&udp, &esp, Encoding::Xfrm);
    let sock = PfKeySocket::open_or_panic();
    let dump = sock.dump(&header_only(MsgType::XSpdDump, SaType::Unspec, 1));
    assert_eq!(dump.len(), 2);
    for m in &dump {
        let m = parse(m);
        let p = m.policy().expect("policy");
        assert_eq!(p.policy_type(), PolicyType::Ipsec);
        assert!(matches!(
            p.dir(),
            Direction::SocketIn | Direction::SocketOut
        ));
        let reqs: Vec<_> = p
            .requests()
            .map(|r| (r.satype(), r.mode(), r.level()))
            .collect();
        assert_eq!(reqs, [(Some(SaType::Esp), Mode::Transport, Level::Require)]);
    }
}

#[test]
fn acquire_then_getspi_with_its_seq_fills_the_larval_state() {
    let ns = fresh_netns();
    ns.ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"])
        .expect_ok();
    ns.ip(&["addr", "add", "10.0.0.1/24", "dev", "va"])
        .expect_ok();
    ns.ip(&["link", "set", "va", "up"]).expect_ok();
    ns.ip(&["link", "set", "vb", "up"]).expect_ok();
    let km = PfKeySocket::open_or_panic();
    request_ok(&km, &header_only(MsgType::Register, SaType::Esp, 1));
    request_ok(
        &km,
        &spdadd_esp(
            2,
            "10.0.0.1",
            "10.0.0.2",
            Direction::Out,
            Level::Require,
            None,
        ),
    );
    let udp = UdpSocket::bind("10.0.0.1:0").expect("udp socket");
    // The packet waits for an SA (or is dropped): only the ACQUIRE matters.
    let _ = udp.send_to(b"acquire", "10.0.0.2:9");
    let acquire = loop {
        let m = km.recv();
        if parse(&m).msg_type() == MsgType::Acquire {
            break m;
        }
    };
    capture_fixture(
        "acquire",
        &acquire,
        "kernel ACQUIRE after a UDP packet 10.0.0.1->10.0.0.2:9 hit an out policy \
         esp/transport//require (10.0.0.1/32->10.0.0.2/32 any), socket registered for ESP",
    );
    let a = parse(&acquire);
    assert_eq!((a.satype(), a.pid()), (SaType::Esp, 0));
    assert_ne!(a.seq(), 0);
    assert_eq!(
        ext_types(&acquire),
        [
            ExtType::AddressSrc,
            ExtType::AddressDst,
            ExtType::Policy,
            ExtType::Proposal
        ]
    );
    assert_eq!(a.policy().expect("policy").dir(), Direction::Out);
    // Templates from PF_KEY leave the algorithm masks empty (all algorithms allowed through
    // another flag), so the proposal lists no combination; the policy carries no template.
    let proposal = a.proposal().expect("proposal");
    assert_eq!((proposal.header().replay, proposal.combs().len()), (32, 0));
    assert_eq!(a.policy().expect("policy").requests().count(), 0);
    assert_eq!(entries(&xfrm_state()).len(), 1, "one larval state");

    let getspi = build(MsgType::GetSpi, SaType::Esp, a.seq(), |b| {
        b.address(ExtType::AddressSrc, &host("10.0.0.1"))?
            .address(ExtType::AddressDst, &host("10.0.0.2"))?;
        Ok(())
    });
    let reply = request_ok(&km, &getspi);
    capture_fixture(
        "getspi-reply",
        &reply,
        "GETSPI ESP 10.0.0.1->10.0.0.2 with the ACQUIRE's seq, default SPI range: the reply",
    );
    let sa = parse(&reply).sa().copied().expect("SA");
    assert_eq!(sa.state, SaState::Larval.value());
    let spi = sa.spi.get();
    assert!((0x100..=0x0fff_ffff).contains(&spi), "spi {spi:#x}");
    let states = entries(&xfrm_state());
    assert_eq!(
        states.len(),
        1,
        "GETSPI reused the larval state:\n{states:#?}"
    );
    assert!(
        states[0].contains(&format!("spi 0x{spi:08x}")),
        "{}",
        states[0]
    );
}

#[test]
fn acquire_for_a_netlink_policy_proposes_combinations() {
    let ns = fresh_netns();
    ns.ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"])
        .expect_ok();
    ns.ip(&["addr", "add", "10.0.0.1/24", "dev", "va"])
        .expect_ok();
    ns.ip(&["link", "set", "va", "up"]).expect_ok();
    ns.ip(&["link", "set", "vb", "up"]).expect_ok();
    let km = PfKeySocket::open_or_panic();
    request_ok(&km, &header_only(MsgType::Register, SaType::Esp, 1));
    ns.ip(&[
        "xfrm",
        "policy",
        "add",
        "src",
        "10.0.0.1",
        "dst",
        "10.0.0.3",
        "dir",
        "out",
        "tmpl",
        "proto",
        "esp",
        "mode",
        "transport",
    ])
    .expect_ok();
    let udp = UdpSocket::bind("10.0.0.1:0").expect("udp socket");
    let _ = udp.send_to(b"acquire", "10.0.0.3:9");
    let acquire = loop {
        let m = km.recv();
        if parse(&m).msg_type() == MsgType::Acquire {
            break m;
        }
    };
    capture_fixture(
        "acquire-netlink-policy",
        &acquire,
        "kernel ACQUIRE after a UDP packet 10.0.0.1->10.0.0.3:9 hit `ip xfrm policy add src 10.0.0.1 \
         dst 10.0.0.3 dir out tmpl proto esp mode transport`, socket registered for ESP",
    );
    let a = parse(&acquire);
    let combs = a.proposal().expect("proposal").combs();
    assert!(
        !combs.is_empty(),
        "ip xfrm templates allow every algorithm by mask"
    );
    // Only ids below 32 fit the masks: no NULL auth (251), no serpent/twofish (252/253).
    assert!(
        combs.iter().all(|c| c.auth < 32 && c.encrypt < 32),
        "{combs:?}"
    );
    assert!(
        combs.iter().any(|c| c.auth == 3 && c.encrypt == 12),
        "hmac-sha1 + aes-cbc"
    );
}
