//! Security associations: REGISTER, ADD, GET, DUMP, FLUSH against the real kernel, built and
//! parsed with the `pfkey` codec and checked through `ip xfrm state`.

use std::time::Duration;

use pfkey::alg::{SADB_AALG_SHA1HMAC, SADB_X_AALG_SHA2_256HMAC, SADB_X_EALG_AESCBC};
use pfkey::repr::{Address, Sa, Sa2};
use pfkey::wire::{ExtType, Mode, MsgType, SaState, SaType};
use pfkey_kernel_tests::xfrm::state_with_spi;
use pfkey_kernel_tests::{
    build, capture_fixture, fresh_netns, header_only, parse, xfrm_state, PfKeySocket,
};

use crate::common::{
    add_esp, addr, addtime, ext_types, host, request_ok, sa_by_spi, AUTH_KEY, ENC_KEY,
};

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
    let reply = request_ok(&sock, &header_only(MsgType::Register, SaType::Esp, 1));
    capture_fixture(
        "register-esp-reply",
        &reply,
        "REGISTER satype ESP (header only), seq 1: the kernel's reply",
    );
    let m = parse(&reply);
    assert_eq!(m.satype(), SaType::Esp);
    assert_eq!(
        ext_types(&reply),
        [ExtType::SupportedAuth, ExtType::SupportedEncrypt]
    );
    let auth = m.supported_auth().expect("SUPPORTED_AUTH").algs();
    let enc = m.supported_encrypt().expect("SUPPORTED_ENCRYPT").algs();
    let ids = |algs: &[pfkey::wire::SadbAlg]| algs.iter().map(|a| a.id).collect::<Vec<u8>>();
    assert_eq!(ids(auth), [251, 2, 3, 5, 6, 7, 8, 9], "auth algorithms");
    assert_eq!(
        ids(enc),
        [11, 2, 3, 6, 7, 12, 252, 22, 253, 13],
        "encryption algorithms"
    );
    let bits = |algs: &[pfkey::wire::SadbAlg], id| {
        algs.iter()
            .find(|a| a.id == id)
            .map(|a| (a.minbits.get(), a.maxbits.get()))
    };
    assert_eq!(bits(enc, SADB_X_EALG_AESCBC), Some((128, 256)));
    assert_eq!(bits(auth, SADB_AALG_SHA1HMAC), Some((160, 160)));
}

#[test]
fn add_esp_sa_is_visible_in_ip_xfrm_state() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let reply = request_ok(&sock, &add_esp(7, 0x1000, "192.0.2.1", "192.0.2.2", 5));
    capture_fixture(
        "add-esp-reply",
        &reply,
        "ADD ESP spi 0x1000 192.0.2.1->192.0.2.2 aes-cbc-128 + hmac-sha1 transport reqid 5, \
         hard/soft addtime 3600/3000, no PROXY, seq 7: the kernel's reply (broadcast, keys included)",
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

    assert_eq!(
        ext_types(&reply),
        [
            ExtType::Sa,
            ExtType::LifetimeHard,
            ExtType::LifetimeSoft,
            ExtType::LifetimeCurrent,
            ExtType::AddressSrc,
            ExtType::AddressDst,
            ExtType::AddressProxy,
            ExtType::KeyAuth,
            ExtType::KeyEncrypt,
            ExtType::Sa2
        ],
        "ADD reply extension order"
    );
    assert_eq!(reply.len(), 272);
    let m = parse(&reply);
    assert_eq!(
        (m.msg_type(), m.seq(), m.pid()),
        (MsgType::Add, 7, std::process::id())
    );
    let key = m.key_encrypt().expect("ADD reply carries keys");
    assert_eq!((key.bits(), key.bytes()), (128, &ENC_KEY[..]));
}

#[test]
fn get_and_dump_return_the_sa() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    request_ok(&sock, &add_esp(1, 0x2000, "192.0.2.1", "192.0.2.2", 9));

    let reply = request_ok(
        &sock,
        &sa_by_spi(MsgType::Get, 2, 0x2000, "192.0.2.1", "192.0.2.2"),
    );
    capture_fixture(
        "get-esp-sa",
        &reply,
        "GET ESP spi 0x2000 192.0.2.1->192.0.2.2, seq 2 (SA added as aes-cbc-128 + hmac-sha1 transport \
         reqid 9, hard/soft addtime 3600/3000, no PROXY)",
    );
    let dump = sock.dump(&header_only(MsgType::Dump, SaType::Esp, 3));
    assert_eq!(dump.len(), 1, "one SA, one dump message");
    capture_fixture(
        "dump-esp-sa-proxy",
        &dump[0],
        "DUMP ESP, seq 3, one SA (aes-cbc-128 + hmac-sha1 transport reqid 9, hard/soft addtime \
         3600/3000, added without PROXY: the kernel adds PROXY 0.0.0.0/0): the only entry",
    );

    for msg in [&reply, &dump[0]] {
        let m = parse(msg);
        let sa = Sa::from_wire(m.sa().expect("SA extension"));
        assert_eq!(sa.spi, 0x2000);
        assert_eq!(
            (sa.auth, sa.encrypt),
            (SADB_AALG_SHA1HMAC, SADB_X_EALG_AESCBC)
        );
        assert_eq!(sa.replay, 32);
        assert_eq!(sa.state, SaState::Mature);
        let ka = m.key_auth().expect("KEY_AUTH");
        let ke = m.key_encrypt().expect("KEY_ENCRYPT");
        assert_eq!((ka.bits(), ka.bytes()), (160, &AUTH_KEY[..]));
        assert_eq!((ke.bits(), ke.bytes()), (128, &ENC_KEY[..]));
        let a = |v: pfkey::message::AddressView<'_>| Address::from_view(&v);
        let src = a(m.src().expect("SRC"));
        assert_eq!(
            (src.proto, src.prefix_len, src.addr.ip()),
            (0, 32, addr("192.0.2.1"))
        );
        let dst = a(m.dst().expect("DST"));
        assert_eq!(
            (dst.proto, dst.prefix_len, dst.addr.ip()),
            (0, 32, addr("192.0.2.2"))
        );
        // No PROXY was sent: the selector is 0.0.0.0/0, any protocol, and differs from SRC.
        let proxy = a(m.proxy().expect("PROXY"));
        assert_eq!(
            (proxy.proto, proxy.prefix_len, proxy.addr.ip()),
            (255, 0, addr("0.0.0.0"))
        );
        let sa2 = Sa2::from_wire(m.sa2().expect("SA2"));
        assert_eq!((sa2.mode, sa2.reqid), (Mode::Transport, 9));
        assert_eq!(m.lifetime_hard().expect("HARD").addtime.get(), 3600);
        assert_eq!(m.lifetime_soft().expect("SOFT").addtime.get(), 3000);
        let current = m.lifetime_current().expect("CURRENT").addtime.get();
        assert!(
            current > 1_500_000_000,
            "CURRENT addtime is the creation time: {current}"
        );
    }
    let d = parse(&dump[0]);
    assert_eq!(d.msg_type(), MsgType::Dump);
    assert_eq!(d.seq(), 0, "the last dump entry has seq 0");
}

/// Produces the `dump-esp-sa` fixture on a real kernel: tunnel ESP,
/// HMAC-SHA-256 + AES-CBC-256, three lifetimes, two addresses, SA2, 272 bytes. A PROXY equal
/// to SRC keeps the kernel from adding one.
#[test]
fn dump_of_a_tunnel_sha256_aes256_sa_is_272_bytes() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let auth_key: Vec<u8> = (0x20..0x40).collect();
    let enc_key: Vec<u8> = (0x40..0x60).collect();
    let add = build(MsgType::Add, SaType::Esp, 1, |b| {
        b.sa(&Sa {
            spi: 0x1000,
            replay: 32,
            auth: SADB_X_AALG_SHA2_256HMAC,
            encrypt: SADB_X_EALG_AESCBC,
            ..Sa::default()
        })?
        .lifetime(ExtType::LifetimeHard, &addtime(3600))?
        .lifetime(ExtType::LifetimeSoft, &addtime(2880))?
        .address(ExtType::AddressSrc, &host("10.0.0.1"))?
        .address(ExtType::AddressDst, &host("10.0.0.2"))?
        .address(ExtType::AddressProxy, &host("10.0.0.1"))?
        .key(ExtType::KeyAuth, 256, &auth_key)?
        .key(ExtType::KeyEncrypt, 256, &enc_key)?
        .sa2(&Sa2 {
            mode: Mode::Tunnel,
            sequence: 0,
            reqid: 7,
        })?;
        Ok(())
    });
    request_ok(&sock, &add);
    let dump = sock.dump(&header_only(MsgType::Dump, SaType::Esp, 2));
    assert_eq!(dump.len(), 1);
    capture_fixture(
        "dump-esp-sa",
        &dump[0],
        "DUMP ESP, seq 2, one SA: spi 0x1000 10.0.0.1->10.0.0.2 hmac-sha256 (key 20..3f) + \
         aes-cbc-256 (key 40..5f), tunnel reqid 7, replay 32, hard/soft addtime 3600/2880, \
         added with PROXY = SRC: the only entry",
    );
    assert_eq!(dump[0].len(), 272);
    assert_eq!(
        ext_types(&dump[0]),
        [
            ExtType::Sa,
            ExtType::LifetimeHard,
            ExtType::LifetimeSoft,
            ExtType::LifetimeCurrent,
            ExtType::AddressSrc,
            ExtType::AddressDst,
            ExtType::KeyAuth,
            ExtType::KeyEncrypt,
            ExtType::Sa2
        ]
    );
    let m = parse(&dump[0]);
    assert_eq!(m.key_auth().expect("KEY_AUTH").bytes(), &auth_key[..]);
    assert_eq!(Sa2::from_wire(m.sa2().expect("SA2")).mode, Mode::Tunnel);
    let state = state_with_spi(0x1000).expect("SA");
    assert!(state.contains("mode tunnel"), "{state}");
    assert!(state.contains("auth-trunc hmac(sha256)"), "{state}");
    assert!(
        state.contains("sel src 10.0.0.1/32 dst 0.0.0.0/0"),
        "{state}"
    );
}

#[test]
fn add_ipv6_esp_sa() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let reply = request_ok(&sock, &add_esp(4, 0x3000, "2001:db8::1", "2001:db8::2", 0));
    capture_fixture(
        "add-esp6-reply",
        &reply,
        "ADD ESP spi 0x3000 2001:db8::1->2001:db8::2 aes-cbc-128 + hmac-sha1 transport, \
         hard/soft addtime 3600/3000, seq 4: the kernel's reply",
    );
    let dst = Address::from_view(&parse(&reply).dst().expect("DST"));
    assert_eq!((dst.prefix_len, dst.addr.ip()), (128, addr("2001:db8::2")));
    let state = state_with_spi(0x3000).unwrap_or_else(|| panic!("SA missing:\n{}", xfrm_state()));
    assert!(state.contains("src 2001:db8::1 dst 2001:db8::2"), "{state}");
}

/// Produces the `add-esp6-natt` fixture on a real kernel.
#[test]
fn add_ipv6_esp_sa_with_udp_encapsulation() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let auth_key: Vec<u8> = (0..20).collect();
    let enc_key: Vec<u8> = (100..116).collect();
    let add = build(MsgType::Add, SaType::Esp, 2, |b| {
        b.sa(&Sa {
            spi: 0xc0ff_ee01,
            auth: SADB_AALG_SHA1HMAC,
            encrypt: SADB_X_EALG_AESCBC,
            ..Sa::default()
        })?
        .address(ExtType::AddressSrc, &host("2001:db8::1"))?
        .address(ExtType::AddressDst, &host("2001:db8::2"))?
        .address(ExtType::AddressProxy, &host("2001:db8::1"))?
        .key(ExtType::KeyAuth, 160, &auth_key)?
        .key(ExtType::KeyEncrypt, 128, &enc_key)?
        .sa2(&Sa2 {
            mode: Mode::Transport,
            sequence: 0,
            reqid: 0,
        })?
        .nat_t_type(2)?
        .nat_t_port(ExtType::NatTSport, 4500)?
        .nat_t_port(ExtType::NatTDport, 4501)?;
        Ok(())
    });
    let reply = request_ok(&sock, &add);
    capture_fixture(
        "add-esp6-natt",
        &reply,
        "ADD ESP spi 0xc0ffee01 2001:db8::1->2001:db8::2, espinudp 4500->4501, hmac-sha1 (key 00..13) \
         + aes-cbc-128 (key 64..73), transport, no lifetimes, PROXY = SRC, seq 2: the kernel's reply",
    );
    let m = parse(&reply);
    assert_eq!(m.nat_t_type().expect("NAT_T_TYPE").nat_t_type, 2);
    assert_eq!((m.nat_t_sport(), m.nat_t_dport()), (Some(4500), Some(4501)));
    let state = state_with_spi(0xc0ff_ee01).expect("SA");
    assert!(
        state.contains("encap type espinudp sport 4500 dport 4501"),
        "{state}"
    );
}

#[test]
fn flush_removes_every_sa() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    for (seq, spi) in [(1, 0x4001), (2, 0x4002)] {
        request_ok(&sock, &add_esp(seq, spi, "192.0.2.1", "192.0.2.2", 0));
    }
    sock.send(&header_only(MsgType::Flush, SaType::Unspec, 10));
    let replies = sock.drain(Duration::from_millis(500));
    assert!(
        xfrm_state().trim().is_empty(),
        "state left:\n{}",
        xfrm_state()
    );
    assert_eq!(replies.len(), 2, "FLUSH of a non-empty table answers twice");
    for (i, r) in replies.iter().enumerate() {
        let m = parse(r);
        assert_eq!(
            (m.msg_type(), m.seq(), m.errno(), r.len()),
            (MsgType::Flush, 10, 0, 16)
        );
        capture_fixture(
            &format!("flush-reply-{}", i + 1),
            r,
            &format!(
                "FLUSH satype UNSPEC, seq 10, two ESP SAs installed: reply {} of 2",
                i + 1
            ),
        );
    }
}

#[test]
fn add_ipcomp_deflate_sa() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let add = build(MsgType::Add, SaType::IpComp, 1, |b| {
        b.sa(&Sa {
            spi: 0x1234,
            encrypt: pfkey::alg::SADB_X_CALG_DEFLATE,
            ..Sa::default()
        })?
        .address(ExtType::AddressSrc, &host("192.0.2.1"))?
        .address(ExtType::AddressDst, &host("192.0.2.2"))?;
        Ok(())
    });
    let reply = request_ok(&sock, &add);
    capture_fixture(
        "add-ipcomp-reply",
        &reply,
        "ADD IPCOMP cpi 0x1234 192.0.2.1->192.0.2.2 deflate, seq 1: the kernel's reply",
    );
    assert_eq!(parse(&reply).sa().expect("SA").spi.get(), 0x1234);
    let state = xfrm_state();
    assert!(state.contains("proto comp spi 0x00001234"), "{state}");
    assert!(state.contains("comp deflate"), "{state}");
}
