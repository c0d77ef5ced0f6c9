//! A minimal PF_KEY socket for tests: open, send one message, receive whole datagrams.
//!
//! Deliberately independent of the `pfkey` crate's client so that tests can check it.

use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use pfkey::wire::MsgType;

use crate::codec::{assert_round_trip, parse};

/// The fields of a header that correlate replies.
fn key(msg: &[u8]) -> (MsgType, u32, u32, u8) {
    let m = parse(msg);
    (m.msg_type(), m.seq(), m.pid(), m.errno())
}

/// `PF_KEY_V2`: the only protocol af_key accepts.
pub const PF_KEY_V2: libc::c_int = 2;

/// How long [`PfKeySocket::recv`] waits for the kernel.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// An open `PF_KEY_V2` socket.
#[derive(Debug)]
pub struct PfKeySocket {
    fd: OwnedFd,
}

impl PfKeySocket {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<PfKeySocket> {
        // SAFETY: socket(2) takes no pointers; it returns a new descriptor or -1.
        let fd =
            unsafe { libc::socket(libc::PF_KEY, libc::SOCK_RAW | libc::SOCK_CLOEXEC, PF_KEY_V2) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(PfKeySocket { fd })
    }

    /// Opens a socket or panics with a message that says where kernel tests run.
    pub fn open_or_panic() -> PfKeySocket {
        PfKeySocket::open().unwrap_or_else(|e| {
            panic!(
                "socket(PF_KEY, SOCK_RAW, PF_KEY_V2) failed: {e}; kernel tests need af_key and run \
                 in the kernel lab (tests/lab/vm) or with PFKEY_LAB=native"
            )
        })
    }

    /// Sets `SO_RCVBUF` (the kernel doubles the value and enforces a minimum).
    pub fn set_rcvbuf(&self, bytes: usize) {
        nix::sys::socket::setsockopt(&self.fd, nix::sys::socket::sockopt::RcvBuf, &bytes)
            .unwrap_or_else(|e| panic!("SO_RCVBUF: {e}"));
    }

    /// Sends one message; panics if `send` fails (errors in requests come back in-band).
    pub fn send(&self, msg: &[u8]) {
        let n = nix::unistd::write(&self.fd, msg)
            .unwrap_or_else(|e| panic!("send to PF_KEY failed: {e}"));
        assert_eq!(n, msg.len(), "short send to PF_KEY");
    }

    /// Receives one message, waiting at most `timeout`; `None` when nothing arrived. Every
    /// message is checked to parse and round-trip through the `pfkey` codec.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Vec<u8>> {
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::from(ms))
            .unwrap_or_else(|e| panic!("poll on PF_KEY failed: {e}"));
        if ready == 0 {
            return None;
        }
        let mut buf = vec![0u8; 65536];
        let n = nix::unistd::read(&self.fd, &mut buf)
            .unwrap_or_else(|e| panic!("recv from PF_KEY failed: {e}"));
        buf.truncate(n);
        assert_round_trip(&buf);
        Some(buf)
    }

    /// Receives one message; panics after [`RECV_TIMEOUT`].
    pub fn recv(&self) -> Vec<u8> {
        self.recv_timeout(RECV_TIMEOUT)
            .unwrap_or_else(|| panic!("no PF_KEY message within {RECV_TIMEOUT:?}"))
    }

    /// Receives until quiet for `quiet`: every message that arrives.
    pub fn drain(&self, quiet: Duration) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| self.recv_timeout(quiet)).collect()
    }

    /// Sends `msg` and returns the first reply with its type, seq and pid (other broadcasts
    /// are skipped); panics on timeout.
    pub fn request(&self, msg: &[u8]) -> Vec<u8> {
        let (ty, seq, pid, _) = key(msg);
        self.send(msg);
        loop {
            let reply = self.recv();
            let (rty, rseq, rpid, _) = key(&reply);
            if (rty, rseq, rpid) == (ty, seq, pid) {
                return reply;
            }
        }
    }

    /// Sends a dump request (`DUMP` or `X_SPDDUMP`) and collects the stream up to the message
    /// with `seq == 0`, or the single error reply.
    pub fn dump(&self, msg: &[u8]) -> Vec<Vec<u8>> {
        let (ty, _, pid, _) = key(msg);
        self.send(msg);
        let mut out = Vec::new();
        loop {
            let m = self.recv();
            let (rty, rseq, rpid, errno) = key(&m);
            if (rty, rpid) != (ty, pid) {
                continue;
            }
            let last = rseq == 0 || errno != 0;
            out.push(m);
            if last {
                return out;
            }
        }
    }
}

/// `setsockopt(fd, level, name, value)` with a byte blob, e.g. an `IP_IPSEC_POLICY` policy.
pub fn setsockopt_bytes(
    fd: &impl std::os::fd::AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &[u8],
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(value.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `value` is valid for reads of `len` bytes for the duration of the call and the
    // kernel copies it; the descriptor is borrowed and open.
    let rc = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, value.as_ptr().cast(), len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
