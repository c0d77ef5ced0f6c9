//! Streaming dumps (`SADB_DUMP`, `SADB_X_SPDDUMP`).
#![forbid(unsafe_code)]

use core::fmt;
use core::marker::PhantomData;

use crate::transport::Transport;
use crate::wire::SadbMsg;

use super::{Client, Error, Expect, FromMessage, Operation};

enum State {
    Running,
    Done,
    /// The last entry came with a dump-level errno: report it after the entry.
    Failed(Error),
}

/// An iterator over the entries of a dump, one message at a time.
///
/// Each item is converted from the client's single receive buffer, which is wiped
/// before the next message, so memory stays constant however large the table. The
/// iterator ends after Linux's last entry (`sadb_msg_seq == 0`, af_key
/// `pfkey_do_dump`), or at once for an empty table (an `ENOENT` reply). Errors end it
/// too: a timeout between two entries, an error reply, or a dump aborted by the
/// kernel (the last entry carries `errno` 234 when the kernel meets an SA or policy
/// PF_KEY cannot express; that entry is yielded, then the error).
///
/// The iterator borrows the client mutably, so no other request can interleave on
/// the socket (af_key allows one dump per socket and answers a second with `EBUSY`).
/// Dropping it early is fine: the client reads and discards the rest of the dump
/// before its next request.
pub struct Dump<'c, T: Transport, I> {
    client: &'c mut Client<T>,
    op: Operation,
    exp: Expect,
    state: State,
    count: u64,
    _item: PhantomData<fn() -> I>,
}

impl<'c, T: Transport, I> Dump<'c, T, I> {
    pub(crate) fn new(client: &'c mut Client<T>, op: Operation, exp: Expect) -> Self {
        Dump {
            client,
            op,
            exp,
            state: State::Running,
            count: 0,
            _item: PhantomData,
        }
    }

    /// Entries received so far.
    pub fn count_so_far(&self) -> u64 {
        self.count
    }

    /// The dump request, for error messages.
    pub fn operation(&self) -> &Operation {
        &self.op
    }
}

impl<T: Transport, I: FromMessage> Iterator for Dump<'_, T, I> {
    type Item = Result<I, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match core::mem::replace(&mut self.state, State::Done) {
            State::Done => return None,
            State::Failed(e) => return Some(Err(e)),
            State::Running => {}
        }
        let wait = self.client.timeout();
        match self.client.await_reply(self.exp, wait, Some(&self.op)) {
            Ok(true) => {}
            Ok(false) => {
                // The rest may still come: the client discards it before its next
                // request.
                self.client.abandon(self.exp);
                return Some(Err(Error::Timeout {
                    op: Box::new(self.op.clone()),
                    waited: self.client.timeout(),
                }));
            }
            Err(e) => {
                self.client.abandon(self.exp);
                return Some(Err(e));
            }
        }
        let Some(h) = self.client.reply_header() else {
            // await_reply only accepts messages with a header.
            self.client.clear_reply();
            return None;
        };
        if self.client.reply_len() == SadbMsg::SIZE {
            // The error reply to the dump request (af_key pfkey_error).
            self.client.clear_reply();
            self.client.remember(self.exp.seq);
            if i32::from(h.errno) == libc::ENOENT {
                return None;
            }
            return Some(Err(Error::Kernel {
                op: Box::new(self.op.clone()),
                errno: h.errno,
            }));
        }
        let item = self.client.take_reply::<I>(&self.op);
        self.count += 1;
        if h.seq == 0 {
            self.client.remember(self.exp.seq);
            if h.errno != 0 {
                self.state = State::Failed(Error::Kernel {
                    op: Box::new(self.op.clone()),
                    errno: h.errno,
                });
            }
        } else {
            self.state = State::Running;
        }
        Some(item)
    }
}

impl<T: Transport, I> Drop for Dump<'_, T, I> {
    fn drop(&mut self) {
        if matches!(self.state, State::Running) {
            self.client.abandon(self.exp);
        }
    }
}

impl<T: Transport, I> fmt::Debug for Dump<'_, T, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dump")
            .field("op", &self.op)
            .field("count", &self.count)
            .field("done", &!matches!(self.state, State::Running))
            .finish()
    }
}
