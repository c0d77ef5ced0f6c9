//! Linux af_key behaviour that a client must cope with (docs: linux-pfkey.md §14; results in
//! tests/lab/FINDINGS.md).

use std::time::Duration;

use pfkey_kernel_tests::raw::{alg, ext, msg, satype, Builder, Header, Parsed};
use pfkey_kernel_tests::xfrm::state_with_spi;
use pfkey_kernel_tests::{capture_fixture, fresh_netns, xfrm_state, PfKeySocket};

use crate::common::{add_esp, addr, request_errno, request_ok, AUTH_KEY, ENC_KEY};

const QUIET: Duration = Duration::from_millis(300);

#[test]
fn flush_of_an_empty_table_answers_once() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    sock.send(&Builder::new(msg::FLUSH, satype::ESP, 5).finish());
    let replies = sock.drain(QUIET);
    assert_eq!(replies.len(), 1);
    let h = Header::parse(&replies[0]);
    assert_eq!((h.msg_type, h.seq, h.errno), (msg::FLUSH, 5, 0));
    capture_fixture(
        "flush_empty_reply",
        &replies[0],
        "FLUSH satype ESP, seq 5, empty table: the only reply",
    );
}

#[test]
fn dump_of_an_empty_table_is_enoent_with_the_request_seq() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let replies = sock.dump(&Builder::new(msg::DUMP, satype::UNSPEC, 77).finish());
    assert_eq!(replies.len(), 1);
    let h = Header::parse(&replies[0]);
    assert_eq!(
        (h.msg_type, h.seq, h.errno, h.len),
        (msg::DUMP, 77, libc::ENOENT as u8, 2)
    );
    capture_fixture(
        "dump_empty_enoent_reply",
        &replies[0],
        "DUMP satype UNSPEC, seq 77, empty table",
    );
}

#[test]
fn dump_numbers_entries_and_ends_at_seq_0() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    for spi in 1..=3u32 {
        request_ok(
            &sock,
            &add_esp(spi, 0x5000 + spi, "192.0.2.1", "192.0.2.2", 0),
        );
    }
    let dump = sock.dump(&Builder::new(msg::DUMP, satype::ESP, 99).finish());
    let seqs: Vec<u32> = dump.iter().map(|m| Header::parse(m).seq).collect();
    assert_eq!(seqs, [1, 2, 0], "dump seq numbers");
    let mut spis: Vec<u32> = dump
        .iter()
        .map(|m| Parsed::new(m).sa().expect("SA").spi)
        .collect();
    spis.sort_unstable();
    assert_eq!(spis, [0x5001, 0x5002, 0x5003]);
    for m in &dump {
        let h = Header::parse(m);
        assert_eq!((h.pid, h.errno), (std::process::id(), 0));
    }
}

#[test]
fn add_twice_is_eexist() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    request_ok(&sock, &add_esp(1, 0x6000, "192.0.2.1", "192.0.2.2", 0));
    let reply = sock.request(&add_esp(2, 0x6000, "192.0.2.1", "192.0.2.2", 0));
    let h = Header::parse(&reply);
    assert_eq!((h.errno, h.len, h.seq), (libc::EEXIST as u8, 2, 2));
    capture_fixture(
        "add_eexist_reply",
        &reply,
        "ADD ESP spi 0x6000 192.0.2.1->192.0.2.2 a second time, seq 2: the error reply",
    );
}

#[test]
fn get_or_delete_of_a_missing_sa_is_esrch() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    for (seq, ty) in [(1, msg::GET), (2, msg::DELETE)] {
        let req = Builder::new(ty, satype::ESP, seq)
            .sa(0x6100, 0, 0, 0)
            .address(ext::ADDRESS_SRC, addr("192.0.2.1"))
            .address(ext::ADDRESS_DST, addr("192.0.2.2"))
            .finish();
        assert_eq!(request_errno(&sock, &req), libc::ESRCH, "message type {ty}");
    }
}

#[test]
fn replay_window_is_capped_at_32() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let req = Builder::new(msg::ADD, satype::ESP, 1)
        .sa(0x6200, 64, alg::AALG_SHA1HMAC, alg::EALG_AESCBC)
        .address(ext::ADDRESS_SRC, addr("192.0.2.1"))
        .address(ext::ADDRESS_DST, addr("192.0.2.2"))
        .key(ext::KEY_AUTH, &AUTH_KEY)
        .key(ext::KEY_ENCRYPT, &ENC_KEY)
        .finish();
    let reply = request_ok(&sock, &req);
    assert_eq!(Parsed::new(&reply).sa().expect("SA").replay, 32);
    let state = state_with_spi(0x6200).expect("SA");
    assert!(state.contains("replay-window 32"), "{state}");
}

#[test]
fn aead_through_pf_key_is_enosys() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let req = Builder::new(msg::ADD, satype::ESP, 1)
        .sa(0x6300, 0, 0, alg::EALG_AES_GCM_ICV16)
        .address(ext::ADDRESS_SRC, addr("192.0.2.1"))
        .address(ext::ADDRESS_DST, addr("192.0.2.2"))
        .key(ext::KEY_ENCRYPT, &[7u8; 20])
        .finish();
    assert_eq!(request_errno(&sock, &req), libc::ENOSYS);
}

#[test]
fn esp_without_encryption_key_is_einval_and_null_cipher_works() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let base = |seq, spi, encrypt| {
        Builder::new(msg::ADD, satype::ESP, seq)
            .sa(spi, 0, alg::AALG_SHA1HMAC, encrypt)
            .address(ext::ADDRESS_SRC, addr("192.0.2.1"))
            .address(ext::ADDRESS_DST, addr("192.0.2.2"))
            .key(ext::KEY_AUTH, &AUTH_KEY)
    };
    assert_eq!(
        request_errno(&sock, &base(1, 0x6400, alg::EALG_AESCBC).finish()),
        libc::EINVAL
    );
    let null = base(2, 0x6401, alg::EALG_NULL)
        .key(ext::KEY_ENCRYPT, &[])
        .finish();
    request_ok(&sock, &null);
    let state = state_with_spi(0x6401).expect("NULL-cipher SA");
    assert!(state.contains("enc ecb(cipher_null)"), "{state}");
}

#[test]
fn hmac_sha256_is_truncated_to_96_bits() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let req = Builder::new(msg::ADD, satype::AH, 1)
        .sa(0x6500, 0, alg::AALG_SHA2_256HMAC, 0)
        .address(ext::ADDRESS_SRC, addr("192.0.2.1"))
        .address(ext::ADDRESS_DST, addr("192.0.2.2"))
        .key(ext::KEY_AUTH, &[0x42u8; 32])
        .finish();
    request_ok(&sock, &req);
    let state = state_with_spi(0x6500).expect("AH SA");
    assert!(state.contains("auth-trunc hmac(sha256) 0x"), "{state}");
    assert!(
        state
            .trim_end()
            .lines()
            .any(|l| l.trim().starts_with("auth-trunc") && l.trim_end().ends_with(" 96")),
        "{state}"
    );
}

#[test]
fn update_of_a_mature_sa_keeps_the_old_key() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    request_ok(&sock, &add_esp(1, 0x6600, "192.0.2.1", "192.0.2.2", 0));
    let mut update = add_esp(2, 0x6600, "192.0.2.1", "192.0.2.2", 0);
    update[1] = msg::UPDATE;
    // Replace the encryption key bytes (the last 16 bytes of KEY_ENCRYPT) with a new key.
    let at = update
        .windows(ENC_KEY.len())
        .position(|w| w == ENC_KEY)
        .expect("key in request");
    update[at..at + 16].copy_from_slice(&[0xeeu8; 16]);
    let reply = sock.request(&update);
    let h = Header::parse(&reply);
    let state = state_with_spi(0x6600).expect("SA");
    assert!(
        state.contains(&format!(
            "enc cbc(aes) 0x{}",
            ENC_KEY
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )),
        "UPDATE errno {}: key changed?\n{state}",
        h.errno
    );
    assert_eq!(h.errno, 0, "UPDATE of a mature SA is accepted");
}

#[test]
fn v4_mapped_ipv6_address_is_not_translated() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let mut req = add_esp(1, 0x6700, "::ffff:192.0.2.1", "::ffff:192.0.2.2", 0);
    let errno = Header::parse(&sock.request(&req)).errno;
    let states = xfrm_state();
    // Accepted as an IPv6 SA between the mapped addresses, not translated to IPv4.
    assert_eq!(errno, 0);
    assert!(!states.contains("src 192.0.2.1 "), "{states}");
    assert!(
        states.contains("src ::ffff:192.0.2.1 dst ::ffff:192.0.2.2"),
        "{states}"
    );
    // Mixed families in one request are always refused.
    req = Builder::new(msg::ADD, satype::ESP, 2)
        .sa(0x6701, 0, alg::AALG_SHA1HMAC, alg::EALG_AESCBC)
        .address(ext::ADDRESS_SRC, addr("192.0.2.1"))
        .address(ext::ADDRESS_DST, addr("2001:db8::2"))
        .key(ext::KEY_AUTH, &AUTH_KEY)
        .key(ext::KEY_ENCRYPT, &ENC_KEY)
        .finish();
    assert_eq!(request_errno(&sock, &req), libc::EINVAL);
}

#[test]
fn a_second_socket_receives_the_add_broadcast_with_keys() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let other = PfKeySocket::open_or_panic();
    request_ok(&sock, &add_esp(3, 0x6800, "192.0.2.1", "192.0.2.2", 0));
    let seen = other.recv();
    let p = Parsed::new(&seen);
    assert_eq!(
        (p.header.msg_type, p.header.seq, p.header.pid),
        (msg::ADD, 3, std::process::id())
    );
    assert_eq!(p.key(ext::KEY_ENCRYPT), Some((128, &ENC_KEY[..])));
    assert!(other.recv_timeout(QUIET).is_none(), "one broadcast only");
}

#[test]
fn changes_made_over_netlink_reach_pf_key_sockets() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    pfkey_kernel_tests::ip(&[
        "xfrm",
        "state",
        "add",
        "src",
        "192.0.2.1",
        "dst",
        "192.0.2.2",
        "proto",
        "esp",
        "spi",
        "0x6900",
        "mode",
        "transport",
        "enc",
        "cbc(aes)",
        "0x000102030405060708090a0b0c0d0e0f",
    ]);
    let m = sock.recv();
    let p = Parsed::new(&m);
    assert_eq!(p.header.msg_type, msg::ADD);
    assert_eq!(p.sa().expect("SA").spi, 0x6900);
    assert_eq!(
        p.key(ext::KEY_ENCRYPT).expect("key").1,
        (0u8..16).collect::<Vec<u8>>()
    );
}

#[test]
fn socket_needs_cap_net_admin() {
    let _ns = fresh_netns();
    let errno = std::thread::spawn(|| {
        // SAFETY: the raw syscall changes the credentials of this thread only (glibc's
        // setresuid would change every thread); the thread ends right after the socket call.
        let rc = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
        assert_eq!(rc, 0, "setresuid: {}", std::io::Error::last_os_error());
        PfKeySocket::open()
            .expect_err("socket as nobody")
            .raw_os_error()
    })
    .join()
    .expect("unprivileged thread");
    assert_eq!(errno, Some(libc::EPERM));
}

#[test]
fn sockets_see_only_their_own_namespace() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    request_ok(&sock, &add_esp(1, 0x6a00, "192.0.2.1", "192.0.2.2", 0));
    let peer = pfkey_kernel_tests::Netns::detached();
    let replies = peer.enter(|| {
        let s = PfKeySocket::open_or_panic();
        s.dump(&Builder::new(msg::DUMP, satype::UNSPEC, 1).finish())
    });
    assert_eq!(Header::parse(&replies[0]).errno, libc::ENOENT as u8);
}

#[test]
fn register_twice_is_eexist_and_satype_0_does_not_register() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let unspec = request_ok(
        &sock,
        &Builder::new(msg::REGISTER, satype::UNSPEC, 1).finish(),
    );
    assert!(!Parsed::new(&unspec)
        .supported(ext::SUPPORTED_AUTH)
        .is_empty());
    request_ok(&sock, &Builder::new(msg::REGISTER, satype::ESP, 2).finish());
    let again = Builder::new(msg::REGISTER, satype::ESP, 3).finish();
    assert_eq!(request_errno(&sock, &again), libc::EEXIST);
    let bad = Builder::new(msg::REGISTER, 10, 4).finish();
    assert_eq!(request_errno(&sock, &bad), libc::EINVAL);
}

#[test]
fn dump_of_200_sas_completes_through_a_4k_receive_buffer() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    for i in 0..200u32 {
        request_ok(
            &sock,
            &add_esp(i + 1, 0x10000 + i, "192.0.2.1", "192.0.2.2", 0),
        );
    }
    // A fresh socket, so that the 200 ADD broadcasts are not queued on it.
    let dumper = PfKeySocket::open_or_panic();
    dumper.set_rcvbuf(4096);
    let dump = dumper.dump(&Builder::new(msg::DUMP, satype::ESP, 1).finish());
    let seqs: Vec<u32> = dump.iter().map(|m| Header::parse(m).seq).collect();
    let want: Vec<u32> = (1..200).chain([0]).collect();
    assert_eq!(seqs, want);
    let mut spis: Vec<u32> = dump
        .iter()
        .map(|m| Parsed::new(m).sa().expect("SA").spi)
        .collect();
    spis.sort_unstable();
    assert_eq!(spis, (0x10000..0x10000 + 200).collect::<Vec<u32>>());
}
