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
