//! A PF_KEY v2 socket (RFC 2367 §1.4; Linux `net/key/af_key.c`).
//!
//! [`PfKeySocket`] opens the socket, sizes its receive buffer, and moves whole
//! messages: every receive learns the datagram's size from the kernel first
//! (`MSG_PEEK | MSG_TRUNC`, which af_key's `pfkey_recvmsg` answers with the full
//! length), so no message is ever cut at a fixed buffer size. Received bytes are
//! kept in a [`MsgBuf`], which wipes them after use.
#![forbid(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, sockopt, MsgFlags};

use crate::client::Error;
use crate::repr::Header;
use crate::transport::{MsgBuf, Transport};
use crate::wire::{MsgType, SaType, SadbMsg, MAX_MESSAGE_LEN};

/// The receive buffer [`PfKeySocket::open`] asks for: 4 MiB.
///
/// PF_KEY has no overrun signal: a message for a socket whose queue is full is
/// dropped silently, replies included (af_key `pfkey_broadcast_one`), and every
/// ADD/UPDATE/DELETE in the namespace is broadcast to every PF_KEY socket. The
/// kernel's default (`net.core.rmem_default`, typically 208 KiB) holds only about
/// 500 SA messages. Memory is charged only for queued messages, so a large limit
/// costs nothing while the queue is short.
pub const DEFAULT_RECV_BUFFER: usize = 4 << 20;

/// The send buffer [`PfKeySocket::open`] asks for: 1 MiB, enough for the largest
/// message PF_KEY can express (524 280 bytes; af_key rejects messages longer than
/// `sk_sndbuf - 32` with `EMSGSIZE`).
pub const DEFAULT_SEND_BUFFER: usize = 1 << 20;

/// An open `PF_KEY_V2` socket.
///
/// The socket is a [`Transport`] for [`crate::client::Client`]; it can also be used
/// on its own, e.g. by a monitor that only receives.
#[derive(Debug)]
pub struct PfKeySocket {
    fd: OwnedFd,
}

impl PfKeySocket {
    /// Opens a socket with a [`DEFAULT_RECV_BUFFER`] receive buffer.
    ///
    /// Errors: [`Error::NoPfKey`] when the kernel lacks af_key (`EAFNOSUPPORT`),
    /// [`Error::PermissionDenied`] without `CAP_NET_ADMIN` (`EPERM`, or `EACCES` from
    /// a security module), [`Error::Open`] otherwise.
    pub fn open() -> Result<Self, Error> {
        Self::open_with_recv_buffer(Some(DEFAULT_RECV_BUFFER))
    }

    /// Opens a socket and, if `recv_buffer` is given, asks for that receive buffer
    /// size (see [`PfKeySocket::set_recv_buffer`]); `None` keeps the kernel default.
    pub fn open_with_recv_buffer(recv_buffer: Option<usize>) -> Result<Self, Error> {
        let fd = crate::sys::pfkey_socket().map_err(|e| match e.raw_os_error() {
            Some(libc::EAFNOSUPPORT) => Error::NoPfKey,
            Some(n @ (libc::EPERM | libc::EACCES)) => Error::PermissionDenied { errno: n as u8 },
            _ => Error::Open { source: e },
        })?;
        let sock = PfKeySocket { fd };
        if let Some(n) = recv_buffer {
            sock.set_recv_buffer(n)
                .map_err(|source| Error::Open { source })?;
        }
        // Best effort: the kernel caps SO_SNDBUF at net.core.wmem_max silently.
        let _ = socket::setsockopt(&sock.fd, sockopt::SndBuf, &DEFAULT_SEND_BUFFER);
        Ok(sock)
    }

    /// Asks for a receive buffer of `bytes`: first with `SO_RCVBUFFORCE` (which may
    /// exceed `net.core.rmem_max` and needs `CAP_NET_ADMIN`), then with `SO_RCVBUF`
    /// (capped at `rmem_max`). Returns the size the kernel reports afterwards (Linux
    /// doubles the requested value for bookkeeping overhead).
    pub fn set_recv_buffer(&self, bytes: usize) -> io::Result<usize> {
        if socket::setsockopt(&self.fd, sockopt::RcvBufForce, &bytes).is_err() {
            socket::setsockopt(&self.fd, sockopt::RcvBuf, &bytes).map_err(io::Error::from)?;
        }
        self.recv_buffer()
    }

    /// The current receive buffer size (`SO_RCVBUF`).
    pub fn recv_buffer(&self) -> io::Result<usize> {
        socket::getsockopt(&self.fd, sockopt::RcvBuf).map_err(io::Error::from)
    }

    /// Sends one message. A message the kernel refuses at `send()` time (af_key
    /// `pfkey_get_base_msg`: bad version, type or length; longer than the send
    /// buffer) fails here, and no reply will come; every other error is reported
    /// in-band as a reply with `sadb_msg_errno` set.
    pub fn send(&self, msg: &[u8]) -> io::Result<()> {
        loop {
            match socket::send(self.fd.as_raw_fd(), msg, MsgFlags::empty()) {
                Ok(n) if n == msg.len() => return Ok(()),
                Ok(n) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("sent {n} of {} bytes", msg.len()),
                    ))
                }
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The length of the next queued message, without waiting (`Ok(None)` if the
    /// queue is empty): `recv(MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT)`, which returns
    /// the datagram's full length whatever the buffer size.
    pub fn peek_len(&self) -> io::Result<Option<usize>> {
        let mut probe = [0u8; SadbMsg::SIZE];
        loop {
            match socket::recv(
                self.fd.as_raw_fd(),
                &mut probe,
                MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC | MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(n) => {
                    probe.fill(0);
                    return Ok(Some(n));
                }
                Err(Errno::EAGAIN) => return Ok(None),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Receives the next message if one is queued, without waiting.
    ///
    /// One system call: the buffer is grown once to [`MAX_MESSAGE_LEN`] (the most
    /// `sadb_msg_len` can express, so no datagram can be truncated) and the datagram
    /// is read straight into it. The allocation is zero pages the kernel maps on
    /// first touch, so only the bytes actually received cost memory.
    pub fn try_recv(&self, buf: &mut MsgBuf) -> io::Result<Option<usize>> {
        let dst = buf.spare(MAX_MESSAGE_LEN);
        let cap = dst.len();
        loop {
            match socket::recv(
                self.fd.as_raw_fd(),
                dst,
                MsgFlags::MSG_TRUNC | MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(m) if m <= cap => {
                    buf.set_received(m);
                    return Ok(Some(m));
                }
                Ok(m) => {
                    // Not a PF_KEY message: af_key cannot send more than this.
                    buf.set_received(cap);
                    buf.clear();
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("a {m}-byte datagram exceeds the PF_KEY maximum of {cap} bytes"),
                    ));
                }
                Err(Errno::EAGAIN) => return Ok(None),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Receives the next message, waiting until `deadline` (`None`: for ever).
    /// A deadline in the past returns only a message that is already queued.
    pub fn recv_until(
        &self,
        buf: &mut MsgBuf,
        deadline: Option<Instant>,
    ) -> io::Result<Option<usize>> {
        loop {
            if let Some(n) = self.try_recv(buf)? {
                return Ok(Some(n));
            }
            if !self.wait_readable(deadline)? {
                return Ok(None);
            }
        }
    }

    /// Receives the next message, waiting at most `timeout`.
    pub fn recv_timeout(&self, buf: &mut MsgBuf, timeout: Duration) -> io::Result<Option<usize>> {
        self.recv_until(buf, Instant::now().checked_add(timeout))
    }

    /// Receives the next message, waiting as long as it takes.
    pub fn recv(&self, buf: &mut MsgBuf) -> io::Result<usize> {
        loop {
            if let Some(n) = self.recv_until(buf, None)? {
                return Ok(n);
            }
        }
    }

    /// Reads and discards every queued message without waiting, wiping each; returns
    /// how many there were. strongSwan drains its request socket like this before each
    /// request, so that other programs' broadcasts cannot fill the queue and push out
    /// the reply (strongSwan commit 62e7c68b61).
    pub fn drain(&self) -> io::Result<usize> {
        let mut buf = MsgBuf::new();
        let mut n = 0;
        while self.try_recv(&mut buf)?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    /// Turns promiscuous mode on or off (`SADB_X_PROMISC` with satype 1 or 0, af_key
    /// `pfkey_promisc`): a promiscuous socket receives a copy of every message sent to
    /// any PF_KEY socket in the namespace, requests included, and its own replies twice.
    ///
    /// This only sends the request; the kernel answers with a broadcast copy
    /// (`errno` cleared) that the next receive will see.
    /// [`crate::client::Client::promisc`] waits for that answer.
    pub fn set_promiscuous(&self, on: bool) -> io::Result<()> {
        let h = Header::new(
            MsgType::XPromisc,
            SaType::from_value(u8::from(on)),
            0,
            std::process::id(),
        );
        let mut b = [0u8; SadbMsg::SIZE];
        let msg = crate::builder::MessageBuilder::new(&mut b, &h)
            .and_then(|m| m.finish())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.send(msg)
    }

    /// Waits until the socket is readable or `deadline` passes (returns `false`).
    fn wait_readable(&self, deadline: Option<Instant>) -> io::Result<bool> {
        loop {
            let timeout = match deadline {
                None => PollTimeout::NONE,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    // Round up so that a sub-millisecond remainder is not a busy loop.
                    let ms = left.as_micros().div_ceil(1000);
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
                }
            };
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(&mut fds, timeout) {
                Ok(0) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(false);
                    }
                }
                Ok(_) => return Ok(true),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Transport for PfKeySocket {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        PfKeySocket::send(self, msg)
    }

    fn recv(&mut self, buf: &mut MsgBuf, deadline: Option<Instant>) -> io::Result<Option<usize>> {
        self.recv_until(buf, deadline)
    }

    fn try_recv(&mut self, buf: &mut MsgBuf) -> io::Result<Option<usize>> {
        PfKeySocket::try_recv(self, buf)
    }
}

impl AsFd for PfKeySocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PfKeySocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<PfKeySocket> for OwnedFd {
    fn from(s: PfKeySocket) -> OwnedFd {
        s.fd
    }
}

impl From<OwnedFd> for PfKeySocket {
    /// Adopts a descriptor that is already a PF_KEY v2 socket (e.g. inherited).
    fn from(fd: OwnedFd) -> Self {
        PfKeySocket { fd }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    // The receive path only needs a datagram socket: a Unix datagram pair stands in
    // for the PF_KEY socket here (these tests are about sizing and waiting, not
    // about af_key).
    fn pair() -> (PfKeySocket, UnixDatagram) {
        let (a, b) = UnixDatagram::pair().unwrap();
        (PfKeySocket::from(OwnedFd::from(a)), b)
    }

    #[test]
    fn receive_size_comes_from_the_datagram() {
        let (s, peer) = pair();
        let big = vec![0x5au8; 70_000];
        peer.send(&big).unwrap();
        peer.send(&[1, 2, 3]).unwrap();
        let mut buf = MsgBuf::with_capacity(16);
        assert_eq!(s.peek_len().unwrap(), Some(70_000));
        assert_eq!(s.recv(&mut buf).unwrap(), 70_000);
        assert_eq!(buf.as_slice(), &big[..]);
        assert_eq!(s.recv(&mut buf).unwrap(), 3);
        assert_eq!(buf.as_slice(), &[1, 2, 3]);
    }

    #[test]
    fn timeout_and_nonblocking_receive_return_none() {
        let (s, _peer) = pair();
        let mut buf = MsgBuf::new();
        assert_eq!(s.try_recv(&mut buf).unwrap(), None);
        let t = Instant::now();
        assert_eq!(
            s.recv_timeout(&mut buf, Duration::from_millis(30)).unwrap(),
            None
        );
        assert!(t.elapsed() >= Duration::from_millis(30));
        // A deadline in the past still returns what is queued.
        _peer.send(&[9; 8]).unwrap();
        assert_eq!(
            s.recv_until(&mut buf, Some(Instant::now() - Duration::from_secs(1)))
                .unwrap(),
            Some(8)
        );
    }

    #[test]
    fn drain_discards_everything_queued() {
        let (s, peer) = pair();
        for i in 0..5u8 {
            peer.send(&[i; 24]).unwrap();
        }
        assert_eq!(s.drain().unwrap(), 5);
        assert_eq!(s.peek_len().unwrap(), None);
    }

    #[test]
    fn open_maps_errors_or_opens() {
        match PfKeySocket::open() {
            Ok(s) => assert!(s.recv_buffer().unwrap() > 0),
            Err(Error::NoPfKey) | Err(Error::PermissionDenied { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
}
