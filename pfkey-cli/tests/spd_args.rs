//! The security policy commands' command-line checks, on a host without PF_KEY (the dev
//! and CI machines: `socket(PF_KEY, …)` fails with EAFNOSUPPORT there).
//!
//! Every bad input must be refused with exit status 2 and one line on standard error that
//! says what is wrong (clap's own errors for closed sets such as `--dir` have clap's
//! layout). Opening the socket on this host ends in status 69, so a 2 also proves that
//! the check ran before any socket was opened, and so before the SPD could change. The
//! kernel-side counterparts (the SPD unchanged afterwards, EEXIST, ENOENT, EINVAL for an
//! outbound optional tunnel, ELOOP) are in `tests/kernel/tests/spd_cli.rs`, run in the
//! kernel lab.

use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = Command::cargo_bin("pfkey")
        .expect("the pfkey binary is built")
        .args(args)
        .output()
        .expect("run pfkey");
    Run {
        code: out.status.code().expect("exit code, not a signal"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

const NO_PFKEY: &str =
    "pfkey: this kernel has no PF_KEY support (CONFIG_NET_KEY, module af_key): modprobe af_key\n";

/// `spdadd` with a valid selector and template, `edit` replacing or adding options.
fn spdadd(edit: &[(&str, &str)]) -> Vec<String> {
    let mut opts: Vec<(String, String)> = [
        ("--src", "10.1.0.0/24"),
        ("--dst", "10.2.0.0/24"),
        ("--dir", "out"),
        ("--tmpl", "esp/tunnel/192.0.2.1-192.0.2.2/require"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    for (o, v) in edit {
        match opts.iter_mut().find(|(x, _)| x == o) {
            Some(slot) if v.is_empty() => slot.0.clear(),
            Some(slot) => slot.1 = v.to_string(),
            None => opts.push((o.to_string(), v.to_string())),
        }
    }
    let mut args = vec!["spdadd".to_string()];
    for (o, v) in opts {
        if !o.is_empty() {
            args.push(o);
            args.push(v);
        }
    }
    args
}

/// Options to change in the valid `spdadd`, and the words the refusal must contain.
type Case = (
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Asserts a refusal: status 2, nothing on standard output, one `pfkey: ` line on
/// standard error containing every piece of `words`.
fn refused(args: &[&str], words: &[&str]) {
    let r = run(args);
    assert_eq!(r.code, 2, "{args:?}: {r:?}");
    assert_eq!(r.stdout, "", "{args:?}");
    assert!(
        r.stderr.starts_with("pfkey: ") && r.stderr.lines().count() == 1,
        "{args:?}: not one line: {:?}",
        r.stderr
    );
    for w in words {
        assert!(r.stderr.contains(w), "{args:?}: {:?} lacks {w:?}", r.stderr);
    }
}

#[test]
fn bad_selectors_are_refused_before_the_socket() {
    let cases: &[Case] = &[
        (
            &[("--dst", "2001:db8::/32")],
            &["--src 10.1.0.0/24 and --dst 2001:db8::/32 mix IPv4 and IPv6"],
        ),
        (&[("--src", "10.1.0.0/33")], &["prefix length", "0 to 32"]),
        (&[("--src", "gateway.example")], &["names are not resolved"]),
        (&[("--src", "")], &["needs both --src and --dst"]),
        (&[("--dport", "80")], &["--dport needs --proto tcp"]),
        (
            &[("--proto", "icmp"), ("--sport", "1")],
            &["icmp has no ports", "--icmp-type"],
        ),
        (
            &[("--proto", "gre"), ("--dport", "1")],
            &["protocol gre has no ports"],
        ),
        (
            &[("--proto", "tcp"), ("--dport", "70000")],
            &["--dport 70000 is not a port"],
        ),
        (
            &[("--proto", "tcp"), ("--sport", "nosuchservice")],
            &["neither a port number nor a service name"],
        ),
        (&[("--icmp-type", "8")], &["--icmp-type needs --proto icmp"]),
        (
            &[("--proto", "icmp6"), ("--icmp-code", "1")],
            &["--icmp-code needs --icmp-type"],
        ),
        (
            &[("--proto", "icmp"), ("--icmp-type", "300")],
            &["--icmp-type '300' is not a number from 0 to 255"],
        ),
        (&[("--proto", "300")], &["out of range"]),
        (&[("--proto", "0")], &["write --proto any"]),
        (&[("--proto", "tcpp")], &["unknown protocol 'tcpp'"]),
        (&[("--priority", "urgent")], &["--priority 'urgent'"]),
    ];
    for (edit, words) in cases {
        refused(&strs(&spdadd(edit)), words);
    }
}

#[test]
fn bad_templates_and_actions_are_refused_before_the_socket() {
    let cases: &[Case] = &[
        (
            &[("--tmpl", "esp/tunnel//require")],
            &["tunnel mode needs the tunnel endpoints"],
        ),
        (
            &[("--tmpl", "esp/tunnel")],
            &["tunnel mode needs the tunnel endpoints"],
        ),
        (
            &[("--tmpl", "esp/transport/10.0.0.1-10.0.0.2/require")],
            &["endpoints belong to tunnel mode only"],
        ),
        (
            &[("--tmpl", "esp/tunnel/10.0.0.1-2001:db8::2/require")],
            &["mix IPv4 and IPv6"],
        ),
        (
            &[("--tmpl", "esp/tunnel/10.0.0.1/require")],
            &["not a pair of tunnel endpoints"],
        ),
        (
            &[("--tmpl", "esp/transport//requir")],
            &["unknown level 'requir'", "did you mean require?"],
        ),
        (
            &[("--tmpl", "esp/transport//always")],
            &["unknown level 'always'", "require, use, unique"],
        ),
        (
            &[("--tmpl", "esp/transport//require:7")],
            &["only 'unique' takes a reqid"],
        ),
        (
            &[("--tmpl", "espp/transport")],
            &["unknown protocol 'espp'", "did you mean esp?"],
        ),
        (
            &[("--tmpl", "esp/tunel/192.0.2.1-192.0.2.2")],
            &["unknown mode 'tunel'", "did you mean tunnel?"],
        ),
        (&[("--tmpl", "esp")], &["is not PROTO/MODE"]),
        (&[("--tmpl", "/")], &["unknown protocol ''"]),
        (
            &[("--action", "bypass")],
            &["--action bypass takes no --tmpl"],
        ),
    ];
    for (edit, words) in cases {
        refused(&strs(&spdadd(edit)), words);
    }
    refused(
        &[
            "spdadd", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dir", "out",
        ],
        &[
            "an ipsec policy needs at least one --tmpl",
            "--action bypass",
        ],
    );
}

#[test]
fn closed_sets_are_checked_by_clap_with_a_suggestion() {
    let r = run(&strs(&spdadd(&[("--dir", "inn")])));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("invalid value 'inn' for '--dir <DIR>'")
            && r.stderr.contains("[possible values: in, out, fwd]")
            && r.stderr.contains("a similar value exists: 'in'"),
        "{r:?}"
    );
    let r = run(&strs(&spdadd(&[("--action", "allow")])));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("[possible values: ipsec, bypass, discard]"),
        "{r:?}"
    );
    let r = run(&["spddelete", "--id", "9", "--src", "10.0.0.1"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("cannot be used with"), "{r:?}");
    let r = run(&["spdget"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("<--id <ID>|--dir <DIR>>"), "{r:?}");
    let r = run(&["spddelete", "--dir", "out", "--src", "10.0.0.1"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--dst <PREFIX>"), "{r:?}");
}

#[test]
fn bad_ids_and_formats_are_refused_before_the_socket() {
    refused(
        &["spdget", "--id", "nine"],
        &["--id 'nine' is not a policy id"],
    );
    refused(&["spddelete", "--id", "-1"], &["is not a policy id"]);
    refused(
        &["spddelete", "--id", "9", "--format", "json"],
        &["spddelete prints nothing"],
    );
    refused(
        &["--json", "spddump", "--format", "setkey"],
        &["--json and --format setkey contradict each other"],
    );
    refused(
        &["spdget", "--json", "--id", "9", "--format", "text"],
        &["contradict each other"],
    );
    refused(
        &["spdget", "--src", "10.0.0.1", "--dst", "::1", "--dir", "in"],
        &["mix IPv4 and IPv6"],
    );
}

#[test]
fn valid_commands_reach_the_socket_and_exit_69_here() {
    let add = spdadd(&[
        ("--proto", "tcp"),
        ("--dport", "https"),
        ("--priority", "high"),
    ]);
    let icmp = spdadd(&[
        ("--src", "::/0"),
        ("--dst", "::/0"),
        ("--proto", "icmp6"),
        ("--icmp-type", "135"),
        ("--tmpl", ""),
        ("--action", "bypass"),
    ]);
    let mut update = add.clone();
    update[0] = "spdupdate".into();
    let six = spdadd(&[
        ("--src", "2001:db8:1::/48"),
        ("--dst", "2001:db8:2::/48"),
        ("--dir", "fwd"),
        ("--tmpl", "esp/tunnel/2001:db8::1-2001:db8::2/unique:5"),
    ]);
    for args in [
        strs(&add),
        strs(&icmp),
        strs(&update),
        strs(&six),
        vec!["spddelete", "--id", "0x19"],
        vec![
            "spddelete",
            "--src",
            "10.1.0.0/24",
            "--dst",
            "10.2.0.0/24",
            "--dir",
            "out",
        ],
        vec!["spdget", "--id", "9"],
        vec![
            "spdget",
            "--src",
            "10.1.0.0/24",
            "--dst",
            "10.2.0.0/24",
            "--dir",
            "in",
            "--format",
            "setkey",
        ],
        vec!["spddump"],
        vec!["--json", "spddump"],
        vec!["spddump", "--format", "setkey"],
        vec!["spdflush"],
    ] {
        let r = run(&args);
        assert_eq!((r.code, r.stdout.as_str()), (69, ""), "{args:?}: {r:?}");
        assert_eq!(r.stderr, NO_PFKEY, "{args:?}");
    }
}

#[test]
fn warnings_come_first_and_quiet_silences_them() {
    let args = spdadd(&[("--src", "10.1.0.1/24")]);
    let r = run(&strs(&args));
    assert_eq!(r.code, 69, "{r:?}");
    assert_eq!(
        r.stderr,
        format!(
            "pfkey: warning: --src 10.1.0.1/24 has bits set beyond /24: the kernel matches the \
             whole /24 network but keeps the address as given, so name it the same way to \
             delete it\n{NO_PFKEY}"
        )
    );
    let mut quiet = vec!["--quiet".to_string()];
    quiet.extend(args);
    let r = run(&strs(&quiet));
    assert_eq!(r.stderr, NO_PFKEY);
    let r = run(&strs(&spdadd(&[
        ("--proto", "icmp"),
        ("--icmp-type", "0"),
        ("--dst", "10.2.0.0/24"),
    ])));
    assert!(
        r.stderr
            .starts_with("pfkey: warning: --icmp-type 0 selects any type"),
        "{r:?}"
    );
}

#[test]
fn help_shows_the_template_syntax() {
    let r = run(&["spdadd", "--help"]);
    assert_eq!(r.code, 0);
    for w in [
        "esp/tunnel/192.0.2.1-192.0.2.2/require",
        "innermost first",
        "refuses optional ('use') tunnel templates in out policies since May 2023",
        "--icmp-type",
    ] {
        assert!(r.stdout.contains(w), "help lacks {w:?}");
    }
    let r = run(&["--help"]);
    for cmd in [
        "spdadd",
        "spdupdate",
        "spddelete",
        "spdget",
        "spddump",
        "spdflush",
    ] {
        assert!(r.stdout.contains(cmd), "--help lacks {cmd}");
    }
}
