//! Network namespaces: a private one per test, and detached peers joined by veth.

use std::ffi::OsStr;
use std::fs::File;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sched::{setns, unshare, CloneFlags};

use crate::cmd::{ip_path, Run};

/// A network namespace, kept alive by an open `/proc/.../ns/net` descriptor.
#[derive(Debug)]
pub struct Netns {
    fd: OwnedFd,
}

/// Moves the calling thread into a new, empty network namespace with `lo` up, and returns it.
///
/// libtest runs each test on its own thread, and the namespace is per thread, so tests running
/// in parallel cannot see each other's SAs, policies or PF_KEY broadcasts. Commands started by
/// this thread (`ip`, `pfkey`) run in the new namespace. Panics without `CAP_SYS_ADMIN`.
pub fn fresh_netns() -> Netns {
    unshare(CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| {
        panic!(
            "unshare(CLONE_NEWNET) failed: {e}; kernel tests need root and run in the kernel lab \
             (tests/lab/vm) or with PFKEY_LAB=native"
        )
    });
    let ns = Netns::current();
    ns.ip(&["link", "set", "lo", "up"]).expect_ok();
    ns
}

impl Netns {
    /// The calling thread's network namespace.
    pub fn current() -> Netns {
        let file = File::open("/proc/thread-self/ns/net")
            .unwrap_or_else(|e| panic!("open /proc/thread-self/ns/net: {e}"));
        Netns { fd: file.into() }
    }

    /// A new network namespace with `lo` up that the calling thread does not enter.
    pub fn detached() -> Netns {
        std::thread::spawn(fresh_netns)
            .join()
            .expect("creating a detached network namespace failed")
    }

    /// A path naming this namespace for other processes (`ip link set ... netns PATH`).
    pub fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.fd.as_raw_fd())
    }

    /// A command that runs in this namespace.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let fd = self
            .fd
            .try_clone()
            .expect("duplicating a namespace descriptor");
        let mut cmd = Command::new(program);
        // SAFETY: the closure runs in the forked child between fork and exec, where only
        // async-signal-safe calls are allowed; it makes one setns(2) system call on a
        // descriptor it owns (moved into the closure, so open until the Command is dropped)
        // and allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                setns(&fd, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
            });
        }
        cmd
    }

    /// Runs `ip ARGS` in this namespace.
    pub fn ip(&self, args: &[&str]) -> Run {
        Run::new(self.command(ip_path()).args(args))
    }

    /// Adds `ip xfrm` policies requiring transport-mode ESP for traffic from `local` to
    /// `remote` and back (the SAs are the caller's).
    pub fn require_esp_transport(&self, local: &str, remote: &str) {
        for (src, dst, dir) in [(local, remote, "out"), (remote, local, "in")] {
            self.ip(&[
                "xfrm",
                "policy",
                "add",
                "src",
                src,
                "dst",
                dst,
                "dir",
                dir,
                "tmpl",
                "src",
                src,
                "dst",
                dst,
                "proto",
                "esp",
                "mode",
                "transport",
            ])
            .expect_ok();
        }
    }

    /// Runs `f` on the calling thread inside this namespace, then returns to the thread's own.
    /// Sockets opened by `f` stay in this namespace.
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(Netns);
        impl Drop for Restore {
            fn drop(&mut self) {
                if let Err(e) = setns(&self.0.fd, CloneFlags::CLONE_NEWNET) {
                    // Continuing in the wrong namespace would corrupt later checks.
                    eprintln!("setns back to the test's namespace failed: {e}");
                    std::process::abort();
                }
            }
        }
        let _restore = Restore(Netns::current());
        setns(&self.fd, CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns into a test namespace failed: {e}"));
        f()
    }
}

/// Two namespaces joined by a veth pair: `left` is the caller's, `right` a detached peer.
#[derive(Debug)]
pub struct VethLink {
    /// The calling thread's namespace; holds `veth0`.
    pub left: Netns,
    /// The peer namespace; holds `veth1`.
    pub right: Netns,
    /// Address of `veth0`.
    pub left_addr: IpAddr,
    /// Address of `veth1`.
    pub right_addr: IpAddr,
}

/// Joins the calling thread's namespace (call [`fresh_netns`] first) to a new namespace with a
/// veth pair, addresses `left_cidr` on `veth0` and `right_cidr` on `veth1` (e.g.
/// `"10.0.0.1/24"`, or IPv6, which is configured without duplicate address detection).
pub fn veth_link(left_cidr: &str, right_cidr: &str) -> VethLink {
    let left = Netns::current();
    let right = Netns::detached();
    left.ip(&[
        "link",
        "add",
        "veth0",
        "type",
        "veth",
        "peer",
        "name",
        "veth1",
        "netns",
        &right.path(),
    ])
    .expect_ok();
    for (ns, dev, cidr) in [(&left, "veth0", left_cidr), (&right, "veth1", right_cidr)] {
        let mut args = vec!["addr", "add", cidr, "dev", dev];
        if cidr.contains(':') {
            args.push("nodad");
        }
        ns.ip(&args).expect_ok();
        ns.ip(&["link", "set", dev, "up"]).expect_ok();
    }
    let addr = |cidr: &str| -> IpAddr {
        let host = cidr.split('/').next().unwrap_or(cidr);
        host.parse()
            .unwrap_or_else(|e| panic!("bad address {cidr}: {e}"))
    };
    VethLink {
        left_addr: addr(left_cidr),
        right_addr: addr(right_cidr),
        left,
        right,
    }
}

impl VethLink {
    /// Pings `to` once from namespace `from`; true when a reply came back within two seconds.
    pub fn ping(from: &Netns, to: IpAddr) -> bool {
        let to = to.to_string();
        Run::new(from.command("ping").args(["-c", "1", "-W", "2", &to])).ok()
    }
}
