//! `pfkey decode`: binary and hex input, files and stdin, one or many messages,
//! text and JSON output, keys hidden unless asked, bad input reported with its
//! place and exit status 65.

use std::io::Read;
use std::process::Stdio;

use pfkey::builder::MessageBuilder;
use pfkey::repr::{Address, Header, Lifetime, Sa, Sa2};
use pfkey::wire::{ExtType, Mode, MsgType, SaState, SaType};

mod common;
use common::{pfkey, run_with_stdin as run};

/// The 272-byte DUMP reply (ESP, hmac-sha256 + aes-cbc 256, tunnel reqid 7).
fn dump_reply(seq: u32, spi: u32) -> Vec<u8> {
    let mut v = Vec::new();
    let mut b =
        MessageBuilder::new_vec(&mut v, &Header::new(MsgType::Dump, SaType::Esp, seq, 4242));
    b.sa(&Sa {
        spi,
        replay: 32,
        state: SaState::Mature,
        auth: 5,
        encrypt: 12,
        flags: 0,
    })
    .unwrap();
    for (t, add) in [
        (ExtType::LifetimeHard, 3600),
        (ExtType::LifetimeSoft, 2880),
        (ExtType::LifetimeCurrent, 0),
    ] {
        b.lifetime(
            t,
            &Lifetime {
                addtime: add,
                ..Lifetime::default()
            },
        )
        .unwrap();
    }
    b.address(
        ExtType::AddressSrc,
        &Address::host("10.0.0.1".parse().unwrap()),
    )
    .unwrap();
    b.address(
        ExtType::AddressDst,
        &Address::host("10.0.0.2".parse().unwrap()),
    )
    .unwrap();
    b.key(ExtType::KeyAuth, 256, &[0xaa; 32]).unwrap();
    b.key(ExtType::KeyEncrypt, 256, &[0xbb; 32]).unwrap();
    b.sa2(&Sa2 {
        mode: Mode::Tunnel,
        sequence: 0,
        reqid: 7,
    })
    .unwrap();
    b.finish().unwrap();
    v
}

/// A header-only error reply: ADD refused with EEXIST.
fn eexist_reply() -> Vec<u8> {
    let mut v = Vec::new();
    let mut h = Header::new(MsgType::Add, SaType::Esp, 5, 4242);
    h.errno = 17;
    MessageBuilder::new_vec(&mut v, &h).finish().unwrap();
    v
}

const DUMP_TEXT: &str = "\
DUMP satype=esp seq=1 pid=4242 len=272 reserved=0
  SA                spi=0x00001000 (4096) replay=32 state=mature auth=hmac-sha256 enc=aes-cbc flags=0
  LIFETIME_HARD     allocations=0 bytes=0 addtime=3600s usetime=0s
  LIFETIME_SOFT     allocations=0 bytes=0 addtime=2880s usetime=0s
  LIFETIME_CURRENT  allocations=0 bytes=0 addtime=0 usetime=0
  ADDRESS_SRC       10.0.0.1/32 proto any
  ADDRESS_DST       10.0.0.2/32 proto any
  KEY_AUTH          <redacted, 256 bits>
  KEY_ENCRYPT       <redacted, 256 bits>
  X_SA2             mode=tunnel reqid=7
";

/// Hex text in several styles at once: comments, `0x`, colons, line breaks.
fn as_messy_hex(bytes: &[u8]) -> String {
    let mut s = String::from("# captured by hand\n");
    for (i, chunk) in bytes.chunks(16).enumerate() {
        match i % 3 {
            0 => s.push_str(&hex::encode(chunk)),
            1 => {
                let parts: Vec<String> = chunk.iter().map(|b| format!("0x{b:x}")).collect();
                s.push_str(&parts.join(", "));
            }
            _ => {
                let parts: Vec<String> = chunk.iter().map(|b| format!("{b:02X}")).collect();
                s.push_str(&parts.join(":"));
            }
        }
        s.push_str("  # row\n");
    }
    s
}

#[test]
fn binary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.bin");
    std::fs::write(&path, dump_reply(1, 0x1000)).unwrap();
    let r = run(&["decode", path.to_str().unwrap()], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, DUMP_TEXT);
    assert_eq!(r.stderr, "");
}

#[test]
fn hex_file_in_mixed_styles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.hex");
    std::fs::write(&path, as_messy_hex(&dump_reply(1, 0x1000))).unwrap();
    let r = run(&["decode", path.to_str().unwrap()], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, DUMP_TEXT);
}

#[test]
fn stdin_binary_and_hex_with_dash() {
    let bin = dump_reply(1, 0x1000);
    let r = run(&["decode"], &bin);
    assert_eq!((r.code, r.stdout.as_str()), (0, DUMP_TEXT));
    let r = run(&["decode", "-"], hex::encode(&bin).as_bytes());
    assert_eq!((r.code, r.stdout.as_str()), (0, DUMP_TEXT));
}

#[test]
fn concatenated_messages() {
    let mut input = dump_reply(1, 0x1000);
    input.extend(eexist_reply());
    input.extend(dump_reply(0, 0x2000));
    let r = run(&["decode", "-v"], &input);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let headers: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .collect();
    assert_eq!(
        headers,
        [
            "# message 1: input offset 0, 272 bytes",
            "DUMP satype=esp seq=1 pid=4242 len=272 reserved=0",
            "# message 2: input offset 272, 16 bytes",
            "ADD satype=esp errno=17 (EEXIST) seq=5 pid=4242 len=16 reserved=0",
            "# message 3: input offset 288, 272 bytes",
            "DUMP satype=esp seq=0 pid=4242 len=272 reserved=0",
        ]
    );
    assert!(r.stdout.contains("spi=0x00002000 (8192)"));
    // One blank line between messages.
    assert_eq!(r.stdout.matches("\n\n").count(), 2);
    assert_eq!(
        r.stderr,
        "pfkey: standard input: binary input, 560 bytes of messages\n"
    );
}

#[test]
fn keys_only_with_show_keys() {
    let input = dump_reply(1, 0x1000);
    let hidden = run(&["decode"], &input);
    assert!(!hidden.stdout.contains("aaaa"));
    assert!(!hidden.stdout.contains("bbbb"));
    let shown = run(&["decode", "--show-keys"], &input);
    assert_eq!(shown.code, 0);
    assert!(shown.stdout.contains(&format!(
        "KEY_AUTH          256 bits 0x{}\n",
        "aa".repeat(32)
    )));
    assert!(shown.stdout.contains(&format!(
        "KEY_ENCRYPT       256 bits 0x{}\n",
        "bb".repeat(32)
    )));
}

#[test]
fn json_lines() {
    let mut input = dump_reply(1, 0x1000);
    input.extend(eexist_reply());
    let r = run(&["--json", "decode"], &input);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["number"], 1);
    assert_eq!(first["offset"], 0);
    assert_eq!(first["length"], 272);
    assert!(first.get("error").is_none());
    let m = &first["message"];
    assert_eq!(m["type"], "DUMP");
    assert_eq!(m["type_id"], 10);
    assert_eq!(m["satype"], "esp");
    assert_eq!(m["len"], 272);
    let exts = m["extensions"].as_array().unwrap();
    let types: Vec<&str> = exts.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "SA",
            "LIFETIME_HARD",
            "LIFETIME_SOFT",
            "LIFETIME_CURRENT",
            "ADDRESS_SRC",
            "ADDRESS_DST",
            "KEY_AUTH",
            "KEY_ENCRYPT",
            "X_SA2"
        ]
    );
    let sa = &exts[0];
    assert_eq!(sa["spi"], 4096);
    assert_eq!(sa["spi_hex"], "0x00001000");
    assert_eq!(sa["auth"], "hmac-sha256");
    assert_eq!(sa["auth_id"], 5);
    assert_eq!(sa["encrypt"], "aes-cbc");
    assert_eq!(sa["state"], "mature");
    assert_eq!(exts[1]["addtime"], 3600);
    assert_eq!(exts[4]["address"], "10.0.0.1");
    assert_eq!(exts[4]["prefix_len"], 32);
    assert_eq!(exts[4]["proto_name"], "any");
    assert_eq!(exts[6]["bits"], 256);
    assert!(
        exts[6]["key"].is_null(),
        "keys are hidden without --show-keys"
    );
    assert_eq!(exts[8]["mode"], "tunnel");
    assert_eq!(exts[8]["reqid"], 7);
    let err = &lines[1]["message"];
    assert_eq!(err["errno"], 17);
    assert_eq!(err["errno_name"], "EEXIST");
    assert_eq!(err["extensions"].as_array().unwrap().len(), 0);

    let keyed = run(&["decode", "--json", "--show-keys"], &dump_reply(1, 1));
    let v: serde_json::Value = serde_json::from_str(keyed.stdout.trim()).unwrap();
    assert_eq!(v["message"]["extensions"][7]["key"], "bb".repeat(32));
}

#[test]
fn a_bad_message_is_reported_and_decoding_goes_on() {
    // Message 2 has its KEY_AUTH extension's type changed to SA: a duplicate.
    let mut bad = dump_reply(2, 0x2000);
    let key_at = 16 + 16 + 3 * 32 + 2 * 24;
    assert_eq!(u16::from_ne_bytes([bad[key_at + 2], bad[key_at + 3]]), 8);
    bad[key_at + 2..key_at + 4].copy_from_slice(&1u16.to_ne_bytes());
    let mut input = dump_reply(1, 0x1000);
    input.extend(&bad);
    input.extend(eexist_reply());
    let r = run(&["decode"], &input);
    assert_eq!(r.code, 65);
    assert_eq!(
        r.stderr,
        "pfkey: message 2 (input offset 272): duplicate SA extension at byte 176 \
         (the first is at byte 16)\n"
    );
    assert!(r.stdout.starts_with("DUMP satype=esp seq=1"));
    assert!(r.stdout.contains("\nADD satype=esp errno=17 (EEXIST)"));

    let j = run(&["decode", "--json"], &input);
    assert_eq!(j.code, 65);
    let lines: Vec<serde_json::Value> = j
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[1].get("message").is_none());
    assert_eq!(lines[1]["number"], 2);
    assert_eq!(lines[1]["offset"], 272);
    assert_eq!(lines[1]["error"]["ext"], "SA");
    assert_eq!(lines[1]["error"]["at"], 176);
    assert_eq!(lines[2]["message"]["type"], "ADD");
}

#[test]
fn truncated_input() {
    let msg = dump_reply(1, 0x1000);
    let r = run(&["decode"], &msg[..200]);
    assert_eq!(r.code, 65);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        "pfkey: message 1 (input offset 0): sadb_msg_len is 34 words (272 bytes) but only \
         200 bytes are left: the message is truncated\n"
    );
    let mut two = eexist_reply();
    two.extend(&msg[..10]);
    let r = run(&["decode"], &two);
    assert_eq!(r.code, 65);
    assert!(r.stdout.starts_with("ADD satype=esp errno=17"));
    assert!(r
        .stderr
        .contains("message 2 (input offset 16): only 10 bytes left"));
}

#[test]
fn bad_version_names_the_field() {
    let mut msg = eexist_reply();
    msg[0] = 3;
    let r = run(&["decode", "--binary"], &msg);
    assert_eq!(r.code, 65);
    assert_eq!(
        r.stderr,
        "pfkey: message 1 (input offset 0): sadb_msg_version is 3, expected 2 (PF_KEY_V2)\n"
    );
}

#[test]
fn bad_hex_says_where() {
    let r = run(&["decode"], b"0203 0011\n02zz\n");
    assert_eq!(r.code, 65);
    assert_eq!(
        r.stderr,
        "pfkey: standard input: line 2, column 3: 'z' is not a hex digit\n"
    );
    let r = run(&["decode"], b"020");
    assert_eq!(r.code, 65);
    assert!(r.stderr.contains("odd number of hex digits"));
    // Forcing --hex on binary input is a data error too.
    let r = run(&["decode", "--hex"], &eexist_reply());
    assert_eq!(r.code, 65);
    assert!(r.stderr.contains("is not a hex digit"), "{}", r.stderr);
}

#[test]
fn empty_input_is_an_error() {
    let r = run(&["decode"], b"");
    assert_eq!(r.code, 65);
    assert_eq!(
        r.stderr,
        "pfkey: standard input: no messages (the input is empty)\n"
    );
    let r = run(&["decode"], b"# nothing but a comment\n");
    assert_eq!(r.code, 65);
}

#[test]
fn trailing_zero_padding_is_a_warning() {
    let mut input = eexist_reply();
    input.extend([0u8; 40]);
    let r = run(&["decode"], &input);
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stderr,
        "pfkey: warning: standard input: ignoring 40 zero bytes after the last message (padding?)\n"
    );
    let q = run(&["--quiet", "decode"], &input);
    assert_eq!((q.code, q.stderr.as_str()), (0, ""));
    assert_eq!(q.stdout, r.stdout);
}

#[test]
fn missing_file_and_usage_errors() {
    let r = run(&["decode", "/nonexistent/pfkey-input"], b"");
    assert_eq!(r.code, 66);
    assert_eq!(
        r.stderr,
        "pfkey: cannot open /nonexistent/pfkey-input: No such file or directory\n"
    );
    let r = run(&["decode", "--hex", "--binary"], b"");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot be used with"));
    let r = run(&["decode", "-v", "--quiet"], b"");
    assert_eq!(r.code, 2);
    let r = run(&["frobnicate"], b"");
    assert_eq!(r.code, 2);
}

#[test]
fn help_documents_exit_codes() {
    let r = run(&["--help"], b"");
    assert_eq!(r.code, 0);
    for line in [
        "Exit status:",
        "   0  success",
        "   1  the kernel refused the request",
        "   2  usage error",
        "  65  bad input data",
        "  66  an input file cannot be opened",
        "  69  this kernel has no PF_KEY support",
        "  77  permission denied",
    ] {
        assert!(r.stdout.contains(line), "--help lacks {line:?}");
    }
}

#[test]
fn broken_pipe_exits_quietly() {
    // Enough output to fill the pipe: 2000 messages, about 1.2 MB of text.
    let mut input = Vec::new();
    for i in 0..2000u32 {
        input.extend(dump_reply(i, i));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.bin");
    std::fs::write(&path, &input).unwrap();
    let mut child = pfkey()
        .args(["decode", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"DUMP satype=esp seq=0"));
    drop(stdout); // the reader goes away, like `| head -1`
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// Every extension kind, with the field names JSON.md documents for it.
#[test]
fn json_fields_of_every_extension_kind() {
    use pfkey::policy::{IpsecRequest, Policy};
    use pfkey::repr::{Comb, Extension, Filter, SupportedAlg};
    use pfkey::wire::{Direction, Level, PolicyType, SadbSens};

    let mut v = Vec::new();
    let mut b = MessageBuilder::new_vec(&mut v, &Header::new(MsgType::Acquire, SaType::Esp, 1, 2));
    b.sa(&Sa::default()).unwrap();
    b.lifetime(ExtType::LifetimeHard, &Lifetime::default())
        .unwrap();
    b.address(
        ExtType::AddressSrc,
        &Address::host("10.0.0.1".parse().unwrap()),
    )
    .unwrap();
    b.address(
        ExtType::AddressDst,
        &Address::host("2001:db8::1".parse().unwrap()),
    )
    .unwrap();
    b.key(ExtType::KeyAuth, 8, &[1]).unwrap();
    b.extension(&Extension::Identity {
        ext: ExtType::IdentitySrc,
        ident_type: 2,
        reserved: 0,
        id: 1,
        data: b"gw\0\0\0\0\0\0".to_vec(),
    })
    .unwrap();
    b.extension(&Extension::Sensitivity {
        header: SadbSens::default(),
        data: vec![],
    })
    .unwrap();
    b.extension(&Extension::Proposal {
        replay: 32,
        combs: vec![Comb::default()],
    })
    .unwrap();
    b.extension(&Extension::Supported(
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
    b.spirange(1, 2).unwrap();
    b.extension(&Extension::KmPrivate(vec![0; 8])).unwrap();
    b.policy(&Policy {
        policy_type: PolicyType::Ipsec,
        dir: Direction::Out,
        reserved: 0,
        id: 1,
        priority: 2,
        requests: vec![IpsecRequest {
            proto: 50,
            mode: Mode::Tunnel,
            level: Level::Unique,
            reqid: 3,
            tunnel: Some(("10.0.0.1:0".parse().unwrap(), "10.0.0.2:0".parse().unwrap())),
        }],
    })
    .unwrap();
    b.sa2(&Sa2 {
        mode: Mode::Transport,
        sequence: 0,
        reqid: 0,
    })
    .unwrap();
    b.nat_t_type(2).unwrap();
    b.nat_t_port(ExtType::NatTSport, 4500).unwrap();
    b.sec_ctx(1, 1, b"ctx").unwrap();
    b.extension(&Extension::KmAddress {
        local: "10.0.0.1:0".parse().unwrap(),
        remote: "10.0.0.2:0".parse().unwrap(),
    })
    .unwrap();
    b.extension(&Extension::Filter(Filter {
        src: "10.0.0.0".parse().unwrap(),
        src_prefix: 8,
        dst: "10.1.0.0".parse().unwrap(),
        dst_prefix: 16,
    }))
    .unwrap();
    b.raw_extension(&[0, 0, 30, 0, 1, 2, 3, 4]).unwrap();
    b.finish().unwrap();

    let r = run(&["decode", "--json"], &v);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let m = &line["message"];
    let mut keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "errno",
            "errno_name",
            "extensions",
            "len",
            "pid",
            "reserved",
            "satype",
            "satype_id",
            "seq",
            "type",
            "type_id"
        ]
    );
    let expected: &[(&str, &[&str])] = &[
        (
            "SA",
            &[
                "auth",
                "auth_id",
                "encrypt",
                "encrypt_id",
                "flag_names",
                "flags",
                "replay",
                "spi",
                "spi_hex",
                "state",
            ],
        ),
        (
            "LIFETIME_HARD",
            &["addtime", "allocations", "bytes", "usetime"],
        ),
        (
            "ADDRESS_SRC",
            &[
                "address",
                "family",
                "port",
                "prefix_len",
                "proto",
                "proto_name",
            ],
        ),
        (
            "ADDRESS_DST",
            &[
                "address",
                "family",
                "flowinfo",
                "port",
                "prefix_len",
                "proto",
                "proto_name",
                "scope_id",
            ],
        ),
        ("KEY_AUTH", &["bits", "key"]),
        (
            "IDENTITY_SRC",
            &["id", "ident_type", "ident_type_id", "text"],
        ),
        (
            "SENSITIVITY",
            &[
                "bitmaps",
                "dpd",
                "integ_len",
                "integ_level",
                "sens_len",
                "sens_level",
            ],
        ),
        ("PROPOSAL", &["combs", "replay"]),
        ("SUPPORTED_AUTH", &["algorithms"]),
        ("SPIRANGE", &["max", "min"]),
        ("X_KMPRIVATE", &["data"]),
        (
            "X_POLICY",
            &["dir", "id", "policy_type", "priority", "requests"],
        ),
        ("X_SA2", &["mode", "reqid", "sequence"]),
        ("X_NAT_T_TYPE", &["nat_t_type", "nat_t_type_id"]),
        ("X_NAT_T_SPORT", &["port"]),
        ("X_SEC_CTX", &["alg", "context", "doi"]),
        ("X_KMADDRESS", &["local", "remote"]),
        (
            "X_FILTER",
            &["dst", "dst_prefix_len", "family", "src", "src_prefix_len"],
        ),
        ("unknown(30)", &["data"]),
    ];
    let exts = m["extensions"].as_array().unwrap();
    assert_eq!(exts.len(), expected.len());
    for (e, (name, fields)) in exts.iter().zip(expected) {
        assert_eq!(e["type"], *name);
        let mut keys: Vec<&str> = e
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "type" && *k != "type_id")
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, *fields, "fields of {name}");
    }
    let comb = &exts[7]["combs"][0];
    let mut comb_keys: Vec<&str> = comb
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    comb_keys.sort_unstable();
    assert_eq!(
        comb_keys,
        [
            "auth",
            "auth_id",
            "auth_max_bits",
            "auth_min_bits",
            "encrypt",
            "encrypt_id",
            "encrypt_max_bits",
            "encrypt_min_bits",
            "flags",
            "hard",
            "soft"
        ]
    );
    assert_eq!(exts[8]["algorithms"][0]["name"], "hmac-md5");
    let req = &exts[11]["requests"][0];
    assert_eq!(req["proto"], "esp");
    assert_eq!(req["proto_id"], 50);
    assert_eq!(req["mode"], "tunnel");
    assert_eq!(req["level"], "unique");
    assert_eq!(req["reqid"], 3);
    assert_eq!(req["tunnel"]["src"], "10.0.0.1");
    assert_eq!(req["tunnel"]["dst"], "10.0.0.2");
    assert_eq!(exts[15]["context"], "ctx");
    assert_eq!(exts[16]["remote"]["address"], "10.0.0.2");
    assert_eq!(exts[18]["data"], "01020304");
    assert_eq!(exts[18]["type_id"], 30);
}
