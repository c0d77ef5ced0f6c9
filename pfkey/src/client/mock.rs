//! A scripted transport for unit tests of the client's own logic (correlation,
//! FLUSH's double reply, dump termination, timeouts). It says nothing about the
//! kernel: the frames are hand-built with the codec's builder, and kernel behaviour
//! is tested in the kernel lab (`tests/kernel`).

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use crate::message::Message;
use crate::transport::{MsgBuf, Transport};

/// Given each request as it is sent, returns the frames the "kernel" queues.
pub(crate) type Responder = Box<dyn FnMut(&Message<'_>) -> Vec<Vec<u8>>>;

/// Frames queued in `inbox` are received in order; `responder` adds frames for
/// every message sent. An empty inbox behaves like a quiet socket: the receive
/// sleeps until the deadline and reports it passed. A receive with no deadline on
/// an empty inbox is an error, because the real socket would hang there.
pub(crate) struct Mock {
    pub inbox: VecDeque<Vec<u8>>,
    pub sent: Vec<Vec<u8>>,
    pub responder: Option<Responder>,
    /// For each receive that found the inbox empty: how long it was allowed to wait.
    pub waits: Vec<Duration>,
}

impl Mock {
    pub fn new() -> Self {
        Mock {
            inbox: VecDeque::new(),
            sent: Vec::new(),
            responder: None,
            waits: Vec::new(),
        }
    }

    pub fn with_responder(r: impl FnMut(&Message<'_>) -> Vec<Vec<u8>> + 'static) -> Self {
        let mut m = Mock::new();
        m.responder = Some(Box::new(r));
        m
    }
}

impl Transport for Mock {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.sent.push(msg.to_vec());
        if let Some(r) = self.responder.as_mut() {
            let m =
                Message::parse(msg).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let frames = r(&m);
            self.inbox.extend(frames);
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut MsgBuf, deadline: Option<Instant>) -> io::Result<Option<usize>> {
        if let Some(f) = self.inbox.pop_front() {
            buf.prepare(f.len()).copy_from_slice(&f);
            return Ok(Some(f.len()));
        }
        match deadline {
            None => Err(io::Error::other(
                "mock: receive without a deadline on a quiet socket would hang",
            )),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                self.waits.push(left);
                std::thread::sleep(left);
                Ok(None)
            }
        }
    }

    fn try_recv(&mut self, buf: &mut MsgBuf) -> io::Result<Option<usize>> {
        if self.inbox.is_empty() {
            // A look without waiting: recorded as a zero wait.
            self.waits.push(Duration::ZERO);
            return Ok(None);
        }
        self.recv(buf, None)
    }
}
