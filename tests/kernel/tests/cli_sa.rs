//! The `pfkey` command's SA commands against the real af_key: `add`, `update`, `get`,
//! `delete`, `deleteall`, `flush`, `getspi`, `dump`, `algorithms`, `monitor`.
//!
//! Each test runs the static `pfkey` binary of the lab in a fresh network namespace, and
//! checks the kernel's state through `ip xfrm state` (iproute2, XFRM netlink: an observer
//! independent of our code), not only through our own dump. Bad input must leave the SA
//! table exactly as it was. The scale test prints its measurements on standard error
//! (`cli_sa scale:` lines in the lab console).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pfkey::alg::{SADB_AALG_SHA1HMAC, SADB_X_EALG_AESCBC};
use pfkey::client::{AlgKey, SaSpec};
use pfkey::repr::Key;
use pfkey::wire::{Mode, SaType};
use pfkey::Client;
use pfkey_kernel_tests::cmd::{pfkey_path, Run};
use pfkey_kernel_tests::xfrm::{entries, state_with_spi, xfrm_state_stats};
use pfkey_kernel_tests::{
    as_nobody, fresh_netns, ip, pfkey, veth_link, xfrm_state, Netns, VethLink,
};
use serde_json::Value;

const AES128: &str = "0x00112233445566778899aabbccddeeff";
const AES256: &str = "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const SHA1: &str = "0x0123456789abcdef0123456789abcdef01234567";
const MD5: &str = "0xffeeddccbbaa99887766554433221100";

/// The words of a command line (no quoting: test arguments have no spaces).
fn words(cmdline: &str) -> Vec<&str> {
    cmdline.split_whitespace().collect()
}

/// Runs `pfkey CMDLINE` in the calling thread's namespace.
fn run(cmdline: &str) -> Run {
    pfkey(&words(cmdline))
}

/// Runs `pfkey --quiet CMDLINE`, expecting success and silence on both streams (a change).
#[track_caller]
fn quiet_ok(cmdline: &str) {
    let r = run(&format!("--quiet {cmdline}"));
    assert!(r.ok(), "pfkey {cmdline} failed:\n{}", r.stderr);
    assert_eq!(r.stdout, "", "pfkey {cmdline} printed on success");
    assert_eq!(r.stderr, "", "pfkey {cmdline} printed on success");
}

/// Runs `pfkey CMDLINE` with `stdin` as standard input.
fn pfkey_stdin(cmdline: &str, stdin: &[u8]) -> Run {
    let mut cmd = Command::new(pfkey_path());
    cmd.args(words(cmdline))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let command = format!("{cmd:?}");
    let mut child = cmd.spawn().expect("spawn pfkey");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait for pfkey");
    Run {
        command,
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn code(r: &Run) -> i32 {
    r.status.code().expect("exit code, not a signal")
}

/// The `ip xfrm state` entry of `spi`, panicking if there is none.
#[track_caller]
fn xfrm_entry(spi: u32) -> String {
    state_with_spi(spi).unwrap_or_else(|| {
        panic!(
            "no SA with spi {spi:#x} in ip xfrm state:\n{}",
            xfrm_state()
        )
    })
}

/// The `ip -s xfrm state` entry of `spi` (lifetimes and counters).
#[track_caller]
fn xfrm_stats_entry(spi: u32) -> String {
    let needle = format!("spi 0x{spi:08x}(");
    entries(&xfrm_state_stats())
        .into_iter()
        .find(|e| e.contains(&needle))
        .unwrap_or_else(|| panic!("no SA with spi {spi:#x} in ip -s xfrm state"))
}

#[track_caller]
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn key_file(dir: &tempdir::Dir, name: &str, contents: &[u8]) -> String {
    let p = dir.0.join(name);
    std::fs::write(&p, contents).expect("write key file");
    format!("@{}", p.display())
}

/// A private temporary directory (the tests crate has no tempfile dependency).
mod tempdir {
    use std::path::PathBuf;

    pub struct Dir(pub PathBuf);

    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let p = std::env::temp_dir().join(format!(
                "pfkey-cli-sa-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).expect("create temp dir");
            Dir(p)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

// ---------------------------------------------------------------------------------------
// add: what the kernel installed
// ---------------------------------------------------------------------------------------

#[test]
fn add_esp_installs_algorithms_keys_mode_reqid_replay_and_flags() {
    let _ns = fresh_netns();
    let dir = tempdir::Dir::new("add");
    let ek = key_file(&dir, "enc", AES128.as_bytes());
    let ak = key_file(&dir, "auth", format!("{SHA1}\n").as_bytes());
    quiet_ok(&format!(
        "add --esp aes --auth hmac-sha1 --src 10.0.0.1 --dst 10.0.0.2 --spi \
        0x1000 --enc-key {ek} --auth-key {ak} --mode tunnel --reqid 7 --replay 32 --flags \
        noecn,decap-dscp"
    ));
    let e = xfrm_entry(0x1000);
    assert!(e.starts_with("src 10.0.0.1 dst 10.0.0.2"), "{e}");
    assert!(
        e.contains("proto esp spi 0x00001000 reqid 7 mode tunnel"),
        "{e}"
    );
    assert!(e.contains("replay-window 32 flag noecn decap-dscp"), "{e}");
    assert!(e.contains(&format!("enc cbc(aes) {AES128}\n")), "{e}");
    assert!(
        e.contains(&format!("auth-trunc hmac(sha1) {SHA1} 96")),
        "{e}"
    );
}

#[test]
fn design_card_add_with_keys_on_the_command_line_warns_once() {
    let _ns = fresh_netns();
    let r = run(&format!(
        "add --esp aes --auth md5 --src 10.0.0.1 --dst 10.0.0.2 --spi \
        0x1000 --enc-key {AES128} --auth-key {MD5}"
    ));
    assert!(r.ok(), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr.lines().collect::<Vec<_>>(),
        [
            "pfkey: warning: the keys given with --enc-key and --auth-key are visible to other \
          users (ps, /proc/PID/cmdline); use @FILE or - (standard input) instead"
        ]
    );
    let e = xfrm_entry(0x1000);
    assert!(e.contains(&format!("enc cbc(aes) {AES128}")), "{e}");
    assert!(e.contains(&format!("auth-trunc hmac(md5) {MD5} 96")), "{e}");
    assert!(e.contains("mode transport"), "{e}");
}

#[test]
fn lifetimes_reach_the_kernel_and_a_missing_half_is_unlimited() {
    let _ns = fresh_netns();
    quiet_ok(&format!(
        "add --esp null --auth sha1 --auth-key {SHA1} --src 10.0.0.1 --dst \
        10.0.0.2 --spi 0x1000 --hard-time 1h --soft-time 50m --hard-bytes 2M --soft-bytes 1M \
        --hard-packets 200 --soft-packets 100 --hard-use-time 20m --soft-use-time 10m"
    ));
    let e = xfrm_stats_entry(0x1000);
    for want in [
        "limit: soft 1048576(bytes), hard 2097152(bytes)",
        "limit: soft 100(packets), hard 200(packets)",
        "expire add: soft 3000(sec), hard 3600(sec)",
        "expire use: soft 600(sec), hard 1200(sec)",
    ] {
        assert!(e.contains(want), "{want:?} missing in:\n{e}");
    }
    // Only a hard limit: the soft one is sent as 0, unlimited.
    quiet_ok("add --esp null --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1001 --hard-time 90");
    let e = xfrm_stats_entry(0x1001);
    assert!(e.contains("expire add: soft 0(sec), hard 90(sec)"), "{e}");
    assert!(
        e.contains("limit: soft (INF)(bytes), hard (INF)(bytes)"),
        "{e}"
    );
    // pfkey's own view agrees.
    let r = run("--json get --esp --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1000");
    let v = &json_lines(&r.expect_ok())[0];
    assert_eq!(v["lifetime"]["hard"]["add_seconds"], 3600);
    assert_eq!(v["lifetime"]["soft"]["bytes"], 1 << 20);
    assert_eq!(v["lifetime"]["hard"]["packets"], 200);
    assert_eq!(v["lifetime"]["soft"]["use_seconds"], 600);
}

#[test]
fn ipv6_esp_with_nat_traversal() {
    let _ns = fresh_netns();
    let keys = run(
        "add --esp aes-ctr --enc-key random --auth hmac-sha512 --auth-key random \
        --src 2001:db8::1 --dst 2001:db8::2 --spi 0x2000 --encap espinudp --sport 4500 \
        --dport 4501",
    )
    .expect_ok();
    assert_eq!(keys.lines().count(), 2, "the two random keys: {keys}");
    let e = xfrm_entry(0x2000);
    assert!(e.starts_with("src 2001:db8::1 dst 2001:db8::2"), "{e}");
    assert!(e.contains("enc rfc3686(ctr(aes)) 0x"), "{e}");
    assert!(e.contains("auth-trunc hmac(sha512) 0x"), "{e}");
    assert!(e.contains(" 256\n"), "HMAC-SHA-512-256: {e}");
    assert!(
        e.contains("encap type espinudp sport 4500 dport 4501"),
        "{e}"
    );
    let r = run("--json dump");
    let v = &json_lines(&r.expect_ok())[0];
    assert_eq!(v["src"], "2001:db8::1");
    assert_eq!(v["nat_t"]["sport"], 4500);
    assert_eq!(v["nat_t"]["dport"], 4501);
    assert_eq!(v["encrypt"]["key_bits"], 288);
}

#[test]
fn ah_and_ipcomp() {
    let _ns = fresh_netns();
    quiet_ok(&format!(
        "add --ah --auth sha256 --auth-key {AES256} --src 10.0.0.1 --dst 10.0.0.2 --spi 0x3000"
    ));
    let e = xfrm_entry(0x3000);
    assert!(e.contains("proto ah spi 0x00003000"), "{e}");
    assert!(
        e.contains(&format!("auth-trunc hmac(sha256) {AES256} 96")),
        "Linux PF_KEY's 96-bit HMAC-SHA-256: {e}"
    );
    quiet_ok("add --ipcomp --src 10.0.0.1 --dst 10.0.0.2 --spi 0x4001");
    let e = xfrm_entry(0x4001);
    assert!(e.contains("proto comp spi 0x00004001"), "{e}");
    assert!(e.contains("comp deflate"), "{e}");
}

#[test]
fn random_keys_are_printed_once_and_are_the_installed_keys() {
    let _ns = fresh_netns();
    let r = run(
        "add --esp aes --auth sha256 --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1000 \
        --enc-key random --auth-key random",
    );
    let out = r.expect_ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let enc = lines[0].strip_prefix("enc-key ").expect("enc-key line");
    let auth = lines[1].strip_prefix("auth-key ").expect("auth-key line");
    assert_eq!(enc.len(), 2 + 64, "AES-256: {enc}");
    assert_eq!(auth.len(), 2 + 64, "HMAC-SHA-256: {auth}");
    let e = xfrm_entry(0x1000);
    assert!(e.contains(&format!("enc cbc(aes) {enc}")), "{e}");
    assert!(
        e.contains(&format!("auth-trunc hmac(sha256) {auth} 96")),
        "{e}"
    );
    // --json: one object.
    let r = run(
        "--json add --esp null --auth sha1 --auth-key random --src 10.0.0.1 --dst \
        10.0.0.2 --spi 0x1001",
    );
    let v = &json_lines(&r.expect_ok())[0];
    let key = v["auth_key"].as_str().expect("auth_key");
    assert!(v.get("enc_key").is_none());
    assert!(xfrm_entry(0x1001).contains(&format!("0x{key}")));
}

#[test]
fn keys_from_standard_input() {
    let _ns = fresh_netns();
    let r = pfkey_stdin(
        "add --esp 3des --enc-key - --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1000",
        b"0x0011223344556677001122334455667700112233445566ff\n",
    );
    assert!(r.ok(), "{}", r.stderr);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
    assert!(xfrm_entry(0x1000)
        .contains("enc cbc(des3_ede) 0x0011223344556677001122334455667700112233445566ff"));
}

// ---------------------------------------------------------------------------------------
// get, dump
// ---------------------------------------------------------------------------------------

fn add_two() {
    quiet_ok(&format!(
        "add --esp aes --enc-key {AES128} --auth sha1 --auth-key {SHA1} --src \
        10.0.0.1 --dst 10.0.0.2 --spi 0x1000 --mode tunnel --reqid 5 --replay 16"
    ));
    quiet_ok(&format!(
        "add --ah --auth md5 --auth-key {MD5} --src 10.0.0.2 --dst 10.0.0.1 --spi 0x2000"
    ));
}

#[test]
fn get_shows_the_sa_with_keys_only_when_asked() {
    let _ns = fresh_netns();
    add_two();
    let id = "get --esp --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1000";
    let text = run(id).expect_ok();
    assert!(
        text.starts_with("esp spi 0x00001000 (4096) 10.0.0.1 -> 10.0.0.2\n"),
        "{text}"
    );
    for want in [
        "  state       mature\n",
        "  mode        tunnel\n",
        "  reqid       5\n",
        "  replay      16 packets\n",
        "  encryption  aes-cbc, 128-bit key <hidden>\n",
        "  auth        hmac-sha1, 160-bit key <hidden>\n",
        "  first use   never\n",
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
    assert!(!text.contains("00112233"), "a key leaked:\n{text}");
    let text = run(&format!("{id} --show-keys")).expect_ok();
    assert!(
        text.contains(&format!("aes-cbc, 128-bit key {AES128}")),
        "{text}"
    );
    let v = &json_lines(&run(&format!("--json {id}")).expect_ok())[0];
    assert_eq!(v["spi"], 0x1000);
    assert_eq!(v["mode"], "tunnel");
    assert_eq!(v["reqid"], 5);
    assert_eq!(v["replay"], 16);
    assert_eq!(v["encrypt"]["name"], "aes-cbc");
    assert!(v["encrypt"].get("key").is_none());
    assert_eq!(v["auth"]["name"], "hmac-sha1");
    assert_eq!(v["state"], "mature");
}

#[test]
fn dump_formats_and_types() {
    let _ns = fresh_netns();
    add_two();
    let text = run("dump").expect_ok();
    assert_eq!(text.matches(" spi 0x").count(), 2, "{text}");
    assert!(
        text.contains("ah spi 0x00002000 (8192) 10.0.0.2 -> 10.0.0.1"),
        "{text}"
    );
    assert!(!text.contains(&AES128[2..]), "keys hidden:\n{text}");
    let text = run("dump --show-keys").expect_ok();
    assert!(text.contains(AES128) && text.contains(MD5), "{text}");

    let v = json_lines(&run("dump --format json").expect_ok());
    assert_eq!(v.len(), 2);
    assert_eq!(json_lines(&run("--json dump").expect_ok()), v);
    let v = json_lines(&run("--json dump --type ah").expect_ok());
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["satype"], "ah");
    assert_eq!(v[0]["auth"]["name"], "hmac-md5");
    let v = json_lines(&run("--json dump --show-keys --type ah").expect_ok());
    assert_eq!(v[0]["auth"]["key"], &MD5[2..]);

    let setkey = run("dump --format setkey --type esp").expect_ok();
    let want = "10.0.0.1 10.0.0.2 \n\
                \tesp mode=tunnel spi=4096(0x00001000) reqid=5(0x00000005)\n\
                \tE: aes-cbc <hidden>\n\
                \tA: hmac-sha1 <hidden>\n";
    assert!(setkey.starts_with(want), "{setkey}");
    let setkey = run("dump --format setkey --type esp --show-keys").expect_ok();
    assert!(
        setkey.contains("\tE: aes-cbc  00112233 44556677 8899aabb ccddeeff\n"),
        "{setkey}"
    );

    // Empty: nothing on standard output.
    quiet_ok("flush");
    let r = run("dump");
    assert!(r.ok());
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr, "pfkey: no SAs\n");
    assert_eq!(run("--json dump").expect_ok(), "");
}

// ---------------------------------------------------------------------------------------
// delete, deleteall, flush, getspi, update
// ---------------------------------------------------------------------------------------

#[test]
fn delete_removes_exactly_one_sa() {
    let _ns = fresh_netns();
    add_two();
    quiet_ok("delete --esp --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1000");
    assert!(state_with_spi(0x1000).is_none(), "{}", xfrm_state());
    assert!(state_with_spi(0x2000).is_some());
}

#[test]
fn deleteall_deletes_every_sa_between_two_addresses_and_only_those() {
    let _ns = fresh_netns();
    for spi in ["0x1000", "0x1001", "0x1002"] {
        quiet_ok(&format!(
            "add --esp null --src 10.0.0.1 --dst 10.0.0.2 --spi {spi}"
        ));
    }
    quiet_ok("add --esp null --src 10.0.0.1 --dst 10.0.0.3 --spi 0x1003");
    quiet_ok("add --esp null --src 10.0.0.2 --dst 10.0.0.1 --spi 0x1004");
    quiet_ok("add --ah --auth null --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1005");
    let r = run("-v deleteall --esp --src 10.0.0.1 --dst 10.0.0.2");
    assert!(r.ok(), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr
            .contains("pfkey: deleted 3 esp SAs from 10.0.0.1 to 10.0.0.2\n"),
        "{}",
        r.stderr
    );
    for gone in [0x1000, 0x1001, 0x1002] {
        assert!(state_with_spi(gone).is_none(), "{gone:#x} still there");
    }
    for kept in [0x1003, 0x1004, 0x1005] {
        assert!(state_with_spi(kept).is_some(), "{kept:#x} was deleted");
    }
    // Nothing left to delete: not an error, and silent.
    quiet_ok("deleteall --esp --src 10.0.0.1 --dst 10.0.0.2");
}

#[test]
fn flush_one_type_then_all() {
    let _ns = fresh_netns();
    add_two();
    quiet_ok("add --ipcomp --src 10.0.0.1 --dst 10.0.0.2 --spi 0x4001");
    quiet_ok("flush esp");
    assert!(state_with_spi(0x1000).is_none());
    assert!(state_with_spi(0x2000).is_some() && state_with_spi(0x4001).is_some());
    quiet_ok("flush ipcomp");
    assert!(state_with_spi(0x4001).is_none());
    quiet_ok("flush");
    assert_eq!(xfrm_state(), "");
    // Flushing an empty table is fine too.
    quiet_ok("flush all");
}

#[test]
fn getspi_reserves_an_spi_that_update_completes() {
    let _ns = fresh_netns();
    let out = run("getspi --esp --src 10.0.0.1 --dst 10.0.0.2 --range 0x5000-0x5fff --reqid 9")
        .expect_ok();
    let spi_text = out.trim();
    assert!(spi_text.starts_with("0x") && spi_text.len() == 10, "{out}");
    let spi = u32::from_str_radix(&spi_text[2..], 16).expect("hex SPI");
    assert!((0x5000..=0x5fff).contains(&spi), "{spi:#x}");
    let e = xfrm_entry(spi);
    assert!(e.contains("reqid 9"), "{e}");
    assert!(!e.contains("enc "), "larval: no algorithms yet: {e}");
    let v = &json_lines(
        &run(&format!(
            "--json get --esp --src 10.0.0.1 --dst 10.0.0.2 --spi {spi_text}"
        ))
        .expect_ok(),
    )[0];
    assert_eq!(v["state"], "larval");
    // Complete it: no warning (the keys were taken).
    quiet_ok(&format!(
        "update --esp aes --enc-key {AES128} --auth sha1 --auth-key {SHA1} \
        --src 10.0.0.1 --dst 10.0.0.2 --spi {spi_text} --reqid 9"
    ));
    let e = xfrm_entry(spi);
    assert!(e.contains(&format!("enc cbc(aes) {AES128}")), "{e}");
    // IPComp: the default range is 16-bit; --json gives the SA object.
    let v =
        &json_lines(&run("--json getspi --ipcomp --src 10.0.0.1 --dst 10.0.0.2").expect_ok())[0];
    let cpi = v["spi"].as_u64().expect("spi");
    assert!((0x100..=0xffff).contains(&cpi), "{cpi:#x}");
    assert_eq!(v["state"], "larval");
    assert!(xfrm_entry(cpi as u32).contains("proto comp"));
}

#[test]
fn update_of_a_mature_sa_changes_lifetimes_and_warns_that_keys_were_kept() {
    let _ns = fresh_netns();
    add_two();
    // New lifetimes, same keys: applied, no warning.
    quiet_ok(&format!(
        "update --esp aes --enc-key {AES128} --auth sha1 --auth-key {SHA1} \
        --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1000 --mode tunnel --reqid 5 --hard-time 2h"
    ));
    assert!(xfrm_stats_entry(0x1000).contains("expire add: soft 0(sec), hard 7200(sec)"));
    // A new key: Linux keeps the old one and says nothing; pfkey warns.
    let r = run(&format!(
        "update --esp aes --enc-key {AES256} --auth sha1 --auth-key {SHA1} \
        --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1000 --mode tunnel --reqid 5"
    ));
    assert!(r.ok(), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the kernel kept the SA's previous algorithms and keys"),
        "{}",
        r.stderr
    );
    assert!(xfrm_entry(0x1000).contains(AES128), "old key kept");
    // A random key that the kernel did not take is not shown as if it were in use.
    let r = run(&format!(
        "update --esp aes --enc-key random --auth sha1 --auth-key {SHA1} --src 10.0.0.1 \
         --dst 10.0.0.2 --spi 0x1000 --mode tunnel --reqid 5"
    ));
    assert!(r.ok(), "{}", r.stderr);
    assert_eq!(r.stdout, "", "an unused random key was printed");
    assert!(
        r.stderr.contains("were not installed and are not shown"),
        "{}",
        r.stderr
    );
    // UPDATE of a missing SA: ESRCH.
    let r = run("update --esp null --src 10.0.0.1 --dst 10.0.0.2 --spi 0x9999");
    assert_eq!(code(&r), 1, "{r:?}");
    assert!(r.stderr.contains("no such SA (ESRCH)"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------
// errors: the kernel's refusals, bad input, privilege
// ---------------------------------------------------------------------------------------

#[test]
fn duplicate_add_is_eexist_and_leaves_the_sa_alone() {
    let _ns = fresh_netns();
    add_two();
    let before = xfrm_state();
    let r = run("-q add --esp null --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1000");
    assert_eq!(code(&r), 1, "{r:?}");
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        "pfkey: add esp spi 0x1000 10.0.0.1 -> 10.0.0.2: an SA with this SPI already exists \
         (EEXIST)\n"
    );
    assert_eq!(xfrm_state(), before);
}

#[test]
fn get_and_delete_of_a_missing_sa_are_esrch() {
    let _ns = fresh_netns();
    add_two();
    let before = xfrm_state();
    for cmd in ["get", "delete"] {
        let r = run(&format!(
            "{cmd} --esp --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1234"
        ));
        assert_eq!(code(&r), 1, "{r:?}");
        assert_eq!(r.stdout, "");
        assert_eq!(
            r.stderr,
            format!("pfkey: {cmd} esp spi 0x1234 10.0.0.1 -> 10.0.0.2: no such SA (ESRCH)\n")
        );
    }
    // Wrong protocol for an existing SPI is missing too.
    let r = run("delete --ah --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1000");
    assert_eq!(code(&r), 1);
    assert!(r.stderr.contains("ESRCH"));
    assert_eq!(xfrm_state(), before);
}

#[test]
fn bad_input_is_refused_in_one_line_and_leaves_the_table_unchanged() {
    let _ns = fresh_netns();
    add_two();
    let before = xfrm_state();
    let bad_aes = format!("--esp aes-cbx --enc-key {AES128}");
    let aead = format!("--esp aes-gcm --enc-key {AES128}");
    let cases: [(&str, &str); 7] = [
        (&bad_aes, "did you mean aes-cbc?"),
        (
            "--esp aes --enc-key 0x0011",
            "128, 192 or 256-bit key, not 16 bits",
        ),
        ("--esp aes --enc-key 0x001", "odd number"),
        ("--esp aes", "missing key"),
        (&aead, "AEAD"),
        (
            "--esp null --encap espinudp",
            "needs --sport PORT and --dport PORT",
        ),
        ("--ah", "AH needs an authentication algorithm"),
    ];
    for (options, want) in cases {
        let cmdline = format!("-v add {options} --src 10.0.0.1 --dst 10.0.0.2 --spi 0x7000");
        let r = run(&cmdline);
        assert_eq!(code(&r), 2, "{cmdline}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{cmdline}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{cmdline}: {}", r.stderr);
        // -v prints every message sent: nothing was.
        assert!(!r.stderr.contains("sent:"), "{cmdline} reached the kernel");
    }
    for (src, dst, spi, want) in [
        ("10.0.0.300", "10.0.0.2", "0x7000", "is not an IP address"),
        ("10.0.0.1", "2001:db8::2", "0x7000", "mix IPv4 and IPv6"),
        ("10.0.0.1", "10.0.0.2", "0x100000000", "out of range"),
        ("10.0.0.1", "10.0.0.2", "0", "reserved"),
    ] {
        let r = run(&format!(
            "-v add --esp null --src {src} --dst {dst} --spi {spi}"
        ));
        assert_eq!(code(&r), 2, "{r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.contains(want), "{}", r.stderr);
    }
    let r = run("add --ipcomp --src 10.0.0.1 --dst 10.0.0.2 --spi 0x10000");
    assert_eq!(code(&r), 2);
    assert!(r.stderr.contains("16 bits"));
    assert_eq!(xfrm_state(), before, "bad input changed the SA table");
}

#[test]
fn unprivileged_user_gets_exit_77_with_the_reason() {
    let _ns = fresh_netns();
    add_two();
    let before = xfrm_state();
    for args in [
        &["dump"][..],
        &[
            "add", "--esp", "null", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--spi", "0x7000",
        ],
        &["flush"],
    ] {
        let r = Run::new(as_nobody(Command::new(pfkey_path()).args(args)));
        assert_eq!(code(&r), 77, "{args:?}: {r:?}");
        assert_eq!(r.stdout, "");
        assert_eq!(
            r.stderr,
            "pfkey: permission denied: PF_KEY needs root or CAP_NET_ADMIN (EPERM)\n"
        );
    }
    assert_eq!(xfrm_state(), before);
}

// ---------------------------------------------------------------------------------------
// algorithms, monitor
// ---------------------------------------------------------------------------------------

#[test]
fn algorithms_lists_the_kernels_offer_with_key_sizes() {
    let _ns = fresh_netns();
    let text = run("algorithms").expect_ok();
    assert!(
        text.contains("Authentication (ESP, AH), offered by this kernel"),
        "{text}"
    );
    let line = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} line:\n{text}"))
            .to_string()
    };
    assert!(line("hmac-sha256").contains("truncates the ICV to 96 bits"));
    assert!(line("aes-cbc").contains("128-256"));
    assert!(line("aes-cbc").contains("128, 192 or 256 bits"));
    assert!(line("aes-gcm-16").contains("AEAD"));
    let v = json_lines(&run("--json algorithms --type esp").expect_ok());
    let sha1 = v
        .iter()
        .find(|a| a["name"] == "hmac-sha1")
        .expect("hmac-sha1 offered");
    assert_eq!(sha1["offered"], true);
    assert_eq!(sha1["kernel_min_bits"], 160);
    let gcm = v.iter().find(|a| a["name"] == "aes-gcm-16").expect("gcm");
    assert_eq!(gcm["offered"], false);
    assert_eq!(gcm["usable"], false);
    // Listing registered nothing: a second listing works (REGISTER for one type twice on
    // a socket would be EEXIST, and a registered socket would get ACQUIREs).
    run("algorithms --type ah").expect_ok();
}

/// Starts `pfkey -v GLOBAL… monitor OPTIONS…` in this namespace and waits until it is
/// listening (its `-v` note).
fn start_monitor(global: &[&str], options: &[&str]) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut args = global.to_vec();
    args.push("monitor");
    args.extend_from_slice(options);
    start_watching(&args)
}

/// Starts `pfkey -v ARGS…` (a monitor: `monitor` or setkey's `-x`) in this namespace and
/// waits until it is listening (its `-v` note).
fn start_watching(watch: &[&str]) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut args = vec!["-v"];
    args.extend_from_slice(watch);
    let mut child = Command::new(pfkey_path())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pfkey monitor");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).expect("read monitor stderr") > 0,
            "monitor ended early"
        );
        if line.contains("monitoring PF_KEY messages") {
            break;
        }
        assert!(Instant::now() < deadline, "monitor did not start");
    }
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
    });
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Collects monitor output lines until `done` says so (or 10 s pass).
fn collect_until(
    rx: &std::sync::mpsc::Receiver<String>,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lines = Vec::new();
    while !done(&lines) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(_) => panic!("monitor output so far:\n{}", lines.join("\n")),
        }
    }
    lines
}

/// Adds an ESP SA with `pfkey add` and reads the watcher's output until its encryption
/// key line: the lines so far, and that line.
fn add_and_watch_key(rx: &std::sync::mpsc::Receiver<String>, spi: &str) -> (Vec<String>, String) {
    quiet_ok(&format!(
        "add --esp aes --enc-key {AES128} --src 10.0.0.1 --dst 10.0.0.2 --spi {spi}"
    ));
    let lines = collect_until(rx, |ls| ls.iter().any(|l| l.contains("KEY_ENCRYPT")));
    let key = lines
        .iter()
        .find(|l| l.contains("KEY_ENCRYPT"))
        .expect("key line")
        .clone();
    (lines, key)
}

fn interrupt_and_wait(mut child: Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).expect("kill");
    let status = child.wait().expect("wait for monitor");
    assert_eq!(status.code(), Some(0), "monitor after {sig}: {status}");
}

#[test]
fn monitor_prints_every_message_as_json_and_exits_0_on_sigint() {
    let _ns = fresh_netns();
    let (child, rx) = start_monitor(&["--json"], &[]);
    quiet_ok(&format!(
        "add --esp aes --enc-key {AES128} --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1000"
    ));
    // A change through XFRM netlink reaches PF_KEY sockets too.
    ip(&[
        "xfrm", "state", "add", "src", "10.0.0.1", "dst", "10.0.0.3", "proto", "esp", "spi",
        "0x2000", "enc", "cbc(aes)", AES128,
    ]);
    let lines = collect_until(&rx, |ls| {
        ls.iter()
            .any(|l| l.contains("\"type\":\"ADD\"") && l.contains("\"spi\":8192"))
    });
    let msgs: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let adds: Vec<&Value> = msgs.iter().filter(|m| m["type"] == "ADD").collect();
    // Our ADD: the copy of the request, and the kernel's broadcast result.
    let spi_of = |m: &Value| {
        m["extensions"]
            .as_array()
            .and_then(|x| x.iter().find(|e| e["type"] == "SA"))
            .map(|e| e["spi"].clone())
    };
    assert!(
        adds.iter().any(|m| spi_of(m) == Some(0x1000.into())),
        "{lines:?}"
    );
    assert!(
        adds.iter().any(|m| spi_of(m) == Some(0x2000.into())),
        "netlink change: {lines:?}"
    );
    for m in &adds {
        for e in m["extensions"].as_array().expect("extensions") {
            if e["type"] == "KEY_ENCRYPT" {
                assert!(e["key"].is_null(), "keys hidden: {e}");
            }
        }
    }
    interrupt_and_wait(child, nix::sys::signal::Signal::SIGINT);
}

#[test]
fn monitor_text_shows_keys_only_when_asked_and_exits_0_on_sigterm() {
    let _ns = fresh_netns();
    let (child, rx) = start_monitor(&[], &["--show-keys"]);
    let (lines, key) = add_and_watch_key(&rx, "0x1000");
    assert!(
        lines.iter().any(|l| l.starts_with("ADD satype=esp")),
        "{lines:?}"
    );
    assert!(key.contains(&AES128[2..]), "--show-keys: {key}");
    interrupt_and_wait(child, nix::sys::signal::Signal::SIGTERM);
    // Without --show-keys the key is redacted.
    let (child, rx) = start_monitor(&[], &[]);
    let (_, key) = add_and_watch_key(&rx, "0x1001");
    assert!(
        key.contains("redacted") && !key.contains(&AES128[2..]),
        "{key}"
    );
    interrupt_and_wait(child, nix::sys::signal::Signal::SIGINT);
}

/// setkey's `-x` is `pfkey monitor`: the same messages, keys hidden unless asked.
#[test]
fn setkey_style_x_watches_every_message_like_monitor() {
    let _ns = fresh_netns();
    let (child, rx) = start_watching(&["-x"]);
    let (lines, key) = add_and_watch_key(&rx, "0x1000");
    assert!(
        lines.iter().any(|l| l.starts_with("ADD satype=esp")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("spi=0x00001000") || l.contains("spi=0x1000")),
        "{lines:?}"
    );
    assert!(
        key.contains("redacted") && !key.contains(&AES128[2..]),
        "{key}"
    );
    interrupt_and_wait(child, nix::sys::signal::Signal::SIGTERM);
    let (child, rx) = start_watching(&["-x", "--show-keys"]);
    let (_, key) = add_and_watch_key(&rx, "0x1001");
    assert!(key.contains(&AES128[2..]), "-x --show-keys: {key}");
    interrupt_and_wait(child, nix::sys::signal::Signal::SIGINT);
}

// ---------------------------------------------------------------------------------------
// data plane
// ---------------------------------------------------------------------------------------

/// Runs pfkey in another namespace.
fn pfkey_in(ns: &Netns, cmdline: &str) -> Run {
    Run::new(ns.command(pfkey_path()).args(words(cmdline)))
}

/// SAs by `pfkey add` and policies by `ip xfrm policy` for one end of the link.
fn cli_esp_endpoint(ns: &Netns, local: &str, remote: &str, out_spi: &str, in_spi: &str) {
    for (src, dst, spi) in [(local, remote, out_spi), (remote, local, in_spi)] {
        let r = pfkey_in(
            ns,
            &format!(
                "-q add --esp aes --enc-key {AES128} --auth sha256 \
            --auth-key {AES256} --src {src} --dst {dst} --spi {spi} --replay 32"
            ),
        );
        assert!(
            r.ok() && r.stdout.is_empty() && r.stderr.is_empty(),
            "{r:?}"
        );
    }
    ns.require_esp_transport(local, remote);
}

/// (packets, bytes) of the SA with `spi` in `pfkey dump --json` run in `ns`.
fn counters(ns: &Netns, spi: u64) -> (u64, u64) {
    let out = pfkey_in(ns, "--json dump --type esp").expect_ok();
    let v = json_lines(&out)
        .into_iter()
        .find(|v| v["spi"] == spi)
        .unwrap_or_else(|| panic!("no SA {spi:#x} in {out}"));
    let c = &v["lifetime"]["current"];
    (
        c["packets"].as_u64().expect("packets"),
        c["bytes"].as_u64().expect("bytes"),
    )
}

fn data_plane(left_cidr: &str, right_cidr: &str) {
    let _ns = fresh_netns();
    let link = veth_link(left_cidr, right_cidr);
    let (l, r) = (link.left_addr.to_string(), link.right_addr.to_string());
    assert!(
        VethLink::ping(&link.left, link.right_addr),
        "plain ping failed"
    );
    cli_esp_endpoint(&link.left, &l, &r, "0x1001", "0x1002");
    cli_esp_endpoint(&link.right, &r, &l, "0x1002", "0x1001");
    assert_eq!(counters(&link.left, 0x1001), (0, 0));
    for _ in 0..3 {
        assert!(
            VethLink::ping(&link.left, link.right_addr),
            "ping over ESP failed"
        );
    }
    let (out_packets, out_bytes) = counters(&link.left, 0x1001);
    assert!(
        out_packets >= 3 && out_bytes > 0,
        "outbound SA: {out_packets} packets"
    );
    let (in_packets, _) = counters(&link.right, 0x1001);
    assert!(
        in_packets >= 3,
        "the peer's inbound SA counted {in_packets} packets"
    );
    let (reply_packets, _) = counters(&link.left, 0x1002);
    assert!(
        reply_packets >= 3,
        "the replies' SA counted {reply_packets} packets"
    );
    // The kernel agrees (ip -s xfrm state).
    assert!(pfkey_kernel_tests::xfrm::state_packets(0x1001) >= out_packets);
    // With the SAs flushed on one side, the policy has no SA: ping fails.
    let r = pfkey_in(&link.left, "flush");
    assert!(r.ok(), "{r:?}");
    assert!(
        !VethLink::ping(&link.left, link.right_addr),
        "ping without SAs passed"
    );
}

#[test]
fn data_plane_ipv4_ping_through_sas_added_by_pfkey() {
    data_plane("10.78.0.1/24", "10.78.0.2/24");
}

#[test]
fn data_plane_ipv6_ping_through_sas_added_by_pfkey() {
    data_plane("fd00:78::1/64", "fd00:78::2/64");
}

// ---------------------------------------------------------------------------------------
// scale
// ---------------------------------------------------------------------------------------

/// What one run of `pfkey dump --json` gave: entries, peak RSS (KiB), time.
struct Measured {
    spis: Vec<u32>,
    vm_hwm_kib: u64,
    elapsed: Duration,
}

/// `VmHWM` (peak resident set, KiB) from `/proc/PID/status`.
fn vm_hwm(pid: libc::pid_t) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in:\n{status}"))
}

fn waitpid(pid: libc::pid_t) -> libc::c_int {
    let mut status: libc::c_int = 0;
    // SAFETY: waits for our own child; `status` is a valid, writable int for the call.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid, "waitpid: {}", std::io::Error::last_os_error());
    status
}

fn ptrace_cont(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: PTRACE_CONT on our own stopped tracee; the address argument is unused and
    // the data argument is the signal to deliver (0 for none).
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_CONT,
            pid,
            0 as libc::c_long,
            signal as libc::c_long,
        )
    };
    assert_eq!(r, 0, "PTRACE_CONT: {}", std::io::Error::last_os_error());
}

/// Runs `pfkey --json dump --type esp` and measures its peak resident set: `VmHWM` read
/// from `/proc/PID/status` when the process stops at its exit (ptrace
/// `PTRACE_O_TRACEEXIT`, before the kernel releases its memory).
///
/// Simpler measures are wrong here: `ru_maxrss` of a child started with posix_spawn or
/// fork includes the parent's resident set at exec (Linux `exec_mmap` records the old
/// mm's high-water mark), and this test process is larger than pfkey.
fn dump_measured() -> Measured {
    let start = Instant::now();
    let mut cmd = Command::new(pfkey_path());
    cmd.args(["--json", "dump", "--type", "esp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: runs in the forked child between fork and exec, where only
    // async-signal-safe calls are allowed: it makes one ptrace(2) system call and
    // allocates nothing unless that call fails.
    unsafe {
        cmd.pre_exec(|| {
            if libc::ptrace(
                libc::PTRACE_TRACEME,
                0,
                0 as libc::c_long,
                0 as libc::c_long,
            ) == -1
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn pfkey dump");
    let pid = child.id() as libc::pid_t;
    // A tracee stops with SIGTRAP after exec.
    let status = waitpid(pid);
    assert!(
        libc::WIFSTOPPED(status) && libc::WSTOPSIG(status) == libc::SIGTRAP,
        "pfkey did not stop at exec: {status:#x}"
    );
    let opts = libc::PTRACE_O_TRACEEXIT | libc::PTRACE_O_EXITKILL;
    // SAFETY: PTRACE_SETOPTIONS on our own stopped tracee with a valid option mask.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_SETOPTIONS,
            pid,
            0 as libc::c_long,
            opts as libc::c_long,
        )
    };
    assert_eq!(
        r,
        0,
        "PTRACE_SETOPTIONS: {}",
        std::io::Error::last_os_error()
    );
    let stdout = child.stdout.take().expect("stdout");
    // Read concurrently: a full pipe would stop pfkey before its exit.
    let reader = std::thread::spawn(move || {
        let mut spis = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("read dump");
            // {"satype":"esp","satype_id":3,"spi":4096,...
            let spi: u32 = line
                .split("\"spi\":")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no spi in {line}"));
            spis.push(spi);
        }
        spis
    });
    ptrace_cont(pid, 0);
    let mut hwm = None;
    loop {
        let status = waitpid(pid);
        if libc::WIFEXITED(status) {
            assert_eq!(libc::WEXITSTATUS(status), 0, "pfkey dump failed");
            break;
        }
        assert!(
            libc::WIFSTOPPED(status),
            "pfkey ended by a signal: {status:#x}"
        );
        if status >> 8 == libc::SIGTRAP | (libc::PTRACE_EVENT_EXIT << 8) {
            hwm = Some(vm_hwm(pid));
            ptrace_cont(pid, 0);
        } else {
            // Any other stop is a signal for pfkey: deliver it.
            ptrace_cont(pid, libc::WSTOPSIG(status));
        }
    }
    // The child is reaped; dropping `Child` neither waits nor kills.
    drop(child);
    let spis = reader.join().expect("reader thread");
    Measured {
        spis,
        vm_hwm_kib: hwm.expect("stopped at exit"),
        elapsed: start.elapsed(),
    }
}

fn report(line: &str) {
    // Straight to the process's stderr, past libtest's capture, into the lab console.
    let _ = writeln!(std::io::stderr(), "cli_sa scale: {line}");
}

/// Adds ESP SAs `0x10000 + from .. 0x10000 + to` through the library (one socket, one
/// request at a time), each to its own destination `10.1.x.y`: Linux hashes SAs by their
/// addresses, and thousands of SAs between one pair of hosts share one hash chain, which
/// makes every ADD walk all of them.
fn add_with_library(from: u32, to: u32) -> Duration {
    let mut c = Client::open().expect("PF_KEY socket");
    let start = Instant::now();
    for i in from..to {
        let dst = IpAddr::from([10, 1, (i >> 8) as u8, i as u8]);
        let mut s = SaSpec::new(SaType::Esp, 0x10000 + i, IpAddr::from([10, 0, 0, 1]), dst);
        s.mode = Mode::Transport;
        s.enc = Some(AlgKey {
            id: SADB_X_EALG_AESCBC,
            key: Key::new(vec![0x11; 16]).expect("key"),
        });
        s.auth = Some(AlgKey {
            id: SADB_AALG_SHA1HMAC,
            key: Key::new(vec![0x22; 20]).expect("key"),
        });
        c.add(&s).unwrap_or_else(|e| panic!("adding SA {i}: {e}"));
    }
    start.elapsed()
}

#[track_caller]
fn assert_all(m: &Measured, n: u32) {
    assert_eq!(m.spis.len(), n as usize, "entries in the dump");
    let mut seen = vec![false; n as usize];
    for &spi in &m.spis {
        let i = (spi - 0x10000) as usize;
        assert!(!seen[i], "spi {spi:#x} twice");
        seen[i] = true;
    }
}

#[test]
fn scale_10000_sas_dump_completely_in_constant_memory() {
    let _ns = fresh_netns();
    let t = add_with_library(0, 1000);
    report(&format!("added 1000 SAs with the library in {t:.2?}"));
    let small = dump_measured();
    assert_all(&small, 1000);
    report(&format!(
        "pfkey dump --json of 1000 SAs: {:.2?}, peak RSS (VmHWM) {} KiB",
        small.elapsed, small.vm_hwm_kib
    ));
    let t = add_with_library(1000, 10_000);
    report(&format!("added 9000 more SAs with the library in {t:.2?}"));
    let large = dump_measured();
    assert_all(&large, 10_000);
    report(&format!(
        "pfkey dump --json of 10000 SAs: {:.2?}, peak RSS (VmHWM) {} KiB",
        large.elapsed, large.vm_hwm_kib
    ));
    // Streaming: ten times the table, (almost) the same peak. 1 MiB of slack covers
    // allocator and page-cache noise; buffering the table would cost several MiB
    // (each JSON line is about 600 bytes, each message about 270).
    assert!(
        large.vm_hwm_kib <= small.vm_hwm_kib + 1024,
        "peak RSS grew with the table: {} KiB for 1000 SAs, {} KiB for 10000",
        small.vm_hwm_kib,
        large.vm_hwm_kib
    );
    // The text format streams too.
    let out = run("dump --type esp").expect_ok();
    assert_eq!(out.matches("\nesp spi 0x").count() + 1, 10_000);
    let start = Instant::now();
    quiet_ok("flush esp");
    report(&format!(
        "pfkey flush esp of 10000 SAs: {:.2?}",
        start.elapsed()
    ));
    assert_eq!(xfrm_state(), "");
}

#[test]
fn scale_100_sas_added_by_100_pfkey_processes() {
    // A process per SA is end to end but slow in the TCG guest (about 0.15 s per process
    // start); the 10,000-SA test adds through the library.
    let _ns = fresh_netns();
    let n = 100u32;
    let start = Instant::now();
    for i in 0..n {
        let spi = format!("{:#x}", 0x10000 + i);
        let r = run(&format!(
            "-q add --esp aes --enc-key {AES128} --auth sha1 --auth-key \
            {SHA1} --src 10.2.0.1 --dst 10.2.0.2 --spi {spi}"
        ));
        assert!(r.ok(), "{spi}: {}", r.stderr);
    }
    let t = start.elapsed();
    report(&format!(
        "added {n} SAs with {n} pfkey add processes in {t:.2?} ({:.2?} each)",
        t / n
    ));
    let m = dump_measured();
    assert_all(&m, n);
    assert_eq!(
        entries(&xfrm_state()).len(),
        n as usize,
        "ip xfrm state agrees"
    );
    report(&format!(
        "pfkey dump --json of those {n}: {:.2?}, peak RSS (VmHWM) {} KiB",
        m.elapsed, m.vm_hwm_kib
    ));
}

// ---------------------------------------------------------------------------------------
// the README's main job
// ---------------------------------------------------------------------------------------

#[test]
fn the_demo_script_passes() {
    let _ns = fresh_netns();
    let dir = tempdir::Dir::new("demo");
    let script = dir.0.join("demo.sh");
    std::fs::write(&script, include_str!("../../lab/demo.sh")).expect("write demo.sh");
    let r = Run::new(
        Command::new("sh")
            .arg(&script)
            // Already in a private namespace: no second unshare.
            .env("PFKEY_DEMO_NETNS", "1")
            .env("PFKEY_BIN", pfkey_path()),
    );
    assert!(r.ok(), "demo failed:\n{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("\n$ pfkey add --esp aes --auth md5 "),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\n$ ip xfrm state\n"), "{}", r.stdout);
    assert!(r.stdout.contains("demo: OK"), "{}", r.stdout);
    assert_eq!(xfrm_state(), "", "the demo flushed");
}
