//! Kernel tests of per-socket IPsec policy (`pfkey::sockpolicy`) and of the library's
//! examples (`pfkey/examples`: `tcp_server`, `tcp_client`, `keymgr`): privileges,
//! both encodings, SPDDUMP, the data plane between two namespaces, bypass under a
//! global `require` policy, algorithm masks, and the ACQUIRE path.
//!
//! Each test runs in a fresh network namespace. The examples are the static builds the
//! lab puts in `$PFKEY_EXAMPLES` (`/lab/examples` in the guest). Where the issue names the
//! command, the test runs the `pfkey` binary (`$PFKEY_BIN`): the main data-plane test keys
//! both hosts with `pfkey add`, and the ACQUIRE path is watched with `pfkey monitor --json`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use pfkey::alg::{SADB_AALG_MD5HMAC, SADB_X_AALG_SHA2_512HMAC, SADB_X_EALG_AESCBC};
use pfkey::client::{AlgKey, Event, PolicySpec, SaSpec};
use pfkey::policy::{IpsecRequest, Policy};
use pfkey::repr::{Address, Key};
use pfkey::sockpolicy::{
    self, AlgorithmMask, ApplyError, Encoding, IpsecReq, Pref, SocketDirection, SocketPolicy,
    Template,
};
use pfkey::wire::{Direction, Level, Mode, PolicyType, SaType, IPPROTO_ESP};
use pfkey::Client;
use pfkey_kernel_tests::cmd::{pfkey_path, Run};
use pfkey_kernel_tests::xfrm::{state_packets, state_with_spi};
use pfkey_kernel_tests::{as_nobody, fresh_netns, veth_link, xfrm_policy, Netns, VethLink};
use serde_json::Value;
use socket2::{Domain, Socket, Type};

// ----- helpers -----

fn client() -> Client {
    Client::open().unwrap_or_else(|e| panic!("{e}; kernel tests run in the kernel lab"))
}

/// The static build of example `name` (`$PFKEY_EXAMPLES/name`).
fn example(name: &str) -> PathBuf {
    let dir = std::env::var_os("PFKEY_EXAMPLES").unwrap_or_else(|| {
        panic!("PFKEY_EXAMPLES is not set: the kernel lab (tests/lab/vm) provides the examples")
    });
    PathBuf::from(dir).join(name)
}

/// A child process whose standard output is read line by line in the background. It is
/// killed (by its own pid) when dropped. Standard error is inherited unless `cmd` says
/// otherwise.
struct Spawned {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    name: String,
}

impl Spawned {
    fn start(mut cmd: Command, name: &str) -> Spawned {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let out = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Spawned {
            child,
            lines,
            seen: Vec::new(),
            name: name.to_string(),
        }
    }

    /// Waits for a line containing `needle` and returns it.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "{}: no line with {needle:?} within {timeout:?}; output so far: {:#?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// Every line printed so far (without waiting).
    fn output(&mut self) -> Vec<String> {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
        self.seen.clone()
    }

    /// Every line still to come, once the process has closed its standard output (after
    /// it exited); with every line printed before, in order.
    fn all_output(&mut self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(mpsc::RecvTimeoutError::Disconnected) => return self.seen.clone(),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("{}: output did not end within {timeout:?}", self.name)
                }
            }
        }
    }

    /// Sends `sig` to the process (by its pid).
    fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, sig)
            .unwrap_or_else(|e| panic!("{}: kill({sig}): {e}", self.name));
    }

    /// Waits for the process to exit and returns its status code.
    fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return st.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two hosts' worth of ESP keys: one SA each way.
#[derive(Clone, Copy)]
struct Keys {
    auth: u8,
    auth_key: &'static [u8],
    enc_key_fwd: &'static [u8],
    enc_key_back: &'static [u8],
}

/// AES-CBC-128 with HMAC-MD5: the classic example.
const MD5_KEYS: Keys = Keys {
    auth: SADB_AALG_MD5HMAC,
    auth_key: b"0123456789abcdef",
    enc_key_fwd: b"aaaaaaaaaaaaaaaa",
    enc_key_back: b"bbbbbbbbbbbbbbbb",
};

/// AES-CBC-256 with HMAC-SHA-512: a modern choice PF_KEY can install.
const MODERN_KEYS: Keys = Keys {
    auth: SADB_X_AALG_SHA2_512HMAC,
    auth_key: b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    enc_key_fwd: b"cccccccccccccccccccccccccccccccc",
    enc_key_back: b"dddddddddddddddddddddddddddddddd",
};

const SPI_FWD: u32 = 0x1001;
const SPI_BACK: u32 = 0x1002;

fn esp_sa(k: &Keys, spi: u32, src: IpAddr, dst: IpAddr, enc_key: &[u8]) -> SaSpec {
    let mut s = SaSpec::new(SaType::Esp, spi, src, dst);
    s.mode = Mode::Transport;
    s.replay = 32;
    s.auth = Some(AlgKey {
        id: k.auth,
        key: Key::new(k.auth_key.to_vec()).expect("key"),
    });
    s.enc = Some(AlgKey {
        id: SADB_X_EALG_AESCBC,
        key: Key::new(enc_key.to_vec()).expect("key"),
    });
    s
}

/// Adds, in namespace `ns`, the SA `client -> server` (SPI 0x1001) and `server -> client`
/// (SPI 0x1002).
fn install_sas(ns: &Netns, k: &Keys, client_ip: IpAddr, server_ip: IpAddr) {
    ns.enter(|| {
        let mut c = client();
        c.add(&esp_sa(k, SPI_FWD, client_ip, server_ip, k.enc_key_fwd))
            .expect("add client->server SA");
        c.add(&esp_sa(k, SPI_BACK, server_ip, client_ip, k.enc_key_back))
            .expect("add server->client SA");
    });
}

/// The canonical (`pfkey::alg`) name of `k`'s authentication algorithm.
fn auth_name(k: &Keys) -> &'static str {
    match k.auth {
        SADB_AALG_MD5HMAC => "hmac-md5",
        _ => "hmac-sha512",
    }
}

/// The same two SAs as [`install_sas`], added in namespace `ns` by the `pfkey` command as
/// an administrator keying by hand would (`pfkey add`; `--quiet` silences the warning that
/// a key on the command line shows in `ps`). Checks that `pfkey add` prints nothing and,
/// through `ip xfrm state`, that the kernel holds the SAs with the algorithms, keys, mode
/// and replay window asked for.
fn pfkey_add_sas(ns: &Netns, k: &Keys, client_ip: IpAddr, server_ip: IpAddr) {
    let auth = auth_name(k);
    let auth_key = format!("0x{}", hex(k.auth_key));
    for (spi, src, dst, enc_key) in [
        (SPI_FWD, client_ip, server_ip, k.enc_key_fwd),
        (SPI_BACK, server_ip, client_ip, k.enc_key_back),
    ] {
        let enc_key = format!("0x{}", hex(enc_key));
        let run = Run::new(ns.command(pfkey_path()).args([
            "--quiet",
            "add",
            "--esp",
            "aes-cbc",
            "--enc-key",
            &enc_key,
            "--auth",
            auth,
            "--auth-key",
            &auth_key,
            "--src",
            &src.to_string(),
            "--dst",
            &dst.to_string(),
            "--spi",
            &format!("{spi:#x}"),
            "--mode",
            "transport",
            "--replay",
            "32",
        ]));
        assert!(
            run.ok() && run.stdout.is_empty() && run.stderr.is_empty(),
            "pfkey add: {run:?}"
        );
        let state = ns
            .enter(|| state_with_spi(spi))
            .unwrap_or_else(|| panic!("pfkey add made no SA with spi {spi:#x}"));
        let kernel_auth = match k.auth {
            SADB_AALG_MD5HMAC => "hmac(md5)",
            _ => "hmac(sha512)",
        };
        for want in [
            format!("src {src} dst {dst}"),
            "proto esp".to_string(),
            "mode transport".to_string(),
            "replay-window 32".to_string(),
            format!("{kernel_auth} {auth_key}"),
            format!("enc cbc(aes) {enc_key}"),
        ] {
            assert!(
                state.contains(&want),
                "no {want:?} in ip xfrm state:\n{state}"
            );
        }
    }
}

/// The key file `keymgr` reads for the two SAs of [`install_sas`].
fn key_file(k: &Keys, client_ip: IpAddr, server_ip: IpAddr) -> PathBuf {
    let auth = auth_name(k);
    let text = format!(
        "# test keys\n{client_ip} {server_ip} {SPI_FWD:#x} aes-cbc 0x{} {auth} 0x{}\n\
         {server_ip} {client_ip} {SPI_BACK:#x} aes-cbc 0x{} {auth} 0x{}\n",
        hex(k.enc_key_fwd),
        hex(k.auth_key),
        hex(k.enc_key_back),
        hex(k.auth_key)
    );
    let path = std::env::temp_dir().join(format!(
        "keymgr-{}-{:?}.keys",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, text).expect("write key file");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod key file");
    path
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Starts `tcp_server --once` in `ns` on `addr` with the given policy arguments and waits
/// until it listens.
fn start_server(ns: &Netns, addr: SocketAddr, policy_args: &[&str]) -> Spawned {
    let mut cmd = ns.command(example("tcp_server"));
    cmd.args(["--listen", &addr.to_string(), "--once"])
        .args(policy_args);
    let mut s = Spawned::start(cmd, "tcp_server");
    s.wait_for("listening on", Duration::from_secs(10));
    s
}

/// Runs `tcp_client` in `ns` to `addr` and returns its run.
fn run_client(ns: &Netns, addr: SocketAddr, message: &str, args: &[&str]) -> Run {
    Run::new(
        ns.command(example("tcp_client"))
            .arg(addr.to_string())
            .args(["--message", message])
            .args(args),
    )
}

/// The (dir, policy type, number of templates) of every policy in a PF_KEY SPDDUMP.
fn spd_summary(c: &mut Client) -> Vec<(Direction, PolicyType, usize, u32)> {
    let mut v: Vec<_> = c
        .spd_dump()
        .expect("spddump")
        .map(|p| {
            let p = p.expect("spddump entry");
            (
                p.policy.dir,
                p.policy.policy_type,
                p.policy.requests.len(),
                p.policy.id,
            )
        })
        .collect();
    v.sort_by_key(|e| e.3 & 7);
    v
}

// ----- privileges -----

/// Set by the parent of [`privilege_probe`]'s child runs: the child performs the probes.
const PROBE_ENV: &str = "PFKEY_SOCKPOLICY_PROBE";

/// Every per-socket operation the privilege tests try: (name, outcome as errno, 0 for
/// success).
fn probe_all() -> Vec<(String, i32)> {
    let mut out = Vec::new();
    let errno = |r: Result<(), ApplyError>| match r {
        Ok(()) => 0,
        Err(e) => e.errno().unwrap_or(-1),
    };
    let esp = SocketPolicy::esp();
    let policies = [
        ("bypass", SocketPolicy::Bypass),
        ("discard", SocketPolicy::Discard),
        ("esp", esp.clone()),
    ];
    for enc in [Encoding::PfKey, Encoding::Xfrm] {
        for (name, p) in &policies {
            for (fam, bind) in [("v4", "0.0.0.0:0"), ("v6", "[::]:0")] {
                let s = UdpSocket::bind(bind).expect("udp socket");
                for dir in [SocketDirection::In, SocketDirection::Out] {
                    out.push((
                        format!("{enc}-{name}-{fam}-{dir}"),
                        errno(sockpolicy::apply(&s, dir, p, enc)),
                    ));
                }
            }
        }
    }
    for (fam, bind) in [("v4", "0.0.0.0:0"), ("v6", "[::]:0")] {
        let s = UdpSocket::bind(bind).expect("udp socket");
        out.push((format!("clear-{fam}"), errno(sockpolicy::clear(&s))));
    }
    out
}

/// Runs this test executable again (as `cmd` says: another user, another namespace)
/// with [`PROBE_ENV`] set, so that [`privilege_probe`] performs [`probe_all`] there and
/// prints one `PROBE name errno` line each; returns them.
fn probe_in(cmd: &mut Command) -> Vec<(String, i32)> {
    let exe = std::env::current_exe().expect("current_exe");
    let run = Run::new(
        cmd.arg(exe)
            .args([
                "--exact",
                "privilege_probe",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(PROBE_ENV, "1"),
    );
    let probes: Vec<(String, i32)> = run
        .stdout
        .lines()
        .filter_map(|l| {
            // The first probe line follows libtest's "test privilege_probe ... ".
            let mut w = l.split_once("PROBE ")?.1.split(' ');
            Some((w.next()?.to_string(), w.next()?.parse().ok()?))
        })
        .collect();
    assert!(
        run.ok() && probes.len() == probe_all_count(),
        "probe run failed or incomplete: {run:?}"
    );
    probes
}

fn probe_all_count() -> usize {
    2 * 3 * 2 * 2 + 2
}

/// The child side of the privilege tests when [`PROBE_ENV`] is set; otherwise it checks
/// that root may do everything the probes try (so the probes themselves are sound).
#[test]
fn privilege_probe() {
    if std::env::var_os(PROBE_ENV).is_some() {
        for (name, errno) in probe_all() {
            println!("PROBE {name} {errno}");
        }
        return;
    }
    let _ns = fresh_netns();
    let probes = probe_all();
    assert_eq!(probes.len(), probe_all_count());
    let failed: Vec<_> = probes.iter().filter(|p| p.1 != 0).collect();
    assert!(failed.is_empty(), "root was refused: {failed:?}");
}

#[test]
fn unprivileged_users_get_eperm_for_every_socket_policy_and_for_clearing() {
    let _ns = fresh_netns();
    let probes = probe_in(as_nobody(&mut Command::new("env")));
    let not_eperm: Vec<_> = probes.iter().filter(|p| p.1 != libc::EPERM).collect();
    assert!(
        not_eperm.is_empty(),
        "uid 65534 got something else than EPERM: {not_eperm:?}"
    );
}

#[test]
fn a_user_namespace_of_its_own_gives_an_unprivileged_user_cap_net_admin_there() {
    let _ns = fresh_netns();
    // busybox unshare: new user namespace with the caller mapped to root, and a new
    // network namespace owned by it.
    let probes = probe_in(as_nobody(Command::new("unshare").args(["-r", "-n", "env"])));
    let refused: Vec<_> = probes.iter().filter(|p| p.1 != 0).collect();
    assert!(
        refused.is_empty(),
        "refused in an own user namespace: {refused:?}"
    );
}

#[test]
fn examples_without_cap_net_admin_say_so_and_exit_77() {
    let _ns = fresh_netns();
    for (prog, args) in [
        ("tcp_client", vec!["127.0.0.1:9", "--encoding", "pfkey"]),
        (
            "tcp_server",
            vec!["--listen", "127.0.0.1:0", "--encoding", "xfrm"],
        ),
    ] {
        let run = Run::new(as_nobody(Command::new(example(prog)).args(&args)));
        assert_eq!(run.status.code(), Some(77), "{run:?}");
        assert!(
            run.stderr.contains("need CAP_NET_ADMIN") && run.stderr.contains("(EPERM)"),
            "{run:?}"
        );
    }
}

// ----- the SPD view, clearing, kernel refusals -----

#[test]
fn socket_policies_show_in_spddump_survive_spdflush_and_clear_removes_both() {
    let _ns = fresh_netns();
    let mut c = client();
    for enc in [Encoding::PfKey, Encoding::Xfrm] {
        let s = UdpSocket::bind("127.0.0.1:0").expect("udp");
        let p = SocketPolicy::Ipsec(vec![
            Template::transport(SaType::Esp),
            Template::transport(SaType::Ah).unique(77),
        ]);
        sockpolicy::apply_both(&s, &p, enc).expect("apply");
        let dump = c.spd_dump().expect("spddump");
        let entries: Vec<_> = dump.map(|e| e.expect("entry")).collect();
        assert_eq!(entries.len(), 2, "{enc}: {entries:#?}");
        for e in &entries {
            assert!(
                matches!(e.policy.dir, Direction::SocketIn | Direction::SocketOut),
                "{enc}: {:?}",
                e.policy.dir
            );
            assert!(
                e.policy.id & 7 >= 3,
                "{enc}: socket policy id {}",
                e.policy.id
            );
            let r: Vec<_> = e
                .requests()
                .iter()
                .map(|r| (r.proto, r.mode, r.level, r.reqid))
                .collect();
            assert_eq!(
                r,
                [
                    (IPPROTO_ESP, Mode::Transport, Level::Require, 0),
                    (51, Mode::Transport, Level::Unique, 77)
                ],
                "{enc}"
            );
        }
        // ip xfrm shows them as socket policies too.
        let shown = xfrm_policy();
        assert!(
            shown.contains("dir 3") || shown.contains("socket in"),
            "{shown}"
        );
        // Not the SPD's: SPDFLUSH and `ip xfrm policy flush` leave them, and they cannot
        // be read by id.
        c.spd_flush().expect("spdflush");
        assert_eq!(c.spd_dump().expect("spddump").count(), 2);
        pfkey_kernel_tests::ip(&["xfrm", "policy", "flush"]);
        assert_eq!(c.spd_dump().expect("spddump").count(), 2);
        let e = c.spd_get(entries[0].policy.id).unwrap_err();
        assert!(e.is_kernel_errno(libc::EINVAL), "{e}");
        sockpolicy::clear(&s).expect("clear");
        assert_eq!(c.spd_dump().expect("spddump").count(), 0, "{enc}");
    }
}

#[test]
fn bypass_is_reported_back_as_none_and_discard_as_discard() {
    let _ns = fresh_netns();
    let mut c = client();
    for enc in [Encoding::PfKey, Encoding::Xfrm] {
        let s = UdpSocket::bind("127.0.0.1:0").expect("udp");
        sockpolicy::apply(&s, SocketDirection::In, &SocketPolicy::Bypass, enc).expect("in");
        sockpolicy::apply(&s, SocketDirection::Out, &SocketPolicy::Discard, enc).expect("out");
        let got: Vec<_> = spd_summary(&mut c)
            .into_iter()
            .map(|(d, t, n, _)| (d, t, n))
            .collect();
        assert_eq!(
            got,
            [
                (Direction::SocketIn, PolicyType::None, 0),
                (Direction::SocketOut, PolicyType::Discard, 0)
            ],
            "{enc}"
        );
        drop(s);
        // A UDP socket is freed after an RCU grace period (SOCK_RCU_FREE), and its
        // policies with it: they go soon after the close, not at once.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut left = c.spd_dump().expect("spddump").count();
        while left > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            left = c.spd_dump().expect("spddump").count();
        }
        assert_eq!(left, 0, "closing the socket removes them");
    }
}

#[test]
fn outbound_optional_tunnel_templates_are_refused_per_socket_too() {
    let _ns = fresh_netns();
    let tunnel = SocketPolicy::Ipsec(vec![Template::tunnel(
        SaType::Esp,
        "192.0.2.1".parse().unwrap(),
        "192.0.2.2".parse().unwrap(),
    )
    .with_level(Level::Use)]);
    // xfrm_user refuses with EINVAL. af_key refuses too, but the kernel reports the
    // last key manager module's answer, xfrm_user's EOPNOTSUPP for an option that is
    // not its own (af_key is loaded first in the lab).
    for (enc, errno) in [
        (Encoding::Xfrm, libc::EINVAL),
        (Encoding::PfKey, libc::EOPNOTSUPP),
    ] {
        let s = UdpSocket::bind("127.0.0.1:0").expect("udp");
        sockpolicy::apply(&s, SocketDirection::In, &tunnel, enc).expect("inbound is accepted");
        let e = sockpolicy::apply(&s, SocketDirection::Out, &tunnel, enc).unwrap_err();
        assert_eq!(e.errno(), Some(errno), "{enc}: {e}");
        assert!(e.to_string().contains("cf3128a7aca5"), "{e}");
    }
    assert_eq!(
        Encoding::detect(),
        Encoding::Xfrm,
        "xfrm_user is loaded in the lab"
    );
    assert!(pfkey::sys::xfrm_netlink_available());
}

// ----- ACQUIRE and algorithm masks -----

/// A namespace with a veth whose peer has no address, so that packets to 10.9.0.2 leave
/// by a real device (loopback is exempt from IPsec).
fn one_legged_netns() -> Netns {
    let ns = fresh_netns();
    ns.ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"])
        .expect_ok();
    ns.ip(&["addr", "add", "10.9.0.1/24", "dev", "va"])
        .expect_ok();
    ns.ip(&["link", "set", "va", "up"]).expect_ok();
    ns.ip(&["link", "set", "vb", "up"]).expect_ok();
    ns
}

fn next_acquire(events: &mut Client) -> pfkey::client::Acquire {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.next_event(Some(left)).expect("event") {
            Some(Event::Acquire(a)) => return a,
            Some(_) => continue,
            None => panic!("no ACQUIRE within 5 s"),
        }
    }
}

#[test]
fn algorithm_masks_shape_the_acquire_proposal_and_pfkey_templates_propose_nothing() {
    let _ns = one_legged_netns();
    let mut events = client();
    events.register(SaType::Esp).expect("register");
    let mut c = client();

    // The Solaris-shaped request of the original example: ESP required, AES-CBC with
    // HMAC-MD5, AH and self-encapsulation never.
    let s = UdpSocket::bind("10.9.0.1:0").expect("udp");
    IpsecReq {
        ah: Pref::Never,
        esp: Pref::Required,
        self_encap: Pref::Never,
        esp_alg: SADB_X_EALG_AESCBC,
        esp_auth_alg: SADB_AALG_MD5HMAC,
        ..IpsecReq::default()
    }
    .apply(&s, Encoding::Xfrm)
    .expect("apply");
    let templates: Vec<_> = c
        .spd_dump()
        .expect("spddump")
        .map(|p| {
            let p = p.expect("entry");
            (
                p.policy.dir,
                p.policy.requests.len(),
                p.policy.requests[0].proto,
            )
        })
        .collect();
    assert_eq!(templates.len(), 2, "both directions: {templates:?}");
    assert!(
        templates.iter().all(|t| t.1 == 1 && t.2 == IPPROTO_ESP),
        "{templates:?}"
    );
    // No SA yet: the send fails at once (no blackhole route as for global policies).
    let e = s.send_to(b"x", "10.9.0.2:9").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e}");
    let a = next_acquire(&mut events);
    assert_eq!(
        (a.src.addr.ip(), a.dst.addr.ip()),
        (
            "10.9.0.1".parse::<IpAddr>().unwrap(),
            "10.9.0.2".parse().unwrap()
        )
    );
    assert_eq!(a.policy_id & 7, 4, "the socket's outbound policy asked");
    let combs: Vec<_> = a.proposal.iter().map(|c| (c.auth, c.encrypt)).collect();
    assert_eq!(combs, [(SADB_AALG_MD5HMAC, SADB_X_EALG_AESCBC)]);
    drop(s);
    c.flush(SaType::Unspec).expect("flush the larval SA");

    let s = UdpSocket::bind("10.9.0.1:0").expect("udp");
    sockpolicy::apply(
        &s,
        SocketDirection::Out,
        &SocketPolicy::esp(),
        Encoding::PfKey,
    )
    .expect("apply");
    let _ = s.send_to(b"x", "10.9.0.2:9");
    let a = next_acquire(&mut events);
    assert!(a.proposal.is_empty(), "{:?}", a.proposal);
}

// ----- the data plane: two namespaces, the examples -----

/// Runs the example server (right) and client (left) with `args` on both, and checks the
/// echo and that both SAs counted packets on both sides.
fn exchange_over_esp(link: &VethLink, port: u16, args: &[&str], message: &str) {
    let server_addr = SocketAddr::new(link.right_addr, port);
    let before = (
        state_packets(SPI_FWD),
        link.right.enter(|| state_packets(SPI_BACK)),
    );
    let mut server = start_server(&link.right, server_addr, args);
    let run = run_client(&link.left, server_addr, message, args);
    assert!(run.ok(), "{args:?}: {run:?}");
    assert_eq!(run.stdout.trim(), message, "{args:?}");
    server.wait_for("received", Duration::from_secs(5));
    assert_eq!(server.wait_exit(Duration::from_secs(5)), 0);
    let after = (
        state_packets(SPI_FWD),
        link.right.enter(|| state_packets(SPI_BACK)),
    );
    assert!(
        after.0 > before.0 && after.1 > before.1,
        "{args:?}: ESP packet counters (client out, server out) {before:?} -> {after:?}"
    );
    assert!(
        link.right.enter(|| state_packets(SPI_FWD)) >= after.0 - before.0,
        "the server decrypted what the client sent"
    );
}

/// A plain connection between the same hosts: data passes and no ESP counter moves.
fn plain_exchange_is_not_protected(link: &VethLink, port: u16) {
    let server_addr = SocketAddr::new(link.right_addr, port);
    let before = (state_packets(SPI_FWD), state_packets(SPI_BACK));
    let mut server = start_server(&link.right, server_addr, &["--policy", "none"]);
    let run = run_client(&link.left, server_addr, "in clear", &["--policy", "none"]);
    assert!(run.ok(), "{run:?}");
    assert_eq!(run.stdout.trim(), "in clear");
    assert_eq!(server.wait_exit(Duration::from_secs(5)), 0);
    let after = (state_packets(SPI_FWD), state_packets(SPI_BACK));
    assert_eq!(before, after, "a socket without a policy used the SAs");
}

#[test]
fn examples_exchange_data_over_esp_with_both_encodings_and_a_plain_socket_is_not_protected() {
    let _ns = fresh_netns();
    let link = veth_link("10.80.0.1/24", "10.80.0.2/24");
    // Keyed by hand with the pfkey command, as the issue's walkthrough does.
    for ns in [&link.left, &link.right] {
        pfkey_add_sas(ns, &MD5_KEYS, link.left_addr, link.right_addr);
    }
    exchange_over_esp(
        &link,
        7001,
        &["--encoding", "xfrm", "--algorithms", "md5"],
        "hello over ESP (xfrm, aes-cbc + hmac-md5)",
    );
    exchange_over_esp(
        &link,
        7002,
        &["--encoding", "xfrm"],
        "hello over ESP (xfrm)",
    );
    plain_exchange_is_not_protected(&link, 7003);
    // The PF_KEY encoding: the connect fails with EINVAL once the SA exists, because
    // af_key leaves the socket policy's selector family at 0 and xfrm_bundle_create
    // takes the family from it.
    let before = state_packets(SPI_FWD);
    let addr = SocketAddr::new(link.right_addr, 7004);
    let server = start_server(&link.right, addr, &["--encoding", "xfrm"]);
    let run = run_client(&link.left, addr, "pfkey", &["--encoding", "pfkey"]);
    assert!(!run.ok(), "{run:?}");
    assert!(
        run.stderr
            .contains("warning: Linux cannot send through IPsec policies set with IP_IPSEC_POLICY")
            && run.stderr.contains("(os error 22)")
            && run.stderr.contains("use --encoding xfrm)"),
        "{run:?}"
    );
    assert_eq!(state_packets(SPI_FWD), before, "nothing was sent");
    drop(server);
}

#[test]
fn pfkey_encoded_ipsec_policies_do_check_inbound_traffic() {
    let _ns = fresh_netns();
    let link = veth_link("10.85.0.1/24", "10.85.0.2/24");
    for ns in [&link.left, &link.right] {
        install_sas(ns, &MD5_KEYS, link.left_addr, link.right_addr);
    }
    // The listener requires ESP inbound through IP_IPSEC_POLICY and has no outbound
    // policy; the client sends through an xfrm-encoded outbound policy and takes the
    // replies in clear.
    let addr = SocketAddr::new(link.right_addr, 7001);
    let listener = link.right.enter(|| {
        let l = TcpListener::bind(addr).expect("listen");
        sockpolicy::apply(
            &l,
            SocketDirection::In,
            &SocketPolicy::esp(),
            Encoding::PfKey,
        )
        .expect("inbound policy");
        l
    });
    let connect = |policy: Option<&SocketPolicy>| -> std::io::Result<TcpStream> {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        if let Some(p) = policy {
            sockpolicy::apply(&s, SocketDirection::Out, p, Encoding::Xfrm).expect("apply");
        }
        s.connect_timeout(&addr.into(), Duration::from_secs(2))?;
        Ok(s.into())
    };
    let mut conn = connect(Some(&SocketPolicy::esp())).expect("connect over ESP");
    let (mut accepted, _) = listener.accept().expect("accept");
    conn.write_all(b"esp").expect("write");
    let mut b = [0u8; 3];
    accepted.read_exact(&mut b).expect("read");
    assert_eq!(&b, b"esp");
    assert!(link.right.enter(|| state_packets(SPI_FWD)) > 0);
    // Without ESP the SYN is dropped by the listener's inbound policy.
    let e = connect(None).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
}

#[test]
fn examples_over_ipv6_with_a_modern_algorithm_choice() {
    let _ns = fresh_netns();
    let link = veth_link("fd00:80::1/64", "fd00:80::2/64");
    for ns in [&link.left, &link.right] {
        install_sas(ns, &MODERN_KEYS, link.left_addr, link.right_addr);
    }
    exchange_over_esp(
        &link,
        7001,
        &["--encoding", "xfrm", "--algorithms", "modern"],
        "hello over ESP (IPv6, aes-cbc + hmac-sha512)",
    );
    exchange_over_esp(
        &link,
        7002,
        &["--encoding", "xfrm"],
        "hello over ESP (IPv6)",
    );
    plain_exchange_is_not_protected(&link, 7003);
}

#[test]
fn an_inbound_sa_with_an_algorithm_the_mask_excludes_is_not_accepted() {
    let _ns = fresh_netns();
    let link = veth_link("10.81.0.1/24", "10.81.0.2/24");
    for ns in [&link.left, &link.right] {
        install_sas(ns, &MODERN_KEYS, link.left_addr, link.right_addr);
    }
    // The server's listener allows only HMAC-MD5; the client's SA uses HMAC-SHA-512. The
    // client's outbound SA is not checked (the key manager chose it), the server's
    // inbound check is (xfrm_state_ok), so the SYN never reaches the listener.
    let addr = SocketAddr::new(link.right_addr, 7001);
    let server = start_server(
        &link.right,
        addr,
        &["--encoding", "xfrm", "--algorithms", "md5"],
    );
    let run = run_client(
        &link.left,
        addr,
        "refused",
        &["--encoding", "xfrm", "--timeout", "3"],
    );
    assert!(!run.ok(), "{run:?}");
    assert!(state_packets(SPI_FWD) > 0, "the client did send over ESP");
    let received = link.right.enter(|| state_packets(SPI_FWD));
    assert!(
        received > 0,
        "the server decrypted the SYNs, then dropped them"
    );
    drop(server);
}

#[test]
fn a_policy_set_on_a_connected_socket_applies_to_the_packets_that_follow() {
    let _ns = fresh_netns();
    let link = veth_link("10.82.0.1/24", "10.82.0.2/24");
    for ns in [&link.left, &link.right] {
        install_sas(ns, &MD5_KEYS, link.left_addr, link.right_addr);
    }
    let addr = SocketAddr::new(link.right_addr, 7001);
    let listener = link
        .right
        .enter(|| TcpListener::bind(addr).expect("listen"));
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    let (mut accepted, _) = listener.accept().expect("accept");
    conn.write_all(b"a").expect("write");
    let mut b = [0u8; 1];
    accepted.read_exact(&mut b).expect("read");
    assert_eq!(state_packets(SPI_FWD), 0, "no policy yet: in clear");
    // Linux resets the socket's cached route: later packets use the new policy.
    sockpolicy::apply(
        &conn,
        SocketDirection::Out,
        &SocketPolicy::esp(),
        Encoding::Xfrm,
    )
    .expect("apply");
    conn.write_all(b"b").expect("write");
    accepted.read_exact(&mut b).expect("read");
    assert_eq!(&b, b"b");
    assert!(
        state_packets(SPI_FWD) > 0,
        "the later packet went through ESP"
    );
    conn.shutdown(Shutdown::Both).ok();
}

// ----- bypass under a global policy -----

/// Global policies in `ns` that require ESP for everything between `local` and `remote`.
fn global_require(ns: &Netns, local: IpAddr, remote: IpAddr) {
    ns.enter(|| {
        let mut c = client();
        for (s, d, dir) in [
            (local, remote, Direction::Out),
            (remote, local, Direction::In),
        ] {
            let spec = PolicySpec::new(
                Address::host(s),
                Address::host(d),
                Policy {
                    policy_type: PolicyType::Ipsec,
                    dir,
                    reserved: 0,
                    id: 0,
                    priority: 0,
                    requests: vec![IpsecRequest {
                        proto: IPPROTO_ESP,
                        mode: Mode::Transport,
                        level: Level::Require,
                        reqid: 0,
                        tunnel: None,
                    }],
                },
            );
            c.spd_add(&spec).expect("spdadd");
        }
    });
}

#[test]
fn bypass_on_a_socket_passes_in_clear_under_a_global_require_policy() {
    let _ns = fresh_netns();
    let link = veth_link("10.83.0.1/24", "10.83.0.2/24");
    global_require(&link.left, link.left_addr, link.right_addr);
    global_require(&link.right, link.right_addr, link.left_addr);
    // Without SAs, a plain connection cannot be made.
    let addr = SocketAddr::new(link.right_addr, 7000);
    let server = start_server(&link.right, addr, &["--policy", "none"]);
    let run = run_client(
        &link.left,
        addr,
        "x",
        &["--policy", "none", "--timeout", "2"],
    );
    assert!(
        !run.ok(),
        "the global policy should have stopped it: {run:?}"
    );
    drop(server);
    for (port, enc) in [(7001, "pfkey"), (7002, "xfrm")] {
        let addr = SocketAddr::new(link.right_addr, port);
        let mut server = start_server(
            &link.right,
            addr,
            &["--policy", "bypass", "--encoding", enc],
        );
        let msg = format!("in clear past the SPD ({enc})");
        let run = run_client(
            &link.left,
            addr,
            &msg,
            &["--policy", "bypass", "--encoding", enc],
        );
        assert!(run.ok(), "{enc}: {run:?}");
        assert_eq!(run.stdout.trim(), msg);
        assert_eq!(server.wait_exit(Duration::from_secs(5)), 0);
    }
    assert_eq!(
        pfkey_kernel_tests::xfrm::entries(&pfkey_kernel_tests::xfrm_state()).len(),
        0,
        "no SA was ever made: the data went in clear"
    );
}

// ----- the ACQUIRE path with the example key manager -----

/// Starts `pfkey -v --json monitor` in `ns` and waits until its socket is promiscuous (the
/// `-v` note on standard error; the rest of its standard error goes to the test's).
fn start_monitor(ns: &Netns) -> Spawned {
    let mut cmd = ns.command(pfkey_path());
    cmd.args(["-v", "--json", "monitor"]).stderr(Stdio::piped());
    let mut monitor = Spawned::start(cmd, "pfkey monitor");
    let stderr = monitor.child.stderr.take().expect("piped stderr");
    let (ready_tx, ready) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("monitoring PF_KEY messages") {
                let _ = ready_tx.send(());
            } else {
                eprintln!("pfkey monitor: {line}");
            }
        }
    });
    let timeout = Duration::from_secs(10);
    if ready.recv_timeout(timeout).is_err() {
        let status = monitor.child.try_wait();
        panic!("pfkey monitor did not start within {timeout:?} (status {status:?})");
    }
    monitor
}

/// The extension of type `ty` in a Message object of `pfkey --json` (pfkey-cli/JSON.md).
fn json_ext<'a>(msg: &'a Value, ty: &str) -> Option<&'a Value> {
    msg["extensions"]
        .as_array()?
        .iter()
        .find(|e| e["type"] == ty)
}

/// Waits for the ACQUIRE that `pfkey monitor --json` prints and checks it against the one
/// the library's registered socket received (`a`) and against the test's setup: an ESP SA
/// from `src` to `dst` for the client socket's outbound policy. Returns the message.
fn monitor_shows_acquire(
    monitor: &mut Spawned,
    a: &pfkey::client::Acquire,
    src: IpAddr,
    dst: IpAddr,
) -> Value {
    let line = monitor.wait_for("\"type\":\"ACQUIRE\"", Duration::from_secs(5));
    let m: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("pfkey monitor printed a line that is not JSON ({e}): {line}"));
    let field = |ext: &str, name: &str| -> Value {
        json_ext(&m, ext).unwrap_or_else(|| panic!("no {ext} in the monitor's ACQUIRE: {line}"))
            [name]
            .clone()
    };
    assert_eq!(
        (&m["type"], &m["satype"], &m["errno"], &m["pid"]),
        (&"ACQUIRE".into(), &"esp".into(), &0.into(), &0.into()),
        "a kernel-originated ESP ACQUIRE: {line}"
    );
    assert_eq!(m["seq"], a.seq, "the same ACQUIRE as the library's: {line}");
    assert_eq!(field("ADDRESS_SRC", "address"), src.to_string(), "{line}");
    assert_eq!(field("ADDRESS_DST", "address"), dst.to_string(), "{line}");
    let id = field("X_POLICY", "id")
        .as_u64()
        .unwrap_or_else(|| panic!("X_POLICY id is not a number: {line}"));
    assert_eq!(
        id & 7,
        4,
        "the client socket's outbound policy asked: {line}"
    );
    assert_eq!(id, u64::from(a.policy_id), "{line}");
    // af_key's pfkey_send_acquire reports every policy as outbound, socket ones too.
    assert_eq!(field("X_POLICY", "dir"), "out", "{line}");
    assert_eq!(field("X_POLICY", "policy_type"), "ipsec", "{line}");
    m
}

/// Stops `pfkey monitor` with SIGTERM: it exits 0 and every line it printed is JSON.
fn stop_monitor(mut monitor: Spawned) {
    monitor.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(
        monitor.wait_exit(Duration::from_secs(5)),
        0,
        "pfkey monitor after SIGTERM"
    );
    for line in monitor.all_output(Duration::from_secs(5)) {
        assert!(
            serde_json::from_str::<Value>(&line).is_ok(),
            "pfkey monitor --json printed a line that is not JSON: {line}"
        );
    }
}

/// What [`acquire_path`] saw.
struct AcquirePath {
    /// The ACQUIRE as `pfkey monitor --json` printed it.
    acquire: Value,
    /// The keymgr's answer line.
    keymgr: String,
    /// The client's final run.
    run: Run,
}

/// The ACQUIRE path: the server's host is keyed, the client's host is not; `pfkey monitor
/// --json` watches the client's host while the client first connects without SAs.
fn acquire_path(link: &VethLink, args: &[&str]) -> AcquirePath {
    install_sas(&link.right, &MD5_KEYS, link.left_addr, link.right_addr);
    let addr = SocketAddr::new(link.right_addr, 7000);
    let mut server = start_server(&link.right, addr, args);

    // 1. No SA; a registered socket stands in for a key manager that does not answer
    //    (the monitor only watches: it is promiscuous, not registered). The kernel asks,
    //    the monitor shows it, nothing passes. The connect fails at once (EAGAIN):
    //    per-socket policies get no blackhole route.
    let mut monitor = start_monitor(&link.left);
    let mut events = client();
    events.register(SaType::Esp).expect("register");
    let run = run_client(&link.left, addr, "too early", args);
    assert!(!run.ok(), "connected without SAs: {run:?}");
    assert!(
        run.stderr.contains("(os error 11)") && run.stderr.contains("no SA yet"),
        "{run:?}"
    );
    let a = next_acquire(&mut events);
    assert_eq!(
        (a.satype, a.src.addr.ip(), a.dst.addr.ip()),
        (SaType::Esp, link.left_addr, link.right_addr)
    );
    assert_eq!(
        a.policy_id & 7,
        4,
        "the client socket's outbound policy asked"
    );
    let acquire = monitor_shows_acquire(&mut monitor, &a, link.left_addr, link.right_addr);
    stop_monitor(monitor);
    assert!(
        !server.output().iter().any(|l| l.contains("received")),
        "data reached the server"
    );
    assert_eq!(
        link.right.enter(|| state_packets(SPI_FWD)),
        0,
        "nothing arrived"
    );
    drop(events);
    // Drop the larval SA, so that the next attempt asks again at once.
    client().flush(SaType::Unspec).expect("flush");

    // 2. The key manager answers: GETSPI with the ACQUIRE's seq, UPDATE, ADD; the
    //    client's second attempt finds the SAs.
    let keys = key_file(&MD5_KEYS, link.left_addr, link.right_addr);
    let mut km = Spawned::start(
        {
            let mut c = link.left.command(example("keymgr"));
            c.arg(&keys).args(["--count", "1"]);
            c
        },
        "keymgr",
    );
    km.wait_for("registered for esp", Duration::from_secs(5));
    let mut retry = args.to_vec();
    retry.extend(["--retries", "5"]);
    let run = run_client(&link.left, addr, "after the acquire", &retry);
    let line = km.wait_for("acquire seq", Duration::from_secs(5));
    assert_eq!(km.wait_exit(Duration::from_secs(5)), 0);
    let _ = std::fs::remove_file(keys);
    AcquirePath {
        acquire,
        keymgr: line,
        run,
    }
}

/// The algorithm combinations of an ACQUIRE's PROPOSAL as `pfkey --json` shows them:
/// (auth, encrypt) names.
fn json_proposal(acquire: &Value) -> Vec<(String, String)> {
    json_ext(acquire, "PROPOSAL")
        .and_then(|p| p["combs"].as_array())
        .map(|combs| {
            combs
                .iter()
                .map(|c| {
                    (
                        c["auth"].as_str().unwrap_or("?").to_string(),
                        c["encrypt"].as_str().unwrap_or("?").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

const KEYMGR_ANSWER: &str = "getspi 0x00001001, update (aes-cbc + hmac-md5), add 0x00001002";

#[test]
fn without_sas_the_kernel_acquires_and_the_example_key_manager_completes_the_connection() {
    let _ns = fresh_netns();
    let link = veth_link("10.84.0.1/24", "10.84.0.2/24");
    let AcquirePath {
        acquire,
        keymgr: line,
        run,
    } = acquire_path(&link, &["--encoding", "xfrm", "--algorithms", "md5"]);
    assert_eq!(
        json_proposal(&acquire),
        [("hmac-md5".to_string(), "aes-cbc".to_string())],
        "the monitor shows the socket's algorithm mask as the proposal: {acquire}"
    );
    assert!(line.contains(KEYMGR_ANSWER), "{line}");
    assert!(run.ok(), "{run:?}");
    assert_eq!(run.stdout.trim(), "after the acquire");
    assert!(state_packets(SPI_FWD) > 0 && state_packets(SPI_BACK) > 0);
}

#[test]
fn with_the_pfkey_encoding_the_kernel_acquires_but_cannot_send_once_the_sas_exist() {
    let _ns = fresh_netns();
    let link = veth_link("10.86.0.1/24", "10.86.0.2/24");
    let AcquirePath {
        acquire,
        keymgr: line,
        run,
    } = acquire_path(&link, &["--encoding", "pfkey"]);
    assert_eq!(
        json_proposal(&acquire),
        [],
        "PF_KEY templates carry no algorithms: {acquire}"
    );
    assert!(line.contains(KEYMGR_ANSWER), "{line}");
    assert!(!run.ok(), "{run:?}");
    assert!(run.stderr.contains("(os error 22)"), "{run:?}");
    assert_eq!(state_packets(SPI_FWD), 0, "nothing went out through the SA");
}

#[test]
fn keymgr_refuses_an_acquire_whose_proposal_excludes_its_keys() {
    let _ns = one_legged_netns();
    let me: IpAddr = "10.9.0.1".parse().unwrap();
    let peer: IpAddr = "10.9.0.2".parse().unwrap();
    let keys = key_file(&MODERN_KEYS, me, peer);
    let mut km = Spawned::start(
        {
            let mut c = Command::new(example("keymgr"));
            c.arg(&keys).args(["--count", "1"]);
            c
        },
        "keymgr",
    );
    km.wait_for("registered for esp", Duration::from_secs(5));
    let s = UdpSocket::bind("10.9.0.1:0").expect("udp");
    let md5 = AlgorithmMask::allow(&[SADB_AALG_MD5HMAC], &[SADB_X_EALG_AESCBC]).unwrap();
    sockpolicy::apply(
        &s,
        SocketDirection::Out,
        &SocketPolicy::Ipsec(vec![Template::transport(SaType::Esp).with_algorithms(md5)]),
        Encoding::Xfrm,
    )
    .expect("apply");
    let _ = s.send_to(b"x", "10.9.0.2:9");
    let line = km.wait_for("acquire seq", Duration::from_secs(5));
    assert!(
        line.contains(
            "the policy allows aes-cbc + hmac-md5, the key file has aes-cbc + hmac-sha512; refused"
        ),
        "{line}"
    );
    assert_eq!(km.wait_exit(Duration::from_secs(5)), 0);
    let _ = std::fs::remove_file(keys);
}
