//! Linux af_key behaviour that a client must cope with (linux-pfkey.md §14; results in
//! tests/lab/FINDINGS.md).

use std::time::Duration;

use pfkey::alg::{
    SADB_AALG_SHA1HMAC, SADB_EALG_NULL, SADB_X_AALG_SHA2_256HMAC, SADB_X_EALG_AESCBC,
    SADB_X_EALG_AES_GCM_ICV16,
};
use pfkey::repr::Sa;
use pfkey::wire::{ExtType, MsgType, SaType};
use pfkey_kernel_tests::xfrm::state_with_spi;
use pfkey_kernel_tests::{
    build, capture_fixture, fresh_netns, header_only, parse, xfrm_state, Netns, PfKeySocket,
};

use crate::common::{
    add_esp, esp_sa, host, request_errno, request_ok, sa_by_spi, AUTH_KEY, ENC_KEY,
};

const QUIET: Duration = Duration::from_millis(300);

/// The SPI of an SA message.
fn spi(msg: &[u8]) -> u32 {
    parse(msg).sa().expect("SA").spi.get()
}

#[test]
fn flush_of_an_empty_table_answers_once() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    sock.send(&header_only(MsgType::Flush, SaType::Esp, 5));
    let replies = sock.drain(QUIET);
    assert_eq!(replies.len(), 1);
    let m = parse(&replies[0]);
    assert_eq!((m.msg_type(), m.seq(), m.errno()), (MsgType::Flush, 5, 0));
    capture_fixture(
        "flush-empty-reply",
        &replies[0],
        "FLUSH satype ESP, seq 5, empty table: the only reply",
    );
}

#[test]
fn dump_of_an_empty_table_is_enoent_with_the_request_seq() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let replies = sock.dump(&header_only(MsgType::Dump, SaType::Unspec, 77));
    assert_eq!(replies.len(), 1);
    let m = parse(&replies[0]);
    assert_eq!(
        (m.msg_type(), m.seq(), m.errno(), replies[0].len()),
        (MsgType::Dump, 77, libc::ENOENT as u8, 16)
    );
    capture_fixture(
        "dump-empty-enoent",
        &replies[0],
        "DUMP satype UNSPEC, seq 77, empty table: the error reply",
    );
}

#[test]
fn dump_numbers_entries_and_ends_at_seq_0() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    for i in 1..=3u32 {
        request_ok(&sock, &add_esp(i, 0x5000 + i, "192.0.2.1", "192.0.2.2", 0));
    }
    let dump = sock.dump(&header_only(MsgType::Dump, SaType::Esp, 99));
    let seqs: Vec<u32> = dump.iter().map(|m| parse(m).seq()).collect();
    assert_eq!(seqs, [1, 2, 0], "dump seq numbers");
    let mut spis: Vec<u32> = dump.iter().map(|m| spi(m)).collect();
    spis.sort_unstable();
    assert_eq!(spis, [0x5001, 0x5002, 0x5003]);
    for m in &dump {
        let m = parse(m);
        assert_eq!((m.pid(), m.errno()), (std::process::id(), 0));
    }
}

#[test]
fn add_twice_is_eexist() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    request_ok(&sock, &add_esp(4, 0x6000, "192.0.2.1", "192.0.2.2", 0));
    let reply = sock.request(&add_esp(5, 0x6000, "192.0.2.1", "192.0.2.2", 0));
    let m = parse(&reply);
    assert_eq!(
        (m.errno(), reply.len(), m.seq(), m.satype()),
        (libc::EEXIST as u8, 16, 5, SaType::Esp)
    );
    capture_fixture(
        "add-eexist",
        &reply,
        "ADD ESP spi 0x6000 192.0.2.1->192.0.2.2 a second time, seq 5: the error reply",
    );
}

#[test]
fn get_or_delete_of_a_missing_sa_is_esrch() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    for (seq, ty) in [(1, MsgType::Get), (2, MsgType::Delete)] {
        let req = sa_by_spi(ty, seq, 0x6100, "192.0.2.1", "192.0.2.2");
        assert_eq!(request_errno(&sock, &req), libc::ESRCH, "{ty:?}");
    }
}

#[test]
fn delete_removes_the_sa_and_answers_with_it() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    request_ok(&sock, &add_esp(1, 0x6150, "192.0.2.1", "192.0.2.2", 0));
    let reply = request_ok(
        &sock,
        &sa_by_spi(MsgType::Delete, 2, 0x6150, "192.0.2.1", "192.0.2.2"),
    );
    capture_fixture(
        "delete-esp-reply",
        &reply,
        "DELETE ESP spi 0x6150 192.0.2.1->192.0.2.2 (aes-cbc-128 + hmac-sha1 transport), seq 2: the reply",
    );
    assert_eq!(spi(&reply), 0x6150);
    assert!(state_with_spi(0x6150).is_none(), "{}", xfrm_state());
}

fn add_plain(seq: u32, spi: u32, replay: u8) -> Vec<u8> {
    build(MsgType::Add, SaType::Esp, seq, |b| {
        b.sa(&Sa {
            spi,
            replay,
            auth: SADB_AALG_SHA1HMAC,
            encrypt: SADB_X_EALG_AESCBC,
            ..Sa::default()
        })?
        .address(ExtType::AddressSrc, &host("192.0.2.1"))?
        .address(ExtType::AddressDst, &host("192.0.2.2"))?
        .key(ExtType::KeyAuth, 160, &AUTH_KEY)?
        .key(ExtType::KeyEncrypt, 128, &ENC_KEY)?;
        Ok(())
    })
}

#[test]
fn replay_window_is_capped_at_32() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let reply = request_ok(&sock, &add_plain(1, 0x6200, 64));
    assert_eq!(parse(&reply).sa().expect("SA").replay, 32);
    let state = state_with_spi(0x6200).expect("SA");
    assert!(state.contains("replay-window 32"), "{state}");
}

#[test]
fn aead_through_pf_key_is_enosys() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let req = build(MsgType::Add, SaType::Esp, 1, |b| {
        b.sa(&Sa {
            spi: 0x6300,
            encrypt: SADB_X_EALG_AES_GCM_ICV16,
            ..Sa::default()
        })?
        .address(ExtType::AddressSrc, &host("192.0.2.1"))?
        .address(ExtType::AddressDst, &host("192.0.2.2"))?
        .key(ExtType::KeyEncrypt, 160, &[7u8; 20])?;
        Ok(())
    });
    assert_eq!(request_errno(&sock, &req), libc::ENOSYS);
}

#[test]
fn esp_without_encryption_key_is_einval_and_null_cipher_works() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let req = |seq, spi, encrypt, with_null_key: bool| {
        build(MsgType::Add, SaType::Esp, seq, |b| {
            b.sa(&Sa {
                spi,
                auth: SADB_AALG_SHA1HMAC,
                encrypt,
                ..Sa::default()
            })?
            .address(ExtType::AddressSrc, &host("192.0.2.1"))?
            .address(ExtType::AddressDst, &host("192.0.2.2"))?
            .key(ExtType::KeyAuth, 160, &AUTH_KEY)?;
            if with_null_key {
                b.key(ExtType::KeyEncrypt, 0, &[])?;
            }
            Ok(())
        })
    };
    assert_eq!(
        request_errno(&sock, &req(1, 0x6400, SADB_X_EALG_AESCBC, false)),
        libc::EINVAL
    );
    request_ok(&sock, &req(2, 0x6401, SADB_EALG_NULL, true));
    let state = state_with_spi(0x6401).expect("NULL-cipher SA");
    assert!(state.contains("enc ecb(cipher_null)"), "{state}");
}

#[test]
fn hmac_sha256_is_truncated_to_96_bits() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let req = build(MsgType::Add, SaType::Ah, 1, |b| {
        b.sa(&Sa {
            spi: 0x6500,
            auth: SADB_X_AALG_SHA2_256HMAC,
            ..Sa::default()
        })?
        .address(ExtType::AddressSrc, &host("192.0.2.1"))?
        .address(ExtType::AddressDst, &host("192.0.2.2"))?
        .key(ExtType::KeyAuth, 256, &[0x42u8; 32])?;
        Ok(())
    });
    request_ok(&sock, &req);
    let state = state_with_spi(0x6500).expect("AH SA");
    let auth = state
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("auth-trunc hmac(sha256) 0x"))
        .unwrap_or_else(|| panic!("{state}"));
    assert!(auth.ends_with(" 96"), "{auth}");
}

#[test]
fn update_of_a_mature_sa_keeps_the_old_key() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    request_ok(&sock, &add_esp(1, 0x6600, "192.0.2.1", "192.0.2.2", 0));
    let update = build(MsgType::Update, SaType::Esp, 2, |b| {
        b.sa(&Sa {
            spi: 0x6600,
            replay: 32,
            auth: SADB_AALG_SHA1HMAC,
            encrypt: SADB_X_EALG_AESCBC,
            ..Sa::default()
        })?
        .address(ExtType::AddressSrc, &host("192.0.2.1"))?
        .address(ExtType::AddressDst, &host("192.0.2.2"))?
        .key(ExtType::KeyAuth, 160, &AUTH_KEY)?
        .key(ExtType::KeyEncrypt, 128, &[0xee; 16])?;
        Ok(())
    });
    let errno = parse(&sock.request(&update)).errno();
    assert_eq!(errno, 0, "UPDATE of a mature SA is accepted");
    let state = state_with_spi(0x6600).expect("SA");
    let old: String = ENC_KEY.iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        state.contains(&format!("enc cbc(aes) 0x{old}")),
        "the key changed:\n{state}"
    );
}

#[test]
fn v4_mapped_ipv6_address_is_not_translated() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let req = add_esp(1, 0x6700, "::ffff:192.0.2.1", "::ffff:192.0.2.2", 0);
    // Accepted as an IPv6 SA between the mapped addresses, not translated to IPv4.
    assert_eq!(request_errno(&sock, &req), 0);
    let states = xfrm_state();
    assert!(!states.contains("src 192.0.2.1 "), "{states}");
    assert!(
        states.contains("src ::ffff:192.0.2.1 dst ::ffff:192.0.2.2"),
        "{states}"
    );
    // Mixed families in one request are always refused.
    let mixed = build(MsgType::Add, SaType::Esp, 2, |b| {
        esp_sa(b, 0x6701, "192.0.2.1", "2001:db8::2")
    });
    assert_eq!(request_errno(&sock, &mixed), libc::EINVAL);
}

#[test]
fn a_second_socket_receives_the_add_broadcast_with_keys() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let other = PfKeySocket::open_or_panic();
    request_ok(&sock, &add_esp(3, 0x6800, "192.0.2.1", "192.0.2.2", 0));
    let seen = other.recv();
    let m = parse(&seen);
    assert_eq!(
        (m.msg_type(), m.seq(), m.pid()),
        (MsgType::Add, 3, std::process::id())
    );
    assert_eq!(m.key_encrypt().expect("key").bytes(), &ENC_KEY[..]);
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
    let msg = sock.recv();
    capture_fixture(
        "netlink-add-broadcast",
        &msg,
        "ADD broadcast to a PF_KEY socket after `ip xfrm state add src 192.0.2.1 dst 192.0.2.2 \
         proto esp spi 0x6900 mode transport enc cbc(aes) 0x000102..0f` (netlink)",
    );
    let m = parse(&msg);
    assert_eq!(m.msg_type(), MsgType::Add);
    assert_eq!(spi(&msg), 0x6900);
    assert_eq!(
        m.key_encrypt().expect("key").bytes(),
        (0u8..16).collect::<Vec<u8>>()
    );
}

#[test]
fn register_twice_is_eexist_and_satype_0_does_not_register() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    let unspec = request_ok(&sock, &header_only(MsgType::Register, SaType::Unspec, 1));
    assert!(parse(&unspec).supported_auth().is_some());
    // Had satype 0 registered, a second REGISTER of it would be EEXIST.
    request_ok(&sock, &header_only(MsgType::Register, SaType::Unspec, 5));
    request_ok(&sock, &header_only(MsgType::Register, SaType::Esp, 2));
    let again = header_only(MsgType::Register, SaType::Esp, 3);
    assert_eq!(request_errno(&sock, &again), libc::EEXIST);
    let bad = header_only(MsgType::Register, SaType::from_value(10), 4);
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
    let dump = dumper.dump(&header_only(MsgType::Dump, SaType::Esp, 1));
    let seqs: Vec<u32> = dump.iter().map(|m| parse(m).seq()).collect();
    let want: Vec<u32> = (1..200).chain([0]).collect();
    assert_eq!(seqs, want);
    let mut spis: Vec<u32> = dump.iter().map(|m| spi(m)).collect();
    spis.sort_unstable();
    assert_eq!(spis, (0x10000..0x10000 + 200).collect::<Vec<u32>>());
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
    let peer = Netns::detached();
    let replies = peer.enter(|| {
        let s = PfKeySocket::open_or_panic();
        s.dump(&header_only(MsgType::Dump, SaType::Unspec, 1))
    });
    assert_eq!(parse(&replies[0]).errno(), libc::ENOENT as u8);
}

#[test]
fn a_second_dump_during_a_dump_is_ebusy_and_the_first_completes() {
    let _ns = fresh_netns();
    let sock = PfKeySocket::open_or_panic();
    for i in 0..50u32 {
        request_ok(
            &sock,
            &add_esp(i + 1, 0x20000 + i, "192.0.2.1", "192.0.2.2", 0),
        );
    }
    let dumper = PfKeySocket::open_or_panic();
    dumper.set_rcvbuf(4096);
    dumper.send(&header_only(MsgType::Dump, SaType::Esp, 1));
    let first = dumper.recv();
    assert_eq!(parse(&first).seq(), 1, "first entry of the dump");
    dumper.send(&header_only(MsgType::Dump, SaType::Esp, 2));
    let (mut entries, mut busy) = (1, None);
    loop {
        let msg = dumper.recv();
        let m = parse(&msg);
        if m.errno() != 0 {
            assert!(busy.is_none(), "two error replies");
            busy = Some((m.seq(), m.errno(), msg.len()));
            continue;
        }
        entries += 1;
        if m.seq() == 0 {
            break;
        }
    }
    assert_eq!(entries, 50, "the first dump completes");
    let busy = busy.or_else(|| {
        dumper
            .recv_timeout(QUIET)
            .map(|m| (parse(&m).seq(), parse(&m).errno(), m.len()))
    });
    assert_eq!(
        busy,
        Some((2, libc::EBUSY as u8, 16)),
        "second DUMP on the socket"
    );
}
