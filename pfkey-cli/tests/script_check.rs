//! setkey-language scripts on a host without a kernel: `pfkey check`, `pfkey -n -f`,
//! `pfkey -n -c` validate whole scripts without opening a PF_KEY socket (these machines'
//! kernels have none, so a check that tried would fail), report every error with its
//! place, and exit 65; `pfkey -f` and `-c` parse completely before they open the socket,
//! so a bad script is reported identically with or without af_key, and a good one reaches
//! the socket (exit 69 here).
//!
//! The tests that reach the socket use scripts that change nothing (a `get` of an SA in
//! TEST-NET space that does not exist), and on a host that has af_key they assert what such
//! a host answers instead of 69.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;

fn pfkey() -> Command {
    Command::cargo_bin("pfkey").expect("the pfkey binary is built")
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], stdin: &str) -> Run {
    run_in(None, args, stdin)
}

fn run_in(dir: Option<&Path>, args: &[&str], stdin: &str) -> Run {
    let mut cmd = pfkey();
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pfkey");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for pfkey");
    writer.join().expect("stdin writer");
    Run {
        code: out.status.code().expect("exit code, not a signal"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// A script file in a temporary directory.
struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Self {
        Files(tempfile::tempdir().expect("temporary directory"))
    }
    fn write(&self, name: &str, text: &str) -> String {
        let p = self.0.path().join(name);
        fs::write(&p, text).expect("write script");
        p.to_string_lossy().into_owned()
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
}

/// Whether this host's kernel has PF_KEY (the CI machines' do not).
fn host_has_pfkey() -> bool {
    !matches!(
        pfkey::socket::PfKeySocket::open(),
        Err(pfkey::client::Error::NoPfKey)
    )
}

/// The first line of every diagnostic block on stderr (`FILE:LINE:COL: …`).
fn diagnostic_lines(stderr: &str, file: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with(file))
        .map(|l| l[file.len()..].to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Good scripts
// ---------------------------------------------------------------------------------------------

// setkey(8)'s examples that are valid on Linux, numeric (host names are resolved by the
// check, and these machines have no DNS).
#[path = "../../tests/scripts/manual.rs"]
mod manual;

#[path = "../../tests/scripts/ltp.rs"]
mod ltp;
use ltp::ltp_script;

#[test]
fn the_manual_examples_check_clean_and_silently() {
    let f = Files::new();
    let p = f.write("manual.conf", &manual::ALL.join("\n"));
    for args in [vec!["check", &p], vec!["-n", "-f", &p]] {
        let r = run(&args, "");
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""), "{args:?}");
    }
}

#[test]
fn every_ltp_shape_checks_and_tunnel_shapes_warn_about_the_kernel_change() {
    let f = Files::new();
    let mut n = 0;
    for proto in ["ah", "esp", "ipcomp"] {
        for mode in ["transport", "tunnel"] {
            for v6 in [false, true] {
                for target_src in [true, false] {
                    n += 1;
                    let script = ltp_script(proto, mode, v6, target_src);
                    let p = f.write(&format!("ltp{n}.conf"), &script);
                    // LTP feeds setkey -c on standard input.
                    let r = run(&["-n", "-c"], &script);
                    assert_eq!(r.code, 0, "{script}\n{r:?}");
                    let r2 = run(&["check", &p], "");
                    assert_eq!(r2.code, 0, "{r2:?}");
                    if mode == "tunnel" {
                        // Exactly one warning: the outbound optional tunnel rule.
                        assert_eq!(r.stderr.matches(": warning: ").count(), 1, "{}", r.stderr);
                        assert!(r.stderr.contains("cf3128a7aca5"), "{}", r.stderr);
                        let line = if target_src { 10 } else { 13 };
                        assert!(
                            r.stderr.starts_with(&format!("<stdin>:{line}:")),
                            "{}",
                            r.stderr
                        );
                    } else {
                        assert_eq!(r.stderr, "", "{script}");
                    }
                }
            }
        }
    }
    assert_eq!(n, 24);
}

#[test]
fn quiet_hides_warnings_but_json_lists_them() {
    let script = ltp_script("esp", "tunnel", false, true);
    let r = run(&["-q", "check"], &script);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    let r = run(&["--json", "check", "-"], &script);
    assert_eq!(r.code, 0);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["file"], "<stdin>");
    assert_eq!(lines[0]["line"], 10);
    assert_eq!(lines[0]["column"], 18);
    assert_eq!(lines[0]["severity"], "warning");
    assert!(lines[0]["message"]
        .as_str()
        .unwrap()
        .contains("cf3128a7aca5"));
}

// ---------------------------------------------------------------------------------------------
// Malformed scripts
// ---------------------------------------------------------------------------------------------

/// Every malformed case of the issue, with the exact first line of its diagnostic.
const MALFORMED: &[(&str, &str, &str)] = &[
    (
        "unterminated statement",
        "flush ;\nadd 10.0.0.1 10.0.0.2 esp 0x1000\n    -E aes-cbc 0x00112233445566778899aabbccddeeff\n",
        ":3:50: unterminated statement: the 'add' statement at 2:1 has no ';' before the end of the file",
    ),
    (
        "unknown option",
        "add 10.0.0.1 10.0.0.2 esp 0x1000 -x 3 -E null ;\n",
        ":1:34: unknown SA option '-x' (expected -m, -r, -u, -f, -lh, -ls, -bh, -bs, -E, -A, -C, -ctx)",
    ),
    (
        "bad key length",
        "add 10.0.0.1 10.0.0.2 esp 0x1000\n\t-E aes-cbc 0x00112233 ;\n",
        ":2:13: invalid key length: aes-cbc takes a 128, 192 or 256-bit key, not 32 bits",
    ),
    (
        "bad key digit",
        "add 10.0.0.1 10.0.0.2 ah 0x1000 -A hmac-md5 0x0011223344556677889900aabbccddzz ;\n",
        ":1:77: not a hex digit: a 0x key takes only 0-9 and a-f",
    ),
    (
        "redacted key",
        "add 10.0.0.1 10.0.0.2 ah 0x1000 -A hmac-sha1 <redacted> ;\n",
        ":1:46: the hmac-sha1 key was removed by 'pfkey save --redact': put the real key here",
    ),
    (
        "bad prefix",
        "spdadd 10.0.0.0/33 10.0.0.1 any -P out none ;\n",
        ":1:17: prefix /33 is too long for an IPv4 address (at most /32)",
    ),
    (
        "bad IPv6 prefix",
        "spdadd fd00::/129 fd00::1 any -P out none ;\n",
        ":1:15: prefix /129 is too long for an IPv6 address (at most /128)",
    ),
    (
        "missing policy",
        "spdadd 10.0.0.2 10.0.0.1 any ;\n",
        ":1:30: missing policy: 'spdadd' needs -P DIRECTION ACTION before ';' (e.g. -P out ipsec esp/transport//require)",
    ),
];

#[test]
fn each_malformed_case_has_a_precise_error_and_exit_65() {
    let f = Files::new();
    for (what, script, want) in MALFORMED {
        let p = f.write("bad.conf", script);
        for args in [vec!["check", p.as_str()], vec!["-n", "-f", p.as_str()]] {
            let r = run(&args, "");
            assert_eq!(r.code, 65, "{what}: {r:?}");
            assert_eq!(r.stdout, "", "{what}");
            let lines = diagnostic_lines(&r.stderr, &p);
            assert_eq!(lines, vec![want.to_string()], "{what}: {}", r.stderr);
        }
        // From standard input too.
        let r = run(&["-n", "-c"], script);
        assert_eq!(r.code, 65, "{what}");
        assert_eq!(
            diagnostic_lines(&r.stderr, "<stdin>"),
            vec![want.to_string()],
            "{what}"
        );
    }
}

#[test]
fn a_diagnostic_shows_the_line_and_a_caret_under_the_token() {
    let r = run(
        &["check"],
        "# vpn\nadd 10.0.0.1 10.0.0.2 esp 0x1000 -x 3 -E null ;\n",
    );
    assert_eq!(r.code, 65);
    assert_eq!(
        r.stderr,
        "<stdin>:2:34: unknown SA option '-x' (expected -m, -r, -u, -f, -lh, -ls, -bh, -bs, -E, \
         -A, -C, -ctx)\n \
         2 | add 10.0.0.1 10.0.0.2 esp 0x1000 -x 3 -E null ;\n   \
           |                                  ^^\n\
         pfkey: <stdin>: 1 error\n"
    );
}

#[test]
fn every_error_of_a_file_is_reported_not_only_the_first() {
    let script: String = MALFORMED
        .iter()
        .filter(|(what, _, _)| *what != "unterminated statement")
        .map(|(_, s, _)| *s)
        .collect::<Vec<_>>()
        .join("flush ;\n");
    let r = run(&["check"], &script);
    assert_eq!(r.code, 65);
    let lines = diagnostic_lines(&r.stderr, "<stdin>");
    assert_eq!(lines.len(), MALFORMED.len() - 1, "{}", r.stderr);
    assert!(
        r.stderr.ends_with("pfkey: <stdin>: 7 errors\n"),
        "{}",
        r.stderr
    );
    // Lines increase: the errors come in source order.
    let nums: Vec<usize> = lines
        .iter()
        .map(|l| l.split(':').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(nums.windows(2).all(|w| w[0] < w[1]), "{nums:?}");
}

#[test]
fn several_files_are_all_checked() {
    let f = Files::new();
    let good = f.write("good.conf", &manual::ALL.join("\n"));
    let bad1 = f.write("bad1.conf", MALFORMED[1].1);
    let bad2 = f.write("bad2.conf", MALFORMED[5].1);
    let r = run(&["check", &bad1, &good, &bad2], "");
    assert_eq!(r.code, 65);
    assert_eq!(diagnostic_lines(&r.stderr, &bad1).len(), 1);
    assert_eq!(diagnostic_lines(&r.stderr, &bad2).len(), 1);
    assert!(!r.stderr.contains("good.conf"), "{}", r.stderr);
    // A file that cannot be opened is reported, the others still checked: exit 66.
    let missing = f.path().join("missing.conf");
    let r = run(&["check", missing.to_str().unwrap(), &good], "");
    assert_eq!(r.code, 66, "{r:?}");
    assert!(
        r.stderr.contains("missing.conf: cannot open"),
        "{}",
        r.stderr
    );
}

#[test]
fn keys_never_appear_in_diagnostics() {
    let script = "add 10.0.0.1 10.0.0.2 esp 0x1000 -E aes-cbc 0x0011223344556677 \
                  -A hmac-sha1 \"a secret phrase!!!!!\" -x ;\n\
                  add 10.0.0.1 10.0.0.2 ah 0x1001 -A hmac-md5 \"short secret\" ;\n";
    for args in [vec!["check"], vec!["--json", "check"], vec!["-n", "-c"]] {
        let r = run(&args, script);
        assert_eq!(r.code, 65, "{r:?}");
        for secret in ["0011223344556677", "a secret phrase", "short secret"] {
            assert!(!r.stderr.contains(secret), "{args:?}: {}", r.stderr);
            assert!(!r.stdout.contains(secret), "{args:?}: {}", r.stdout);
        }
    }
}

#[test]
fn a_script_that_is_not_text_is_refused() {
    let f = Files::new();
    let p = f.0.path().join("bin.conf");
    fs::write(&p, b"flush ;\nadd \xff\xfe ;\n").unwrap();
    let r = run(&["check", p.to_str().unwrap()], "");
    assert_eq!(r.code, 65);
    assert!(
        r.stderr.contains("bin.conf:2:5: the script is not UTF-8"),
        "{}",
        r.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Running: parse first, then the socket
// ---------------------------------------------------------------------------------------------

/// Changes nothing on any kernel: the SA does not exist.
const HARMLESS: &str = "get 192.0.2.1 192.0.2.2 esp 0x4d2 ;\n";

/// What a run of [`HARMLESS`] ends with on this host.
#[track_caller]
fn assert_reached_the_socket(r: &Run) {
    if host_has_pfkey() {
        // ESRCH as root, no permission otherwise.
        assert!(matches!(r.code, 1 | 77), "{r:?}");
    } else {
        assert_eq!(r.code, 69, "{r:?}");
        assert_eq!(
            r.stderr,
            "pfkey: this kernel has no PF_KEY support (CONFIG_NET_KEY, module af_key): modprobe \
             af_key\n"
        );
    }
    assert_eq!(r.stdout, "");
}

#[test]
fn a_good_script_is_parsed_then_sent() {
    let f = Files::new();
    let p = f.write("get.conf", HARMLESS);
    assert_reached_the_socket(&run(&["-f", &p], ""));
    assert_reached_the_socket(&run(&["-c"], HARMLESS));
    assert_reached_the_socket(&run(&["-f", "-"], HARMLESS));
    assert_reached_the_socket(&run(&["--keep-going", "-k", "-f", &p], ""));
}

#[test]
fn a_bad_script_is_refused_before_the_socket_is_opened() {
    let f = Files::new();
    let good = f.write("good.conf", HARMLESS);
    let (_, script, want) = MALFORMED[0];
    let bad = f.write("bad.conf", script);
    for args in [
        vec!["-f", bad.as_str()],
        // A bad file anywhere stops every file: nothing is sent.
        vec!["-f", good.as_str(), "-f", bad.as_str()],
    ] {
        let r = run(&args, "");
        assert_eq!(r.code, 65, "{args:?}: {r:?}");
        assert_eq!(diagnostic_lines(&r.stderr, &bad), vec![want.to_string()]);
        assert!(
            r.stderr
                .ends_with("pfkey: 1 error: nothing was sent to the kernel\n"),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("PF_KEY support"), "{}", r.stderr);
    }
    let r = run(&["-c"], script);
    assert_eq!(r.code, 65);
    assert!(r.stderr.contains("nothing was sent"), "{}", r.stderr);
}

#[test]
fn a_run_prints_no_warnings_unless_verbose() {
    // LTP treats any output as failure: a run is silent up to its first error. (The
    // statement is refused by every kernel since May 2023, so a run could not succeed;
    // what matters here is that the warning is not printed before the socket.)
    let script = "spdadd 10.0.0.2 10.0.0.1 any -P out ipsec esp/tunnel/10.0.0.2-10.0.0.1/use ;\n";
    let f = Files::new();
    let p = f.write("tunnel.conf", script);
    let r = run(&["-f", &p], "");
    if !host_has_pfkey() {
        assert_eq!(r.code, 69);
        assert!(!r.stderr.contains("warning"), "{}", r.stderr);
        let r = run(&["-v", "-f", &p], "");
        assert_eq!(r.code, 69);
        assert!(
            r.stderr.contains(": warning: Linux refuses optional"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_missing_file_is_66() {
    let r = run(&["-f", "/nonexistent/pfkey-test.conf"], "");
    assert_eq!(r.code, 66);
    assert_eq!(
        r.stderr,
        "pfkey: /nonexistent/pfkey-test.conf: cannot open: No such file or directory (os error \
         2)\n"
    );
}

#[test]
fn setkey_dump_and_flush_shortcuts_reach_the_socket() {
    if host_has_pfkey() {
        // They would read or change this host's tables: only the refusals are checked.
        return assert_eq!(run(&["-a"], "").code, 2);
    }
    for args in [
        &["-D"][..],
        &["-D", "-P"],
        &["-DP"],
        &["-F"],
        &["-FP"],
        &["-D", "-a"],
        &["-x"],
        &["-x", "--show-keys"],
    ] {
        let r = run(args, "");
        assert_eq!(r.code, 69, "{args:?}: {r:?}");
    }
}

#[test]
fn option_combinations_that_make_no_sense_are_usage_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["-n"], "-n checks a script"),
        (&["-P"], "-P goes with -D"),
        (&["-a"], "-a goes with -D"),
        (&["-v"], "nothing to do"),
        (&["-D", "-F"], "cannot be used with"),
        (&["-f", "x", "-c"], "cannot be used with"),
        (&["-f", "x", "-D"], "cannot be used with"),
        (&["-x", "-f", "x"], "cannot be used with"),
        (&["-x", "-D"], "cannot be used with"),
        (&["-x", "-n"], "cannot be used with"),
        (
            &["-x", "monitor"],
            "-x is an option of pfkey without a command",
        ),
        (
            &["-f", "x", "decode"],
            "-f is an option of pfkey without a command",
        ),
        (&["--keep-going", "save"], "--keep-going is an option"),
    ];
    for (args, want) in cases {
        let r = run(args, "");
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
    }
    // Global options still go with commands.
    let r = run(&["-v", "check"], "flush ;\n");
    assert_eq!(r.code, 0, "{r:?}");
    // No arguments at all: the help, on stderr, status 2.
    let r = run(&[], "");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("Usage: pfkey"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// save
// ---------------------------------------------------------------------------------------------

#[test]
fn save_reaches_the_socket_and_writes_nothing_without_it() {
    let f = Files::new();
    let target = f.path().join("saved.conf");
    let r = run_in(Some(f.path()), &["save", "saved.conf"], "");
    if host_has_pfkey() {
        if r.code == 0 {
            let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        } else {
            assert_eq!(r.code, 77, "{r:?}");
        }
    } else {
        assert_eq!(r.code, 69, "{r:?}");
        assert!(!target.exists());
    }
    // No temporary file is left either way.
    let names: Vec<_> = fs::read_dir(f.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(names.len() <= 1, "{names:?}");
}

#[test]
fn save_to_a_place_that_cannot_be_written_fails_before_the_socket() {
    let r = run(&["save", "/nonexistent/dir/saved.conf"], "");
    assert_eq!(r.code, 74, "{r:?}");
    assert!(r.stderr.contains("/nonexistent/dir"), "{}", r.stderr);
    let f = Files::new();
    let r = run(&["save", f.path().to_str().unwrap()], "");
    assert_eq!(r.code, 74, "{r:?}");
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// pfkey -c on a terminal
// ---------------------------------------------------------------------------------------------

/// On a terminal (here the pseudo-terminal of util-linux `script`), each statement runs as
/// soon as its `;` ends a line, errors do not end the session, line numbers count from the
/// first line typed, and `exit` ends it.
#[test]
fn interactive_statements_run_one_by_one_and_errors_do_not_end_the_session() {
    let pfkey_bin = assert_cmd::cargo::cargo_bin("pfkey");
    let typed = "flush\n  -x ;\n# a comment\nspdadd 10.0.0.0/33 10.0.0.1 any -P out none ;\n\
                 exit ;\nflush ;\n";
    let mut child = Command::new("script")
        .args(["-qec", &format!("{} -c", pfkey_bin.display()), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux script(1) runs pfkey on a pseudo-terminal");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(typed.as_bytes())
        .expect("type");
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    // Both errors, each with the line it was typed on; then the summary.
    assert!(
        text.contains("<stdin>:2:3: unknown protocol '-x'"),
        "{text}"
    );
    assert!(
        text.contains("<stdin>:4:17: prefix /33 is too long"),
        "{text}"
    );
    assert!(text.contains("pfkey: 2 of 2 statements failed"), "{text}");
    // `exit ;` ended the session before the last `flush ;`, which would have needed the
    // socket (exit 69 here): the status is the first failure's.
    assert_eq!(out.status.code(), Some(65), "{text}");
}
