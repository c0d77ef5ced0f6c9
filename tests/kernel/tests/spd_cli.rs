//! Kernel tests of the `pfkey` security policy commands (`spdadd`, `spdupdate`,
//! `spddelete`, `spdget`, `spddump`, `spdflush`) against the real af_key: what they
//! install agrees with `ip xfrm policy` (an observer independent of our code), dumps
//! round-trip in text, JSON and `setkey -DP` form, per-socket policies are marked, the
//! kernel's refusals are explained, and bad input leaves the SPD unchanged.
//!
//! Each test runs in a fresh network namespace; the CLI is `$PFKEY_BIN`.

use std::net::UdpSocket;
use std::process::Command;

use pfkey::sockpolicy::{self, Encoding, SocketDirection, SocketPolicy};
use pfkey_kernel_tests::cmd::{pfkey_path, Run};
use pfkey_kernel_tests::xfrm::entries;
use pfkey_kernel_tests::{as_nobody, fresh_netns, pfkey, xfrm_policy};
use serde_json::Value;

/// Runs `pfkey ARGS` and asserts it succeeded silently; returns nothing (changes print
/// nothing).
fn quiet_ok(args: &[&str]) {
    let r = pfkey(args);
    assert!(r.ok(), "{args:?}: {r:?}");
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""), "{args:?}");
}

/// Runs `pfkey ARGS`, asserts it failed with `code`, and returns standard error.
fn fails(args: &[&str], code: i32) -> String {
    let r = pfkey(args);
    assert_eq!(r.status.code(), Some(code), "{args:?}: {r:?}");
    assert_eq!(r.stdout, "", "{args:?}");
    r.stderr
}

/// `pfkey --json spddump` as JSON values.
fn dump_json() -> Vec<Value> {
    let out = pfkey(&["--json", "spddump"]).expect_ok();
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The dumped policy with this direction and source address.
fn find<'a>(dump: &'a [Value], dir: &str, src: &str) -> &'a Value {
    dump.iter()
        .find(|p| p["dir"] == dir && p["src"]["address"] == src)
        .unwrap_or_else(|| panic!("no {dir} policy from {src} in {dump:#?}"))
}

/// The `ip xfrm policy` entry with this first line prefix and direction.
fn xfrm_entry(selector: &str, dir: &str) -> String {
    let all = xfrm_policy();
    entries(&all)
        .into_iter()
        .find(|e| e.starts_with(selector) && e.contains(&format!("dir {dir} ")))
        .unwrap_or_else(|| panic!("no '{selector}' dir {dir} in ip xfrm policy:\n{all}"))
}

const OUT_TCP: &[&str] = &[
    "spdadd",
    "--src",
    "10.1.0.0/24",
    "--dst",
    "10.2.0.0/24",
    "--proto",
    "tcp",
    "--dport",
    "443",
    "--dir",
    "out",
    "--priority",
    "high",
    "--tmpl",
    "esp/transport//require",
    "--tmpl",
    "ah/transport//use",
];

#[test]
fn spdadd_agrees_with_ip_xfrm_policy_and_round_trips_through_the_dump() {
    let _ns = fresh_netns();
    quiet_ok(OUT_TCP);
    quiet_ok(&[
        "spdadd",
        "--src",
        "10.2.0.0/24",
        "--dst",
        "10.1.0.0/24",
        "--dir",
        "in",
        "--tmpl",
        "esp/tunnel/192.0.2.2-192.0.2.1/unique:5",
    ]);
    quiet_ok(&[
        "spdadd",
        "--src",
        "10.2.0.0/24",
        "--dst",
        "10.1.0.0/24",
        "--dir",
        "fwd",
        "--priority",
        "100",
        "--tmpl",
        "esp/tunnel/192.0.2.2-192.0.2.1/require",
    ]);
    quiet_ok(&[
        "spdadd",
        "--src",
        "::/0",
        "--dst",
        "::/0",
        "--proto",
        "icmp6",
        "--icmp-type",
        "135",
        "--dir",
        "in",
        "--action",
        "bypass",
    ]);
    quiet_ok(&[
        "spdadd",
        "--src",
        "10.9.0.1",
        "--dst",
        "10.9.0.2",
        "--proto",
        "icmp",
        "--icmp-type",
        "8",
        "--icmp-code",
        "3",
        "--dir",
        "out",
        "--action",
        "discard",
    ]);
    quiet_ok(&[
        "spdadd",
        "--src",
        "2001:db8:1::/48",
        "--dst",
        "2001:db8:2::/48",
        "--proto",
        "udp",
        "--sport",
        "500",
        "--dir",
        "out",
        "--tmpl",
        "esp/tunnel/2001:db8::1-2001:db8::2/unique",
    ]);

    // The kernel's view, through ip xfrm (iproute2 prints protocol numbers here: the
    // guest has no /etc/protocols).
    let e = xfrm_entry("src 10.1.0.0/24 dst 10.2.0.0/24 proto 6 dport 443", "out");
    assert!(e.contains("dir out priority 1073741824"), "{e}");
    assert!(
        e.contains("proto esp reqid 0 mode transport")
            && e.contains("proto ah reqid 0 mode transport"),
        "{e}"
    );
    assert!(e.contains("level use"), "the AH template is optional: {e}");
    let e = xfrm_entry("src 10.2.0.0/24 dst 10.1.0.0/24", "in");
    assert!(
        e.contains("tmpl src 192.0.2.2 dst 192.0.2.1")
            && e.contains("proto esp reqid 5 mode tunnel"),
        "{e}"
    );
    let e = xfrm_entry("src 10.2.0.0/24 dst 10.1.0.0/24", "fwd");
    assert!(
        e.contains("priority 100") && e.contains("reqid 0 mode tunnel"),
        "{e}"
    );
    let e = xfrm_entry("src ::/0 dst ::/0 proto 58 type 135", "in");
    assert!(
        !e.contains("tmpl") && !e.contains("action block"),
        "bypass: {e}"
    );
    let e = xfrm_entry(
        "src 10.9.0.1/32 dst 10.9.0.2/32 proto 1 type 8 code 3",
        "out",
    );
    assert!(e.contains("action block"), "discard: {e}");
    let e = xfrm_entry(
        "src 2001:db8:1::/48 dst 2001:db8:2::/48 proto 17 sport 500",
        "out",
    );
    assert!(e.contains("tmpl src 2001:db8::1 dst 2001:db8::2"), "{e}");
    let kernel_reqid: u32 = e
        .split("reqid ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no reqid in {e}"));
    assert!(
        kernel_reqid >= 0x4000,
        "unique without a reqid: the kernel allocates one"
    );

    // The JSON dump says the same.
    let dump = dump_json();
    assert_eq!(dump.len(), 6, "{dump:#?}");
    let p = find(&dump, "out", "10.1.0.0");
    assert_eq!(
        (
            p["proto_name"].clone(),
            p["dport"].clone(),
            p["priority"].clone()
        ),
        ("tcp".into(), 443.into(), 0x4000_0000u32.into())
    );
    let t: Vec<&str> = p["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert_eq!(t, ["esp/transport//require", "ah/transport//use"]);
    assert_eq!(
        p["id"].as_u64().unwrap() & 7,
        1,
        "out policies have ids ≡ 1 mod 8"
    );
    let p = find(&dump, "in", "10.2.0.0");
    assert_eq!(p["templates"][0]["reqid"], 5);
    assert_eq!(p["templates"][0]["tunnel"]["src"], "192.0.2.2");
    let p = find(&dump, "in", "::");
    assert_eq!(
        (
            p["action"].clone(),
            p["policy_type"].clone(),
            p["icmp_type"].clone()
        ),
        ("bypass".into(), "none".into(), 135.into())
    );
    let p = find(&dump, "out", "10.9.0.1");
    assert_eq!(
        (
            p["action"].clone(),
            p["icmp_type"].clone(),
            p["icmp_code"].clone()
        ),
        ("discard".into(), 8.into(), 3.into())
    );
    let p = find(&dump, "out", "2001:db8:1::");
    assert_eq!(p["templates"][0]["reqid"], kernel_reqid);
    assert!(dump.iter().all(|p| p["socket"] == false));

    // spdget by id and by selector gives the dump's entry; text and setkey -DP forms.
    for p in &dump {
        let id = p["id"].to_string();
        let got = pfkey(&["--json", "spdget", "--id", &id]).expect_ok();
        let got: Value = serde_json::from_str(got.trim()).expect("json");
        assert_eq!(got["templates"], p["templates"], "spdget --id {id}");
        assert_eq!(got["src"], p["src"]);
    }
    let got = pfkey(&[
        "spdget",
        "--src",
        "10.2.0.0/24",
        "--dst",
        "10.1.0.0/24",
        "--dir",
        "fwd",
    ])
    .expect_ok();
    assert!(
        got.starts_with("fwd ipsec 10.2.0.0/24 -> 10.1.0.0/24\n")
            && got.contains("  priority    100\n")
            && got.contains("  template    esp/tunnel/192.0.2.2-192.0.2.1/require\n"),
        "{got}"
    );
    let setkey = pfkey(&["spddump", "--format", "setkey"]).expect_ok();
    for piece in [
        "10.1.0.0/24[any] 10.2.0.0/24[443] tcp\n\tout prio high ipsec\n\tesp/transport//require\n\tah/transport//use\n",
        "10.9.0.1 10.9.0.2 icmp 8,3\n\tout prio def discard\n",
        "::/0 ::/0 ipv6-icmp 135,0\n\tin prio def none\n",
        "\tesp/tunnel/192.0.2.2-192.0.2.1/unique:5\n",
    ] {
        assert!(setkey.contains(piece), "setkey -DP text lacks {piece:?}:\n{setkey}");
    }
    let text = pfkey(&["spddump"]).expect_ok();
    assert_eq!(text.matches("\n\n").count(), 5, "six blocks:\n{text}");
    assert!(
        text.contains("out discard 10.9.0.1 -> 10.9.0.2 proto icmp type 8 code 3\n"),
        "{text}"
    );
}

#[test]
fn spdupdate_replaces_spddelete_removes_and_spdflush_empties() {
    let _ns = fresh_netns();
    quiet_ok(OUT_TCP);
    let stderr = fails(OUT_TCP, 1);
    assert_eq!(
        stderr,
        "pfkey: spdadd 10.1.0.0/24 -> 10.2.0.0/24[443] proto 6 out: a policy with this \
         selector and direction already exists; spdupdate replaces it (EEXIST)\n"
    );
    let mut update = OUT_TCP.to_vec();
    update[0] = "spdupdate";
    update[12] = "200";
    update.truncate(15);
    update[14] = "esp/tunnel/192.0.2.1-192.0.2.2/require";
    quiet_ok(&update);
    let e = xfrm_entry("src 10.1.0.0/24 dst 10.2.0.0/24 proto 6 dport 443", "out");
    assert!(
        e.contains("priority 200") && e.contains("mode tunnel") && !e.contains("proto ah"),
        "{e}"
    );
    // spdupdate also adds.
    quiet_ok(&[
        "spdupdate",
        "--src",
        "10.3.0.0/16",
        "--dst",
        "10.4.0.0/16",
        "--dir",
        "in",
        "--action",
        "discard",
    ]);
    assert_eq!(entries(&xfrm_policy()).len(), 2);

    // spddelete names the policy by what it matches (ports and protocol included).
    let stderr = fails(
        &[
            "spddelete",
            "--src",
            "10.1.0.0/24",
            "--dst",
            "10.2.0.0/24",
            "--dir",
            "out",
        ],
        1,
    );
    assert_eq!(
        stderr,
        "pfkey: spddelete 10.1.0.0/24 -> 10.2.0.0/24 out: no such policy (ENOENT)\n"
    );
    quiet_ok(&[
        "spddelete",
        "--src",
        "10.1.0.0/24",
        "--dst",
        "10.2.0.0/24",
        "--proto",
        "tcp",
        "--dport",
        "443",
        "--dir",
        "out",
    ]);
    assert_eq!(entries(&xfrm_policy()).len(), 1);
    // And by id.
    let id = dump_json()[0]["id"].to_string();
    let r = pfkey(&["-v", "spddelete", "--id", &id]);
    assert!(r.ok(), "{r:?}");
    assert_eq!(xfrm_policy(), "");
    let stderr = fails(&["spddelete", "--id", &id], 1);
    assert_eq!(
        stderr,
        format!("pfkey: spddelete id {id}: no such policy (ENOENT)\n")
    );
    let stderr = fails(&["spdget", "--id", &id], 1);
    assert_eq!(
        stderr,
        format!("pfkey: spdget id {id}: no such policy (ENOENT)\n")
    );

    // spdflush, and an empty dump prints nothing.
    quiet_ok(OUT_TCP);
    quiet_ok(&[
        "spdadd", "--src", "fd00::/8", "--dst", "fd00::/8", "--dir", "fwd", "--action", "bypass",
    ]);
    quiet_ok(&["spdflush"]);
    assert_eq!(xfrm_policy(), "");
    let r = pfkey(&["spddump"]);
    assert!(
        r.ok() && r.stdout.is_empty() && r.stderr.is_empty(),
        "{r:?}"
    );
    quiet_ok(&["spdflush"]);
}

#[test]
fn kernel_refusals_are_explained_and_change_nothing() {
    let _ns = fresh_netns();
    let stderr = fails(
        &[
            "spdadd",
            "--src",
            "10.5.0.0/16",
            "--dst",
            "10.6.0.0/16",
            "--dir",
            "out",
            "--tmpl",
            "esp/tunnel/192.0.2.1-192.0.2.2/use",
        ],
        1,
    );
    assert!(
        stderr.starts_with(
            "pfkey: spdadd 10.5.0.0/16 -> 10.6.0.0/16 out: Linux refuses optional ('use') \
             tunnel templates in out policies since May 2023 (commit cf3128a7aca5"
        ) && stderr.ends_with("(EINVAL)\n"),
        "{stderr}"
    );
    // The same template is fine inbound.
    quiet_ok(&[
        "spdadd",
        "--src",
        "10.6.0.0/16",
        "--dst",
        "10.5.0.0/16",
        "--dir",
        "in",
        "--tmpl",
        "esp/tunnel/192.0.2.2-192.0.2.1/use",
    ]);
    let before = xfrm_policy();
    let mut seven = vec![
        "spdadd",
        "--src",
        "10.5.0.0/16",
        "--dst",
        "10.6.0.0/16",
        "--dir",
        "out",
    ];
    for _ in 0..7 {
        seven.extend(["--tmpl", "esp/transport//require"]);
    }
    let stderr = fails(&seven, 1);
    assert!(
        stderr.ends_with(
            "more than 6 templates: Linux allows at most 6 per policy (XFRM_MAX_DEPTH) (ELOOP)\n"
        ),
        "{stderr}"
    );
    // Six is the limit, not an error.
    seven.truncate(7 + 12);
    quiet_ok(&seven);
    let six = xfrm_entry("src 10.5.0.0/16 dst 10.6.0.0/16", "out");
    assert_eq!(
        six.matches("proto esp reqid 0 mode transport").count(),
        6,
        "{six}"
    );
    let stderr = fails(&["spdget", "--id", "0x7fff1"], 1);
    assert!(stderr.ends_with("no such policy (ENOENT)\n"), "{stderr}");
    assert_ne!(before, xfrm_policy(), "the six-template policy was added");
}

#[test]
fn bad_input_is_refused_before_the_socket_and_leaves_the_spd_unchanged() {
    let _ns = fresh_netns();
    quiet_ok(OUT_TCP);
    let before = xfrm_policy();
    let add = |edit: &[(&'static str, &'static str)]| -> Vec<&'static str> {
        let mut opts = vec![
            ("--src", "10.7.0.0/24"),
            ("--dst", "10.8.0.0/24"),
            ("--dir", "out"),
            ("--tmpl", "esp/transport//require"),
        ];
        for (o, v) in edit {
            match opts.iter_mut().find(|(x, _)| x == o) {
                Some(slot) => slot.1 = v,
                None => opts.push((o, v)),
            }
        }
        let mut args = vec!["spdadd"];
        for (o, v) in opts {
            args.push(o);
            args.push(v);
        }
        args
    };
    for (edit, words) in [
        (
            &[("--dir", "sideways")][..],
            "invalid value 'sideways' for '--dir <DIR>'",
        ),
        (
            &[("--tmpl", "esp/transport//sometimes")],
            "unknown level 'sometimes'",
        ),
        (
            &[("--tmpl", "esp/tunnel//require")],
            "tunnel mode needs the tunnel endpoints",
        ),
        (
            &[("--tmpl", "esp/tunnel/10.0.0.1-fd00::1/require")],
            "mix IPv4 and IPv6",
        ),
        (&[("--dst", "fd00::/64")], "mix IPv4 and IPv6"),
        (
            &[("--proto", "icmp"), ("--dport", "80")],
            "icmp has no ports",
        ),
        (&[("--dport", "80")], "--dport needs --proto tcp"),
        (
            &[("--proto", "udp"), ("--icmp-type", "3")],
            "--icmp-type needs --proto icmp",
        ),
    ] {
        let args = add(edit);
        let r = pfkey(&args);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {r:?}");
        assert!(
            r.stderr.contains(words),
            "{args:?}: {:?} lacks {words:?}",
            r.stderr
        );
        assert_eq!(xfrm_policy(), before, "{args:?} changed the SPD");
    }
}

#[test]
fn per_socket_policies_appear_in_the_dump_marked_as_such() {
    let _ns = fresh_netns();
    quiet_ok(OUT_TCP);
    let esp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    sockpolicy::apply_both(&esp, &SocketPolicy::esp(), Encoding::Xfrm).expect("esp policy");
    let bypass = UdpSocket::bind("[::1]:0").expect("udp6");
    sockpolicy::apply(
        &bypass,
        SocketDirection::Out,
        &SocketPolicy::Bypass,
        Encoding::PfKey,
    )
    .expect("bypass policy");

    let dump = dump_json();
    assert_eq!(dump.len(), 4, "{dump:#?}");
    let sockets: Vec<&Value> = dump.iter().filter(|p| p["socket"] == true).collect();
    assert_eq!(sockets.len(), 3, "{dump:#?}");
    let dirs: Vec<&str> = sockets.iter().map(|p| p["dir"].as_str().unwrap()).collect();
    assert_eq!(
        dirs.iter().filter(|d| **d == "socket-in").count(),
        1,
        "{dirs:?}"
    );
    assert_eq!(
        dirs.iter().filter(|d| **d == "socket-out").count(),
        2,
        "{dirs:?}"
    );
    let by = sockets
        .iter()
        .find(|p| p["action"] == "bypass")
        .expect("the bypass socket policy");
    assert_eq!(by["dir"], "socket-out");
    assert_eq!(by["src"]["address"], "::");
    let esp_in = sockets.iter().find(|p| p["dir"] == "socket-in").unwrap();
    assert_eq!(esp_in["templates"][0]["text"], "esp/transport//require");

    let text = pfkey(&["spddump"]).expect_ok();
    assert!(
        text.contains("socket-in ipsec (per-socket policy)\n"),
        "{text}"
    );
    assert!(
        text.contains("socket-out bypass (per-socket policy)\n"),
        "{text}"
    );
    let setkey = pfkey(&["spddump", "--format", "setkey"]).expect_ok();
    assert_eq!(
        setkey.matches("(per-socket policy) \n").count(),
        3,
        "{setkey}"
    );
    assert!(setkey.contains("\tout(socket) none\n"), "{setkey}");

    // spdget finds one by id in the dump (SPDGET cannot read socket policies); spddelete
    // cannot delete it and says why; spdflush leaves it.
    let id = by["id"].to_string();
    let got = pfkey(&["spdget", "--id", &id]).expect_ok();
    assert!(
        got.starts_with("socket-out bypass (per-socket policy)\n"),
        "{got}"
    );
    let stderr = fails(&["spddelete", "--id", &id], 1);
    assert!(
        stderr.contains("this is a per-socket policy")
            && stderr.contains("goes away when the socket is closed")
            && stderr.ends_with("(EINVAL)\n"),
        "{stderr}"
    );
    quiet_ok(&["spdflush"]);
    assert_eq!(dump_json().len(), 3, "socket policies survive spdflush");
    drop(esp);
    drop(bypass);
    let r = pfkey(&["spddump"]);
    assert!(r.ok() && r.stdout.is_empty(), "{r:?}");
}

#[test]
fn unprivileged_users_are_told_they_need_cap_net_admin() {
    let _ns = fresh_netns();
    for args in [OUT_TCP, &["spddump"], &["spdflush"]] {
        let r = Run::new(as_nobody(Command::new(pfkey_path()).args(args)));
        assert_eq!(r.status.code(), Some(77), "{args:?}: {r:?}");
        assert_eq!(
            r.stderr, "pfkey: permission denied: PF_KEY needs root or CAP_NET_ADMIN (EPERM)\n",
            "{args:?}"
        );
    }
    assert_eq!(xfrm_policy(), "");
}
