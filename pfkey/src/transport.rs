//! The seam between the client and the kernel: a [`Transport`] moves whole PF_KEY
//! messages, a [`MsgBuf`] holds one of them and wipes it.
//!
//! [`crate::socket::PfKeySocket`] is the transport for `af_key`; the
//! [`crate::client::Client`] only speaks through this trait, so the same PF_KEY
//! vocabulary can later run over another carrier (XFRM netlink on kernels without
//! af_key) or a scripted one in tests.
#![forbid(unsafe_code)]

use core::fmt;
use std::io;
use std::time::Instant;

use zeroize::Zeroize;

/// Carries PF_KEY v2 messages, one message per datagram (RFC 2367 §2: "each message
/// is sent as a single datagram").
pub trait Transport {
    /// Sends one complete message.
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;

    /// Receives the next message into `buf` (sized to exactly the message, see
    /// [`MsgBuf::prepare`]), and returns its length.
    ///
    /// Waits until `deadline`; `None` waits for ever. A deadline in the past still
    /// returns a message that is already queued, so it doubles as "non-blocking".
    /// Returns `Ok(None)` when the deadline passes with nothing queued.
    fn recv(&mut self, buf: &mut MsgBuf, deadline: Option<Instant>) -> io::Result<Option<usize>>;

    /// Receives a message only if one is already queued (`Ok(None)` otherwise).
    ///
    /// The client tries this first for every reply: af_key answers inside `send()`,
    /// so the reply is normally waiting and no clock needs reading (on a machine whose
    /// clock source has no vDSO, such as HPET, every clock read is a system call). The
    /// default asks [`Transport::recv`] with a deadline of now; transports that can
    /// poll without the clock override it.
    fn try_recv(&mut self, buf: &mut MsgBuf) -> io::Result<Option<usize>> {
        self.recv(buf, Some(Instant::now()))
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        (**self).send(msg)
    }

    fn recv(&mut self, buf: &mut MsgBuf, deadline: Option<Instant>) -> io::Result<Option<usize>> {
        (**self).recv(buf, deadline)
    }

    fn try_recv(&mut self, buf: &mut MsgBuf) -> io::Result<Option<usize>> {
        (**self).try_recv(buf)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        (**self).send(msg)
    }

    fn recv(&mut self, buf: &mut MsgBuf, deadline: Option<Instant>) -> io::Result<Option<usize>> {
        (**self).recv(buf, deadline)
    }

    fn try_recv(&mut self, buf: &mut MsgBuf) -> io::Result<Option<usize>> {
        (**self).try_recv(buf)
    }
}

/// A reusable message buffer whose contents are treated as secret.
///
/// PF_KEY messages carry keys: ADD/UPDATE/GET/DELETE replies and dump entries hold
/// `SADB_EXT_KEY_*`, and Linux broadcasts ADD and UPDATE to every PF_KEY socket with
/// their keys (af_key `key_notify_sa`). So the buffer never leaves key bytes behind:
///
/// - [`MsgBuf::prepare`] wipes what the previous message used before handing out
///   room for the next one;
/// - growing moves to a fresh zero-filled allocation after wiping the old one (a
///   plain `Vec` reallocation would free the old bytes unwiped);
/// - [`MsgBuf::clear`] wipes the current message, and dropping wipes everything.
///
/// `Debug` shows only the lengths.
#[derive(Default)]
pub struct MsgBuf {
    /// Always fully initialised; `data.len()` is the capacity in use. Invariant:
    /// `data[len..]` is all zero.
    data: Vec<u8>,
    /// Bytes of the current message.
    len: usize,
}

impl MsgBuf {
    /// An empty buffer; it grows on first use.
    pub fn new() -> Self {
        MsgBuf::default()
    }

    /// A buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        MsgBuf {
            data: vec![0; capacity],
            len: 0,
        }
    }

    /// Wipes the previous contents and returns `n` zeroed bytes to receive or build
    /// a message in; afterwards the buffer holds an `n`-byte message.
    pub fn prepare(&mut self, n: usize) -> &mut [u8] {
        self.clear();
        if self.data.len() < n {
            let grown = n.max(self.data.len().saturating_mul(2));
            let mut old = core::mem::replace(&mut self.data, vec![0; grown]);
            old.zeroize();
        }
        self.len = n;
        &mut self.data[..n]
    }

    /// Wipes the current message and returns the whole allocation (grown to at
    /// least `min_capacity`), all zero, to receive a datagram of unknown length into.
    /// Follow with [`MsgBuf::set_received`]; bytes past the received length are
    /// never written by `recv`, so they stay zero and need no wiping.
    pub(crate) fn spare(&mut self, min_capacity: usize) -> &mut [u8] {
        self.clear();
        if self.data.len() < min_capacity {
            let mut old = core::mem::replace(&mut self.data, vec![0; min_capacity]);
            old.zeroize();
        }
        &mut self.data[..]
    }

    /// Marks the first `n` bytes of the allocation (as returned by
    /// [`MsgBuf::spare`] and filled by one `recv`) as the current message.
    pub(crate) fn set_received(&mut self, n: usize) {
        self.len = n.min(self.data.len());
    }

    /// Shortens the current message to `n` bytes (no-op if it is shorter), wiping
    /// the bytes cut off.
    pub fn truncate(&mut self, n: usize) {
        if n < self.len {
            self.data[n..self.len].zeroize();
            self.len = n;
        }
    }

    /// Wipes the current message; the buffer keeps its capacity.
    pub fn clear(&mut self) {
        self.data[..self.len].zeroize();
        self.len = 0;
    }

    /// The current message.
    pub fn as_slice(&self) -> &[u8] {
        &self.data[..self.len]
    }

    /// Bytes in the current message.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no message.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the buffer can hold without growing.
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// The whole allocation, for building a message of unknown size in place; the
    /// caller then calls [`MsgBuf::truncate`] with the message's length. Until then
    /// the whole area counts as in use, so [`MsgBuf::clear`] wipes all of it.
    pub(crate) fn scratch(&mut self) -> &mut [u8] {
        self.clear();
        self.len = self.data.len();
        &mut self.data[..]
    }

    /// Marks the first `n` bytes of the area [`MsgBuf::scratch`] handed out as the
    /// current message, without wiping the rest: for a [`crate::builder::MessageBuilder`]
    /// that finished an `n`-byte message there, because the builder writes only the
    /// bytes of the message it returns (its regions grow from the front and are never
    /// given back), so the bytes past `n` are still the zeros `scratch` left.
    /// Wiping them instead cost about 4,000 instructions per request with a 4 KiB buffer.
    pub(crate) fn set_built(&mut self, n: usize) {
        self.len = n.min(self.data.len());
    }

    /// Grows to at least `n` bytes of capacity, wiping the old allocation.
    pub(crate) fn grow_to(&mut self, n: usize) {
        self.clear();
        if self.data.len() < n {
            let mut old = core::mem::replace(&mut self.data, vec![0; n]);
            old.zeroize();
        }
    }
}

impl Drop for MsgBuf {
    fn drop(&mut self) {
        // Every method keeps the bytes past `len` zero (they are wiped when a message
        // is cleared, truncated or outgrown, and `recv` writes only the received
        // length), so wiping the current message wipes everything. Not touching the
        // rest matters: a receive buffer is 512 KiB of mostly untouched zero pages.
        self.data[..self.len].zeroize();
    }
}

impl fmt::Debug for MsgBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MsgBuf({} of {} bytes, redacted)",
            self.len,
            self.data.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_wipes_the_previous_message() {
        let mut b = MsgBuf::new();
        b.prepare(8).copy_from_slice(&[0xAA; 8]);
        assert_eq!(b.as_slice(), &[0xAA; 8]);
        let s = b.prepare(4);
        assert_eq!(s, &[0; 4]);
        // The bytes beyond the new message were wiped too.
        assert!(b.scratch()[..8].iter().all(|&x| x == 0));
    }

    #[test]
    fn growth_keeps_the_buffer_zeroed_and_sized() {
        let mut b = MsgBuf::with_capacity(4);
        b.prepare(4).fill(0x55);
        let s = b.prepare(100);
        assert_eq!(s.len(), 100);
        assert!(s.iter().all(|&x| x == 0));
        assert!(b.capacity() >= 100);
    }

    #[test]
    fn clear_and_truncate_wipe() {
        let mut b = MsgBuf::new();
        b.prepare(16).fill(7);
        b.truncate(8);
        assert_eq!(b.as_slice(), &[7; 8]);
        assert_eq!(&b.scratch()[8..16], &[0; 8]);
        b.prepare(16).fill(7);
        b.clear();
        assert!(b.is_empty());
        assert_eq!(&b.scratch()[..16], &[0; 16]);
    }

    #[test]
    fn debug_hides_contents() {
        let mut b = MsgBuf::new();
        b.prepare(3).copy_from_slice(b"key");
        let d = format!("{b:?}");
        assert!(!d.contains("107"), "{d}");
        assert!(d.contains("redacted"));
    }
}
