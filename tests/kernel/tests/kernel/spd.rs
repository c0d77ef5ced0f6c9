//! Security policies: SPDADD, SPDDUMP, SPDFLUSH, SPDDELETE, checked through `ip xfrm policy`.

use std::time::Duration;

use pfkey_kernel_tests::raw::{ext, ipsec, msg, satype, Builder, Header, Parsed};
use pfkey_kernel_tests::{capture_fixture, fresh_netns, xfrm_policy, PfKeySocket};

use crate::common::{addr, request_errno, request_ok};

/// SPDADD: `src/32 -> dst/32` any protocol, IPSEC with one ESP template.
fn spdadd(
    seq: u32,
    src: &str,
    dst: &str,
    dir: u8,
    level: u8,
    tunnel: Option<(&str, &str)>,
) -> Vec<u8> {
    let prefix = if src.contains(':') { 128 } else { 32 };
    Builder::new(msg::X_SPDADD, satype::UNSPEC, seq)
        .address_prefix(ext::ADDRESS_SRC, addr(src), prefix, ipsec::PROTO_ANY)
        .address_prefix(ext::ADDRESS_DST, addr(dst), prefix, ipsec::PROTO_ANY)
        .policy_esp(dir, level, 0, tunnel.map(|(s, d)| (addr(s), addr(d))))
        .finish()
}

#[test]
fn spdadd_transport_and_tunnel_policies_show_in_ip_xfrm_policy() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let transport = request_ok(
        &sock,
        &spdadd(
            1,
            "192.0.2.1",
            "192.0.2.2",
            ipsec::DIR_OUTBOUND,
            ipsec::LEVEL_REQUIRE,
            None,
        ),
    );
    capture_fixture(
        "spdadd_transport_reply",
        &transport,
        "X_SPDADD 192.0.2.1/32->192.0.2.2/32 any proto, out, IPSEC esp/transport//require, seq 1",
    );
    let tunnel = request_ok(
        &sock,
        &spdadd(
            2,
            "10.1.0.0",
            "10.2.0.0",
            ipsec::DIR_INBOUND,
            ipsec::LEVEL_REQUIRE,
            Some(("192.0.2.2", "192.0.2.1")),
        ),
    );
    capture_fixture(
        "spdadd_tunnel_reply",
        &tunnel,
        "X_SPDADD 10.1.0.0/32->10.2.0.0/32 any proto, in, IPSEC esp/tunnel/192.0.2.2-192.0.2.1/require, seq 2",
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

    let t = Parsed::new(&tunnel);
    assert_eq!(t.ext_types()[..2], [ext::ADDRESS_SRC, ext::ADDRESS_DST]);
    let (ptype, dir, id, _prio, reqs) = t.policy().expect("policy");
    assert_eq!((ptype, dir), (ipsec::POLICY_IPSEC, ipsec::DIR_INBOUND));
    assert_eq!(id & 7, 0, "policy id & 7 is the direction (in = 0)");
    assert_eq!(reqs.len(), 16 + 32, "one IPv4 tunnel request");
    assert_eq!(reqs[4], ipsec::MODE_TUNNEL);

    let dump = sock.dump(&Builder::new(msg::X_SPDDUMP, satype::UNSPEC, 3).finish());
    assert_eq!(dump.len(), 2);
    for (i, m) in dump.iter().enumerate() {
        capture_fixture(
            &format!("spddump_entry_{}", i + 1),
            m,
            &format!(
                "X_SPDDUMP seq 3 with two policies (the transport out and tunnel in above): entry {} of 2",
                i + 1
            ),
        );
    }
    let seqs: Vec<u32> = dump.iter().map(|m| Header::parse(m).seq).collect();
    assert_eq!(seqs, [1, 0]);
}

#[test]
fn spd_replies_carry_a_refcount_in_reserved() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let reply = request_ok(
        &sock,
        &spdadd(
            1,
            "192.0.2.1",
            "192.0.2.2",
            ipsec::DIR_OUTBOUND,
            ipsec::LEVEL_REQUIRE,
            None,
        ),
    );
    let add_reserved = Header::parse(&reply).reserved;
    let dump = sock.dump(&Builder::new(msg::X_SPDDUMP, satype::UNSPEC, 2).finish());
    let dump_reserved = Header::parse(&dump[0]).reserved;
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
        &spdadd(
            1,
            "192.0.2.1",
            "192.0.2.2",
            ipsec::DIR_OUTBOUND,
            ipsec::LEVEL_REQUIRE,
            None,
        ),
    );
    sock.send(&Builder::new(msg::X_SPDFLUSH, satype::UNSPEC, 2).finish());
    let replies = sock.drain(Duration::from_millis(300));
    assert_eq!(
        replies.len(),
        2,
        "SPDFLUSH of a non-empty SPD answers twice"
    );
    for (i, r) in replies.iter().enumerate() {
        let h = Header::parse(r);
        assert_eq!((h.msg_type, h.seq, h.errno), (msg::X_SPDFLUSH, 2, 0));
        capture_fixture(
            &format!("spdflush_reply_{}", i + 1),
            r,
            &format!(
                "X_SPDFLUSH seq 2 with one policy installed: reply {} of 2",
                i + 1
            ),
        );
    }
    assert!(xfrm_policy().trim().is_empty());

    let mut del = spdadd(
        3,
        "192.0.2.1",
        "192.0.2.2",
        ipsec::DIR_OUTBOUND,
        ipsec::LEVEL_REQUIRE,
        None,
    );
    del[1] = msg::X_SPDDELETE;
    assert_eq!(request_errno(&sock, &del), libc::ENOENT);
}

#[test]
fn optional_outbound_tunnel_template_is_refused() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let tunnel = Some(("192.0.2.1", "192.0.2.2"));
    let out = spdadd(
        1,
        "10.1.0.0",
        "10.2.0.0",
        ipsec::DIR_OUTBOUND,
        ipsec::LEVEL_USE,
        tunnel,
    );
    assert_eq!(request_errno(&sock, &out), libc::EINVAL);
    let inbound = spdadd(
        2,
        "10.2.0.0",
        "10.1.0.0",
        ipsec::DIR_INBOUND,
        ipsec::LEVEL_USE,
        tunnel,
    );
    request_ok(&sock, &inbound);
}

#[test]
fn unique_level_keeps_the_requested_reqid_and_require_forces_0() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    for (seq, level, src) in [
        (1, ipsec::LEVEL_UNIQUE, "192.0.2.1"),
        (2, ipsec::LEVEL_REQUIRE, "192.0.2.3"),
    ] {
        let req = Builder::new(msg::X_SPDADD, satype::UNSPEC, seq)
            .address_prefix(ext::ADDRESS_SRC, addr(src), 32, ipsec::PROTO_ANY)
            .address_prefix(ext::ADDRESS_DST, addr("192.0.2.2"), 32, ipsec::PROTO_ANY)
            .policy_esp(ipsec::DIR_OUTBOUND, level, 77, None)
            .finish();
        let reply = request_ok(&sock, &req);
        let (_, _, _, _, reqs) = Parsed::new(&reply).policy().expect("policy");
        let reqid = u32::from_ne_bytes(reqs[8..12].try_into().expect("reqid"));
        let want = if level == ipsec::LEVEL_UNIQUE { 77 } else { 0 };
        assert_eq!(reqid, want, "level {level}");
    }
}

/// A `sadb_x_policy` blob for `IP_IPSEC_POLICY`: bypass in direction `dir`.
fn bypass_blob(dir: u8) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0..2].copy_from_slice(&2u16.to_ne_bytes());
    b[2..4].copy_from_slice(&ext::X_POLICY.to_ne_bytes());
    b[4..6].copy_from_slice(&ipsec::POLICY_BYPASS.to_ne_bytes());
    b[6] = dir;
    b
}

#[test]
fn socket_bypass_policies_show_in_spddump_with_dir_4_and_5() {
    let _ns = fresh_netns();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    for dir in [ipsec::DIR_INBOUND, ipsec::DIR_OUTBOUND] {
        let blob = bypass_blob(dir);
        // SAFETY: `blob` outlives the call and its length is passed with it; the descriptor is
        // open for the duration of the call.
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&udp),
                libc::IPPROTO_IP,
                libc::IP_IPSEC_POLICY,
                blob.as_ptr().cast(),
                blob.len() as libc::socklen_t,
            )
        };
        assert_eq!(
            rc,
            0,
            "IP_IPSEC_POLICY dir {dir}: {}",
            std::io::Error::last_os_error()
        );
    }
    let sock = PfKeySocket::open_or_panic();
    let dump = sock.dump(&Builder::new(msg::X_SPDDUMP, satype::UNSPEC, 1).finish());
    let mut dirs: Vec<(u8, u32)> = dump
        .iter()
        .map(|m| {
            let (ptype, dir, id, _, _) = Parsed::new(m).policy().expect("policy");
            // Installed as BYPASS, reported back as NONE.
            assert_eq!(ptype, ipsec::POLICY_NONE);
            (dir, id & 7)
        })
        .collect();
    dirs.sort_unstable();
    assert_eq!(
        dirs,
        [(4, 3), (5, 4)],
        "(dir, id & 7) of the socket policies"
    );
    capture_fixture("spddump_socket_policy_entry", &dump[0], "X_SPDDUMP seq 1 with only two IP_IPSEC_POLICY bypass socket policies (in, out) on a UDP socket: first entry");

    // SPDFLUSH leaves socket policies alone (an empty main SPD: one reply).
    sock.send(&Builder::new(msg::X_SPDFLUSH, satype::UNSPEC, 2).finish());
    assert_eq!(sock.drain(Duration::from_millis(300)).len(), 1);
    let again = sock.dump(&Builder::new(msg::X_SPDDUMP, satype::UNSPEC, 3).finish());
    assert_eq!(again.len(), 2, "socket policies survive SPDFLUSH");
}

#[test]
fn acquire_then_getspi_with_its_seq_fills_the_larval_state() {
    let ns = fresh_netns();
    ns.ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"])
        .expect_ok();
    ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "va"])
        .expect_ok();
    ns.ip(&["link", "set", "va", "up"]).expect_ok();
    ns.ip(&["link", "set", "vb", "up"]).expect_ok();
    let km = PfKeySocket::open_or_panic();
    request_ok(&km, &Builder::new(msg::REGISTER, satype::ESP, 1).finish());
    request_ok(
        &km,
        &spdadd(
            2,
            "192.0.2.1",
            "192.0.2.2",
            ipsec::DIR_OUTBOUND,
            ipsec::LEVEL_REQUIRE,
            None,
        ),
    );
    let udp = std::net::UdpSocket::bind("192.0.2.1:0").expect("udp socket");
    // The packet waits for an SA (or is dropped): only the ACQUIRE matters.
    let _ = udp.send_to(b"acquire", "192.0.2.2:9");
    let acquire = loop {
        let m = km.recv();
        if Header::parse(&m).msg_type == msg::ACQUIRE {
            break m;
        }
    };
    capture_fixture(
        "acquire_esp",
        &acquire,
        "kernel ACQUIRE after a UDP packet 192.0.2.1->192.0.2.2 hit an out policy esp/transport//require, \
         socket registered for ESP",
    );
    let a = Parsed::new(&acquire);
    assert_eq!((a.header.satype, a.header.pid), (satype::ESP, 0));
    assert_ne!(a.header.seq, 0);
    assert_eq!(
        a.ext_types(),
        [
            ext::ADDRESS_SRC,
            ext::ADDRESS_DST,
            ext::X_POLICY,
            ext::PROPOSAL
        ]
    );
    assert_eq!(a.policy().expect("policy").1, ipsec::DIR_OUTBOUND);
    assert_eq!(
        pfkey_kernel_tests::xfrm::entries(&pfkey_kernel_tests::xfrm_state()).len(),
        1,
        "one larval state"
    );

    let getspi = Builder::new(msg::GETSPI, satype::ESP, a.header.seq)
        .address(ext::ADDRESS_SRC, addr("192.0.2.1"))
        .address(ext::ADDRESS_DST, addr("192.0.2.2"))
        .finish();
    let reply = request_ok(&km, &getspi);
    capture_fixture(
        "getspi_reply",
        &reply,
        "GETSPI ESP 192.0.2.1->192.0.2.2 with the ACQUIRE's seq, default SPI range: the reply",
    );
    let sa = Parsed::new(&reply).sa().expect("SA");
    assert_eq!(sa.state, 0, "LARVAL");
    assert!((0x100..=0x0fff_ffff).contains(&sa.spi), "spi {:#x}", sa.spi);
    let states = pfkey_kernel_tests::xfrm::entries(&pfkey_kernel_tests::xfrm_state());
    assert_eq!(
        states.len(),
        1,
        "GETSPI reused the larval state:\n{states:#?}"
    );
    assert!(
        states[0].contains(&format!("spi 0x{:08x}", sa.spi)),
        "{}",
        states[0]
    );
}
