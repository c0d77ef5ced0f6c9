//! `pfkey monitor`: every PF_KEY message in the network namespace, as it arrives.
//!
//! The socket is made promiscuous (`SADB_X_PROMISC`, af_key `pfkey_promisc`): it then
//! receives a copy of every message any PF_KEY socket sends or receives, requests
//! included, and the kernel's events (ACQUIRE, EXPIRE, NAT-T mappings), also for changes
//! made through XFRM netlink (`ip xfrm`). The socket is not registered, so watching
//! changes nothing (a registered socket would make the kernel create larval SAs).
//!
//! SIGINT and SIGTERM are blocked and read from a signalfd polled next to the socket,
//! so an interrupt ends the loop between two messages and the command exits 0 with its
//! output complete.

use std::io::Write;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use pfkey::render::{render, RenderOptions};
use pfkey::transport::MsgBuf;
use pfkey::Message;
use std::os::fd::AsFd;

use crate::cli::tools::MonitorArgs;
use crate::cmd::sa::open_client;
use crate::exit::{Exit, Failure};
use crate::output::{json, Format, Output};

fn os_failure(what: &str, e: nix::Error) -> Failure {
    Failure::new(Exit::Io, format!("monitor: {what}: {}", e.desc()))
}

/// Runs `pfkey monitor` until SIGINT or SIGTERM.
pub fn run(args: &MonitorArgs, out: &mut Output) -> Result<(), Failure> {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals
        .thread_block()
        .map_err(|e| os_failure("blocking SIGINT and SIGTERM", e))?;
    let sigfd = SignalFd::with_flags(&signals, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| os_failure("signalfd", e))?;

    let mut client = open_client(out, args.show_keys)?;
    client.promisc(true)?;
    out.note(1, "monitoring PF_KEY messages; stop with Ctrl-C");
    let opts = if args.show_keys {
        RenderOptions::with_keys()
    } else {
        RenderOptions::default()
    };
    let mut buf = MsgBuf::new();
    let sock = client.transport();
    loop {
        let mut fds = [
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(os_failure("poll", e)),
        }
        let signalled = fds[1]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLIN));
        // Everything already queued is printed, even when a signal came at the same time.
        while let Some(_n) = sock.try_recv(&mut buf).map_err(|e| {
            Failure::new(
                Exit::Io,
                format!("monitor: receiving from the PF_KEY socket failed: {e}"),
            )
        })? {
            print_message(out, buf.as_slice(), opts, args.show_keys)?;
            buf.clear();
        }
        if signalled {
            let sig = sigfd.read_signal().ok().flatten().map(|s| s.ssi_signo);
            out.note(
                1,
                &format!(
                    "monitor: stopped by {}",
                    sig.and_then(|n| Signal::try_from(n as i32).ok())
                        .map_or("a signal", Signal::as_str)
                ),
            );
            return Ok(());
        }
    }
}

/// Prints one message and flushes, so that a reader sees it at once.
fn print_message(
    out: &mut Output,
    bytes: &[u8],
    opts: RenderOptions,
    show_keys: bool,
) -> Result<(), Failure> {
    match Message::parse(bytes) {
        Ok(m) => {
            let format = out.format;
            let w = out.stdout();
            match format {
                Format::Json => json::line(w, &json::message(&m, show_keys)),
                Format::Text => writeln!(w, "{}\n", render(&m, opts)),
            }
            .map_err(Failure::stdout)?;
        }
        Err(e) => out.error(&format!(
            "monitor: a {}-byte message that is not valid PF_KEY: {e}",
            bytes.len()
        )),
    }
    out.flush().map_err(Failure::stdout)
}
