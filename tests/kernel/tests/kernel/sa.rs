//! Security associations: REGISTER, ADD, GET, DUMP, FLUSH against the real kernel, checked
//! through `ip xfrm state`.

use pfkey_kernel_tests::raw::{alg, ext, ipsec, msg, satype, Builder, Header, Parsed};
use pfkey_kernel_tests::xfrm::state_with_spi;
use pfkey_kernel_tests::{capture_fixture, fresh_netns, xfrm_state, PfKeySocket};

use crate::common::{add_esp, addr, request_ok, AUTH_KEY, ENC_KEY};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn socket_opens_in_a_fresh_namespace() {
    let _ns = fresh_netns();
    let _sock = PfKeySocket::open_or_panic();
    let pfkey = std::fs::read_to_string("/proc/thread-self/net/pfkey").expect("/proc/net/pfkey");
    // Header line plus one line per open socket in this namespace: ours.
    assert_eq!(pfkey.lines().count(), 2, "/proc/net/pfkey:\n{pfkey}");
}

#[test]
fn register_esp_lists_supported_algorithms() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let req = Builder::new(msg::REGISTER, satype::ESP, 1).finish();
    let reply = request_ok(&sock, &req);
    capture_fixture(
        "register_esp_reply",
        &reply,
        "REGISTER satype ESP (header only), seq 1: the kernel's reply",
    );
    let p = Parsed::new(&reply);
    assert_eq!(p.header.satype, satype::ESP);
    assert_eq!(p.ext_types(), [ext::SUPPORTED_AUTH, ext::SUPPORTED_ENCRYPT]);
    let auth: Vec<u8> = p
        .supported(ext::SUPPORTED_AUTH)
        .iter()
        .map(|a| a.0)
        .collect();
    let enc: Vec<u8> = p
        .supported(ext::SUPPORTED_ENCRYPT)
        .iter()
        .map(|a| a.0)
        .collect();
    assert_eq!(auth, [251, 2, 3, 5, 6, 7, 8, 9], "auth algorithms");
    assert_eq!(
        enc,
        [11, 2, 3, 6, 7, 12, 252, 22, 253, 13],
        "encryption algorithms"
    );
    // AES-CBC: 128..256 bits; HMAC-SHA1: 160 bits.
    assert!(p
        .supported(ext::SUPPORTED_ENCRYPT)
        .contains(&(alg::EALG_AESCBC, 128, 256)));
    assert!(p
        .supported(ext::SUPPORTED_AUTH)
        .contains(&(alg::AALG_SHA1HMAC, 160, 160)));
}

#[test]
fn add_esp_sa_is_visible_in_ip_xfrm_state() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let reply = request_ok(&sock, &add_esp(7, 0x1000, "192.0.2.1", "192.0.2.2", 5));
    capture_fixture(
        "add_esp_reply",
        &reply,
        "ADD ESP spi 0x1000 192.0.2.1->192.0.2.2 aes-cbc-128 + hmac-sha1 transport reqid 5, \
         hard/soft addtime 3600/3000, seq 7: the kernel's reply (broadcast, keys included)",
    );
    let state = state_with_spi(0x1000).unwrap_or_else(|| panic!("SA missing:\n{}", xfrm_state()));
    assert!(state.contains("src 192.0.2.1 dst 192.0.2.2"), "{state}");
    assert!(
        state.contains("proto esp spi 0x00001000 reqid 5 mode transport"),
        "{state}"
    );
    assert!(state.contains("replay-window 32"), "{state}");
    assert!(
        state.contains(&format!("auth-trunc hmac(sha1) 0x{} 96", hex(&AUTH_KEY))),
        "{state}"
    );
    assert!(
        state.contains(&format!("enc cbc(aes) 0x{}", hex(&ENC_KEY))),
        "{state}"
    );

    let p = Parsed::new(&reply);
    assert_eq!(
        p.ext_types(),
        [
            ext::SA,
            ext::LIFETIME_HARD,
            ext::LIFETIME_SOFT,
            ext::LIFETIME_CURRENT,
            ext::ADDRESS_SRC,
            ext::ADDRESS_DST,
            ext::ADDRESS_PROXY,
            ext::KEY_AUTH,
            ext::KEY_ENCRYPT,
            ext::X_SA2
        ],
        "ADD reply extension order"
    );
    assert_eq!(reply.len(), 272);
    assert_eq!(p.header.msg_type, msg::ADD);
    assert_eq!(p.header.seq, 7);
    assert_eq!(p.header.pid, std::process::id());
    assert_eq!(
        p.key(ext::KEY_ENCRYPT),
        Some((128, &ENC_KEY[..])),
        "ADD reply carries keys"
    );
}

#[test]
fn get_and_dump_return_the_sa() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    request_ok(&sock, &add_esp(1, 0x2000, "192.0.2.1", "192.0.2.2", 9));

    let get = Builder::new(msg::GET, satype::ESP, 2)
        .sa(0x2000, 0, 0, 0)
        .address(ext::ADDRESS_SRC, addr("192.0.2.1"))
        .address(ext::ADDRESS_DST, addr("192.0.2.2"))
        .finish();
    let reply = request_ok(&sock, &get);
    capture_fixture(
        "get_esp_reply",
        &reply,
        "GET ESP spi 0x2000 192.0.2.1->192.0.2.2 (SA added as aes-cbc-128 + hmac-sha1 transport reqid 9), seq 2",
    );

    let dump = sock.dump(&Builder::new(msg::DUMP, satype::ESP, 3).finish());
    assert_eq!(dump.len(), 1, "one SA, one dump message");
    capture_fixture(
        "dump_esp_entry",
        &dump[0],
        "DUMP ESP, seq 3, one SA (aes-cbc-128 + hmac-sha1 transport reqid 9, hard/soft addtime 3600/3000): the only entry",
    );

    for m in [&reply, &dump[0]] {
        let p = Parsed::new(m);
        let sa = p.sa().expect("SA extension");
        assert_eq!(sa.spi, 0x2000);
        assert_eq!(
            (sa.auth, sa.encrypt),
            (alg::AALG_SHA1HMAC, alg::EALG_AESCBC)
        );
        assert_eq!(sa.replay, 32);
        assert_eq!(sa.state, 1, "MATURE");
        assert_eq!(p.key(ext::KEY_ENCRYPT), Some((128, &ENC_KEY[..])));
        assert_eq!(p.key(ext::KEY_AUTH), Some((160, &AUTH_KEY[..])));
        assert_eq!(
            p.address(ext::ADDRESS_SRC),
            Some((0, 32, addr("192.0.2.1")))
        );
        assert_eq!(
            p.address(ext::ADDRESS_DST),
            Some((0, 32, addr("192.0.2.2")))
        );
        // No PROXY was sent: the selector is 0.0.0.0/0, any protocol, and differs from SRC.
        assert_eq!(
            p.address(ext::ADDRESS_PROXY),
            Some((255, 0, addr("0.0.0.0")))
        );
        assert_eq!(p.sa2(), Some((ipsec::MODE_TRANSPORT, 9)));
        let hard = p.lifetime(ext::LIFETIME_HARD).expect("hard lifetime");
        assert_eq!(hard.2, 3600);
        let soft = p.lifetime(ext::LIFETIME_SOFT).expect("soft lifetime");
        assert_eq!(soft.2, 3000);
        let current = p.lifetime(ext::LIFETIME_CURRENT).expect("current lifetime");
        assert!(
            current.2 > 1_500_000_000,
            "addtime is the creation time: {current:?}"
        );
    }
    let d = Parsed::new(&dump[0]);
    assert_eq!(d.header.msg_type, msg::DUMP);
    assert_eq!(d.header.seq, 0, "the last dump entry has seq 0");
}

#[test]
fn add_ipv6_esp_sa() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let reply = request_ok(&sock, &add_esp(4, 0x3000, "2001:db8::1", "2001:db8::2", 0));
    capture_fixture(
        "add_esp_ipv6_reply",
        &reply,
        "ADD ESP spi 0x3000 2001:db8::1->2001:db8::2 aes-cbc-128 + hmac-sha1 transport, seq 4: the kernel's reply",
    );
    let p = Parsed::new(&reply);
    assert_eq!(
        p.address(ext::ADDRESS_DST),
        Some((0, 128, addr("2001:db8::2")))
    );
    let state = state_with_spi(0x3000).unwrap_or_else(|| panic!("SA missing:\n{}", xfrm_state()));
    assert!(state.contains("src 2001:db8::1 dst 2001:db8::2"), "{state}");
}

#[test]
fn flush_removes_every_sa() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    for (i, spi) in [0x4001u32, 0x4002].into_iter().enumerate() {
        request_ok(
            &sock,
            &add_esp(i as u32 + 1, spi, "192.0.2.1", "192.0.2.2", 0),
        );
    }
    let flush = Builder::new(msg::FLUSH, satype::UNSPEC, 10).finish();
    sock.send(&flush);
    let replies = sock.drain(std::time::Duration::from_millis(500));
    assert!(
        xfrm_state().trim().is_empty(),
        "state left:\n{}",
        xfrm_state()
    );
    assert_eq!(replies.len(), 2, "FLUSH of a non-empty table answers twice");
    for (i, r) in replies.iter().enumerate() {
        let h = Header::parse(r);
        assert_eq!((h.msg_type, h.seq, h.errno, h.len), (msg::FLUSH, 10, 0, 2));
        capture_fixture(
            &format!("flush_reply_{}", i + 1),
            r,
            &format!(
                "FLUSH satype UNSPEC, seq 10, two ESP SAs installed: reply {} of 2",
                i + 1
            ),
        );
    }
}
