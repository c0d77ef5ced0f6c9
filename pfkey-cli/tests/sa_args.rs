//! The SA commands' command-line checks, on a host without PF_KEY (the dev and CI
//! machines: `socket(PF_KEY, …)` fails with EAFNOSUPPORT there).
//!
//! Every bad input must be refused with exit status 2 and exactly one line on standard
//! error, saying what is wrong. Opening the socket on this host ends in status 69, so a
//! 2 also proves that the check ran *before* any socket was opened. The kernel-side
//! counterparts (the SA table unchanged afterwards, EEXIST, ESRCH, …) are in
//! `tests/kernel/tests/cli_sa.rs`, run in the kernel lab.

use std::process::Stdio;

mod common;
use common::{pfkey, run_with_stdin, Run};

fn run(args: &[&str]) -> Run {
    run_with_stdin(args, b"")
}

const AES128: &str = "0x00112233445566778899aabbccddeeff";
const SHA1: &str = "0x00112233445566778899aabbccddeeff00112233";

/// A valid `add` (ESP, AES-128, HMAC-SHA1) with `extra` appended; later options of the
/// same name are not allowed by clap, so cases replace what they need via `edit`.
fn add(edit: &[(&str, &str)], extra: &[&str]) -> Vec<String> {
    let mut base: Vec<(String, String)> = [
        ("--src", "10.0.0.1"),
        ("--dst", "10.0.0.2"),
        ("--spi", "0x1000"),
        ("--enc", "aes"),
        ("--enc-key", AES128),
        ("--auth", "hmac-sha1"),
        ("--auth-key", SHA1),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    for (opt, val) in edit {
        match base.iter_mut().find(|(o, _)| o == opt) {
            Some(slot) if val.is_empty() => slot.0.clear(),
            Some(slot) => slot.1 = val.to_string(),
            None => base.push((opt.to_string(), val.to_string())),
        }
    }
    let mut v = vec!["add".to_string(), "--esp".to_string()];
    for (o, val) in base {
        if !o.is_empty() {
            v.push(o);
            v.push(val);
        }
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Asserts exit 2, nothing on stdout, one `pfkey: …` line on stderr containing every
/// word of `want`; returns the line.
#[track_caller]
fn refused(args: &[String], want: &[&str]) -> String {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&argv);
    check_refused(&r, &argv, want)
}

#[track_caller]
fn check_refused(r: &Run, argv: &[&str], want: &[&str]) -> String {
    assert_eq!(r.code, 2, "{argv:?}: {r:?}");
    assert_eq!(r.stdout, "", "{argv:?}");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{argv:?}: not one line:\n{}", r.stderr);
    assert!(lines[0].starts_with("pfkey: "), "{}", lines[0]);
    for w in want {
        assert!(lines[0].contains(w), "{argv:?}: {:?} lacks {w:?}", lines[0]);
    }
    lines[0].to_string()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn unknown_algorithms_come_with_a_suggestion() {
    refused(
        &add(&[("--enc", "aes-cbx")], &[]),
        &[
            "unknown encryption algorithm 'aes-cbx'",
            "did you mean aes-cbc?",
        ],
    );
    refused(
        &add(&[("--auth", "hmac-sha2")], &[]),
        &[
            "unknown authentication algorithm 'hmac-sha2'",
            "did you mean",
        ],
    );
    refused(
        &add(&[("--auth", "whirlpool")], &[]),
        &[
            "unknown authentication algorithm 'whirlpool'",
            "pfkey algorithms",
        ],
    );
    // The design-card spelling: `--esp ALG`.
    refused(
        &s(&[
            "add",
            "--esp",
            "rijndael-cbx",
            "--src",
            "10.0.0.1",
            "--dst",
            "10.0.0.2",
            "--spi",
            "1000",
        ]),
        &["did you mean rijndael-cbc?"],
    );
}

#[test]
fn aead_is_refused_with_the_reason() {
    let line = refused(
        &add(&[("--enc", "aes-gcm")], &[]),
        &[
            "aes-gcm",
            "cannot be used through Linux PF_KEY",
            "AEAD",
            "ip xfrm",
        ],
    );
    assert!(line.contains("ENOSYS"), "{line}");
    refused(
        &add(&[("--enc", "rfc4106(gcm(aes))")], &[]),
        &["cannot be used through Linux PF_KEY"],
    );
    refused(
        &add(&[("--enc", "chacha20-poly1305")], &[]),
        &["no PF_KEY id", "ip xfrm"],
    );
    refused(
        &add(&[("--auth", "hmac-sha256-128")], &[]),
        &["96-bit ICV", "auth-trunc"],
    );
}

#[test]
fn wrong_key_lengths_list_the_valid_sizes() {
    refused(
        &add(&[("--enc-key", "0x0011223344")], &[]),
        &[
            "--enc-key",
            "aes-cbc takes a 128, 192 or 256-bit key, not 40 bits",
        ],
    );
    refused(
        &add(&[("--auth-key", AES128)], &[]),
        &["--auth-key", "hmac-sha1 takes a 160-bit key, not 128 bits"],
    );
    refused(
        &add(&[("--enc", "blowfish"), ("--enc-key", "0x00")], &[]),
        &["40 to 448 bits in steps of 8"],
    );
    refused(
        &add(&[("--enc", "null"), ("--enc-key", AES128)], &[]),
        &["null takes no key"],
    );
}

#[test]
fn malformed_keys() {
    refused(
        &add(&[("--enc-key", "0x0011223344556677889")], &[]),
        &["--enc-key", "19 hex digits is an odd number"],
    );
    refused(
        &add(&[("--enc-key", "0x00112233445566778899aabbccddeefg")], &[]),
        &["'g' at position 34 is not a hex digit"],
    );
    refused(&add(&[("--enc-key", "0x")], &[]), &["0x needs hex digits"]);
    let line = refused(
        &add(&[("--enc-key", "supersecretpassword")], &[]),
        &["is not a key", "@FILE"],
    );
    assert!(!line.contains("supersecret"), "the key was echoed: {line}");
    refused(
        &add(&[("--auth-key", "@/nonexistent/pfkey-test.key")], &[]),
        &["cannot read key file /nonexistent/pfkey-test.key"],
    );
    refused(
        &add(&[("--enc-key", "-"), ("--auth-key", "-")], &[]),
        &["cannot both be read from standard input"],
    );
}

#[test]
fn keys_from_files_and_stdin_are_checked_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("short.key");
    std::fs::write(&path, "0x0011\n").expect("write key");
    let at = format!("@{}", path.display());
    refused(
        &add(&[("--enc-key", &at)], &[]),
        &["aes-cbc takes a 128, 192 or 256-bit key, not 16 bits"],
    );
    let args = add(&[("--auth-key", "-")], &[]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run_with_stdin(&argv, b"0x001122\n");
    check_refused(&r, &argv, &["hmac-sha1 takes a 160-bit key, not 24 bits"]);
}

#[test]
fn missing_keys_and_algorithms() {
    refused(
        &add(&[("--enc-key", "")], &[]),
        &[
            "missing key",
            "aes-cbc needs --enc-key",
            "128, 192 or 256 bits",
        ],
    );
    refused(
        &add(&[("--auth-key", "")], &[]),
        &["missing key", "hmac-sha1 needs --auth-key", "160 bits"],
    );
    refused(
        &add(&[("--enc", ""), ("--enc-key", "")], &[]),
        &["ESP needs an encryption algorithm", "null"],
    );
    refused(
        &add(&[("--auth", "")], &[]),
        &["--auth-key needs --auth ALG"],
    );
    refused(
        &s(&[
            "add", "--ah", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--spi", "300",
        ]),
        &["AH needs an authentication algorithm"],
    );
    refused(
        &s(&[
            "add",
            "--ah",
            "--src",
            "10.0.0.1",
            "--dst",
            "10.0.0.2",
            "--spi",
            "300",
            "--auth",
            "sha1",
            "--auth-key",
            SHA1,
            "--enc",
            "aes",
        ]),
        &["AH does not encrypt"],
    );
    refused(
        &s(&[
            "add", "--ipcomp", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--spi", "300", "--enc",
            "aes",
        ]),
        &["IPComp only compresses"],
    );
    refused(
        &s(&[
            "add", "--ipcomp", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--spi", "300", "--comp",
            "lzs",
        ]),
        &["lzs", "cannot be used through Linux PF_KEY"],
    );
    refused(&add(&[], &["--esp"]), &["--esp"]);
}

#[test]
fn bad_addresses() {
    refused(
        &add(&[("--src", "10.0.0.300")], &[]),
        &["--src '10.0.0.300' is not an IP address"],
    );
    refused(
        &add(&[("--dst", "10.0.0.0/24")], &[]),
        &["--dst '10.0.0.0/24'", "drop the prefix"],
    );
    refused(
        &add(&[("--dst", "gateway.example")], &[]),
        &["names are not resolved"],
    );
    refused(
        &add(&[("--dst", "2001:db8::2")], &[]),
        &["mix IPv4 and IPv6"],
    );
    refused(
        &s(&[
            "get",
            "--esp",
            "--src",
            "2001:db8::1",
            "--dst",
            "10.0.0.2",
            "--spi",
            "0x1000",
        ]),
        &["mix IPv4 and IPv6"],
    );
    refused(
        &s(&[
            "deleteall",
            "--ah",
            "--src",
            "10.0.0.1",
            "--dst",
            "fe80::1%eth0",
        ]),
        &["--dst 'fe80::1%eth0' is not an IP address"],
    );
}

#[test]
fn spi_range() {
    refused(
        &add(&[("--spi", "0x100000000")], &[]),
        &["SPI 0x100000000 is out of range", "32 bits"],
    );
    refused(&add(&[("--spi", "0")], &[]), &["SPI 0 is reserved"]);
    refused(
        &add(&[("--spi", "12ab")], &[]),
        &["SPI '12ab' is not a number"],
    );
    refused(
        &s(&[
            "add", "--ipcomp", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--spi", "0x10000",
        ]),
        &["CPI 0x10000 is out of range", "16 bits"],
    );
    refused(
        &s(&[
            "delete", "--esp", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--spi", "-1",
        ]),
        &["SPI '-1' is not a number"],
    );
    refused(
        &s(&[
            "getspi",
            "--esp",
            "--src",
            "10.0.0.1",
            "--dst",
            "10.0.0.2",
            "--range",
            "0x2000-0x1000",
        ]),
        &["SPI range '0x2000-0x1000' is empty"],
    );
    refused(
        &s(&[
            "getspi",
            "--ipcomp",
            "--src",
            "10.0.0.1",
            "--dst",
            "10.0.0.2",
            "--range",
            "0x100-0x20000",
        ]),
        &["an IPComp CPI is 16 bits"],
    );
}

#[test]
fn nat_traversal_needs_esp_and_ports() {
    refused(
        &add(&[], &["--encap", "espinudp"]),
        &["--encap espinudp needs --sport PORT and --dport PORT"],
    );
    refused(
        &add(&[], &["--encap", "espinudp", "--sport", "4500"]),
        &["needs --sport PORT and --dport PORT"],
    );
    refused(
        &add(&[], &["--sport", "4500", "--dport", "4500"]),
        &["--sport is for NAT traversal", "--encap espinudp"],
    );
    refused(
        &add(
            &[],
            &["--encap", "espinudp", "--sport", "0", "--dport", "4500"],
        ),
        &["--sport '0' is not a UDP port"],
    );
    refused(
        &add(
            &[],
            &["--encap", "espinudp", "--sport", "4500", "--dport", "70000"],
        ),
        &["--dport '70000' is not a UDP port"],
    );
    refused(
        &s(&[
            "add",
            "--ah",
            "--auth",
            "sha1",
            "--auth-key",
            SHA1,
            "--src",
            "10.0.0.1",
            "--dst",
            "10.0.0.2",
            "--spi",
            "300",
            "--encap",
            "espinudp",
            "--sport",
            "4500",
            "--dport",
            "4500",
        ]),
        &["--encap espinudp is for ESP only"],
    );
    refused(
        &add(&[], &["--encap", "espinudp-non-ike"]),
        &["espinudp-non-ike", "--encap"],
    );
}

#[test]
fn lifetimes_and_numbers() {
    refused(
        &add(&[], &["--hard-time", "1h", "--soft-time", "2h"]),
        &["--soft-time 7200 is above --hard-time 3600"],
    );
    refused(
        &add(&[], &["--hard-bytes", "1M", "--soft-bytes", "2M"]),
        &["--soft-bytes", "above --hard-bytes"],
    );
    refused(
        &add(&[], &["--hard-time", "1x"]),
        &["--hard-time: duration '1x' is not seconds"],
    );
    refused(
        &add(&[], &["--soft-bytes", "5Q"]),
        &["--soft-bytes: byte count '5Q'"],
    );
    refused(
        &add(&[], &["--hard-packets", "99999999999"]),
        &["--hard-packets '99999999999' is not a number from 0 to 4294967295"],
    );
    refused(
        &add(&[], &["--replay", "256"]),
        &["--replay '256' is not a number from 0 to 255"],
    );
    refused(&add(&[], &["--reqid", "seven"]), &["--reqid 'seven'"]);
    refused(
        &add(&[], &["--mode", "tunel"]),
        &[
            "invalid value 'tunel' for '--mode <MODE>' [possible values: transport, tunnel, beet, any]",
            "a similar value exists: 'tunnel'",
            "(see 'pfkey add --help')",
        ],
    );
    refused(&add(&[], &["--flags", "noecn,bogus"]), &["bogus"]);
}

#[test]
fn command_line_structure_errors_are_one_line_too() {
    refused(
        &s(&["add", "--esp", "aes", "--src", "10.0.0.1"]),
        &[
            "required arguments were not provided",
            "--dst",
            "--spi",
            "pfkey add --help",
        ],
    );
    refused(
        &s(&[
            "get", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--spi", "1000",
        ]),
        &["--esp", "pfkey get --help"],
    );
    refused(
        &s(&[
            "delete", "--esp", "--ah", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--spi", "1",
        ]),
        &["cannot be used with"],
    );
    refused(&s(&["flush", "tcp"]), &["tcp"]);
    refused(&s(&["dump", "--type", "rsvp"]), &["rsvp"]);
    refused(&s(&["nosuchcommand"]), &["nosuchcommand"]);
    refused(
        &s(&["dump", "--json", "--format", "setkey"]),
        &["--json is --format json"],
    );
    refused(
        &s(&[
            "delete",
            "--esp",
            "--src",
            "10.0.0.1",
            "--dst",
            "10.0.0.2",
            "--spi",
            "1",
            "--show-keys",
        ]),
        &["--show-keys is for get and dump"],
    );
    refused(&s(&["man", "nosuch"]), &["man: no command 'nosuch'", "add"]);
}

#[test]
fn without_pf_key_the_socket_commands_exit_69_with_the_modprobe_hint() {
    // This host's kernel has no PF_KEY (see the file's doc): opening the socket fails.
    for args in [
        &["dump"][..],
        &["flush"],
        &["algorithms"],
        &["getspi", "--esp", "--src", "10.0.0.1", "--dst", "10.0.0.2"],
        &[
            "get", "--ah", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--spi", "300",
        ],
        &["monitor"],
    ] {
        let r = run(args);
        assert_eq!(r.code, 69, "{args:?}: {r:?}");
        assert_eq!(r.stdout, "");
        assert_eq!(
            r.stderr,
            "pfkey: this kernel has no PF_KEY support (CONFIG_NET_KEY, module af_key): modprobe af_key\n",
            "{args:?}"
        );
    }
}

#[test]
fn keys_on_the_command_line_warn_once_unless_quiet() {
    let args = add(&[], &[]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&argv);
    // Valid input: the warning, then the socket fails (no PF_KEY here).
    assert_eq!(r.code, 69, "{r:?}");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{r:?}");
    assert_eq!(
        lines[0],
        "pfkey: warning: the keys given with --enc-key and --auth-key are visible to other users \
         (ps, /proc/PID/cmdline); use @FILE or - (standard input) instead"
    );
    assert!(!r.stderr.contains("00112233"), "a key leaked: {r:?}");
    let mut quiet = vec!["--quiet"];
    quiet.extend_from_slice(&argv);
    let r = run(&quiet);
    assert_eq!(r.code, 69);
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");

    // Keys from a file: no warning.
    let dir = tempfile::tempdir().expect("temp dir");
    let (ek, ak) = (dir.path().join("enc"), dir.path().join("auth"));
    std::fs::write(&ek, AES128).expect("write");
    std::fs::write(&ak, [7u8; 20]).expect("write raw key");
    let (ek, ak) = (format!("@{}", ek.display()), format!("@{}", ak.display()));
    let args = add(&[("--enc-key", &ek), ("--auth-key", &ak)], &[]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&argv);
    assert_eq!(r.code, 69, "{r:?}");
    assert!(!r.stderr.contains("warning"), "{r:?}");
    // `random` is not typed on the command line either, and is printed only after the
    // kernel took the SA (here it cannot).
    let args = add(&[("--enc-key", "random"), ("--auth-key", "random")], &[]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&argv);
    assert_eq!((r.code, r.stdout.as_str()), (69, ""), "{r:?}");
    assert!(!r.stderr.contains("warning"), "{r:?}");
}

#[test]
fn replay_above_32_is_a_warning_not_an_error() {
    let args = add(
        &[("--enc-key", "random"), ("--auth-key", "random")],
        &["--replay", "64"],
    );
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&argv);
    assert_eq!(r.code, 69, "{r:?}");
    assert!(
        r.stderr
            .starts_with("pfkey: warning: --replay 64: Linux keeps at most a 32-packet window"),
        "{r:?}"
    );
}

#[test]
fn the_design_card_spelling_parses() {
    let r = run(&[
        "-q",
        "add",
        "--esp",
        "aes",
        "--auth",
        "md5",
        "--src",
        "10.0.0.1",
        "--dst",
        "10.0.0.2",
        "--spi",
        "0x1000",
        "--enc-key",
        AES128,
        "--auth-key",
        AES128,
    ]);
    assert_eq!(r.code, 69, "valid input reaches the socket: {r:?}");
}

#[test]
fn help_documents_exit_codes_and_keys() {
    let r = run(&["--help"]);
    assert_eq!(r.code, 0);
    for w in [
        "Exit status:",
        " 1  the kernel refused",
        " 2  usage error",
        "69",
        "77",
    ] {
        assert!(r.stdout.contains(w), "--help lacks {w:?}:\n{}", r.stdout);
    }
    for cmd in [
        "add",
        "update",
        "get",
        "delete",
        "deleteall",
        "flush",
        "getspi",
        "dump",
    ] {
        assert!(
            r.stdout.contains(&format!("  {cmd} ")),
            "--help lacks {cmd}"
        );
    }
    let r = run(&["add", "--help"]);
    assert_eq!(r.code, 0);
    for w in [
        "--enc-key <KEY>",
        "random",
        "@FILE",
        "visible to other users",
        "Examples:",
    ] {
        assert!(r.stdout.contains(w), "add --help lacks {w:?}");
    }
}

#[test]
fn completions_and_man_pages_are_generated() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = run(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {r:?}");
        assert!(r.stdout.contains("pfkey"), "{shell}");
        assert!(
            r.stdout.contains("getspi"),
            "{shell}: subcommands completed"
        );
        // The commands' own options are deferred (cli::Command): they must be there too.
        assert!(
            r.stdout.contains("enc-key"),
            "{shell}: options of subcommands completed"
        );
    }
    let r = run(&["man"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.starts_with(".ie") || r.stdout.contains(".TH pfkey"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
    assert!(r.stdout.contains("deleteall"));
    let r = run(&["man", "add"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains(".TH pfkey-add"),
        "{}",
        &r.stdout[..300.min(r.stdout.len())]
    );
    assert!(r.stdout.contains("enc\\-key"));
    // The command's own help text, not its argument struct's (cli::Command, defer).
    assert!(r.stdout.contains("Add a security association (SADB_ADD)"));
    let r = run(&["update", "--help"]);
    assert!(r.stdout.starts_with("Change an SA"), "{}", r.stdout);
    let r = run(&["--help"]);
    assert!(r.stdout.contains("Show one SA (SADB_GET)"), "{}", r.stdout);
}

#[test]
fn algorithms_for_ipcomp_need_no_kernel() {
    let r = run(&["algorithms", "--type", "ipcomp"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("deflate"));
    let r = run(&["--json", "algorithms", "--type", "ipcomp"]);
    assert_eq!(r.code, 0, "{r:?}");
    let first: serde_json::Value =
        serde_json::from_str(r.stdout.lines().next().expect("a line")).expect("JSON");
    assert_eq!(first["kind"], "compress");
}

#[test]
fn a_closed_standard_output_ends_quietly() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = pfkey()
        .args(["completions", "bash"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run pfkey");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
