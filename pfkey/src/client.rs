//! A correlated PF_KEY client: typed requests, replies matched to them, streaming
//! dumps, and the other traffic as events.
//!
//! # Correlation
//!
//! Every request carries `sadb_msg_pid` = this process's id and a fresh
//! `sadb_msg_seq` from a process-wide counter (so that two clients of one process,
//! which share the pid, never use the same number). A received message is the reply
//! only if its pid, seq and type all match the request's (RFC 2367 §2.1: the kernel
//! echoes seq and pid; af_key answers ADD/UPDATE/DELETE/SPD* with the *broadcast*
//! that every PF_KEY socket receives, so the triple is what tells ours apart).
//! Anything else — kernel events (pid 0), other processes' broadcasts, copies of
//! requests on a promiscuous socket — is queued as an [`Event`] (bounded; overflow
//! is counted and reported as [`Event::Lagged`]), and late duplicates of this
//! client's own finished requests are dropped and counted in [`Stats`].
//!
//! A reply that does not come within the timeout (default [`DEFAULT_TIMEOUT`]) ends
//! in [`Error::Timeout`]: PF_KEY drops messages for a full socket silently, replies
//! included, so waiting for ever would be a hang.
//!
//! # FLUSH and SPDFLUSH
//!
//! Linux answers a FLUSH twice with the same seq and pid when something was flushed:
//! first an echo to the sender (af_key `unicast_flush_resp`), then the broadcast to
//! every socket (`key_notify_sa_flush`), which the sender receives too. With an
//! empty table only the echo comes. Both are queued on the socket before the
//! kernel's `send()` returns (the handler runs synchronously under
//! `xfrm_cfg_mutex`; verified on Linux 6.1 in the kernel lab, where the second copy
//! is always readable without waiting and nothing follows later), so after the echo
//! the client looks only at what is already queued (plus
//! [`Client::set_flush_grace`], zero by default) for the second copy. An empty
//! flush therefore costs no wait, and a second copy that ever arrived later would be
//! dropped as a stale duplicate, never taken for another request's reply.
//!
//! # Dumps
//!
//! [`Client::dump`] returns a [`Dump`] iterator that yields one SA at a time: the
//! client keeps one receive buffer, so memory does not grow with the table. Linux
//! numbers the entries 1, 2, …, N−1 and sends the last one with seq 0 (af_key
//! `pfkey_do_dump`); an empty table is a header-only `ENOENT` reply, which the
//! iterator reports as no entries. The iterator borrows the client mutably: one dump
//! per socket at a time, as af_key requires (`EBUSY`). If it is dropped early, the
//! rest of the dump is read and discarded before the client's next request.
#![forbid(unsafe_code)]

mod dump;
mod error;
mod event;
mod types;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use dump::Dump;
pub use error::{Error, Operation};
pub use event::{Acquire, Event, Expire, Migrate, NewMapping, PolicyChange, SaChange};
pub use types::{
    AlgKey, FromMessage, NatT, PolicyInfo, PolicySpec, SaId, SaInfo, SaSpec, SecCtx, SpiRequest,
    Supported,
};

use core::fmt;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use zerocopy::FromBytes;

use crate::builder::MessageBuilder;
use crate::error::BuildError;
use crate::message::Message;
use crate::policy::Policy;
use crate::repr::{Extension, Filter, Header, MessageRepr};
use crate::socket::PfKeySocket;
use crate::transport::{MsgBuf, Transport};
use crate::wire::{
    Direction, ExtType, MsgType, PolicyType, SaType, SadbMsg, MAX_MESSAGE_LEN, PF_KEY_V2,
};

/// How long a request waits for its reply unless [`Client::set_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long FLUSH/SPDFLUSH wait for the second reply beyond what is already queued
/// (see the module documentation): none, because Linux queues both replies before
/// `send()` returns.
pub const DEFAULT_FLUSH_GRACE: Duration = Duration::ZERO;

/// How many events the client queues before it starts dropping them.
pub const DEFAULT_EVENT_QUEUE: usize = 1024;

/// Sequence numbers of recently finished requests remembered to recognise late
/// duplicates.
const RECENT: usize = 64;

/// Messages handled past a deadline before the client stops looking (so that a
/// flood of other traffic cannot keep it busy for ever).
const PAST_DEADLINE_MAX: usize = 4096;

/// Initial size of the request buffer (grows up to the PF_KEY maximum as needed).
const SEND_BUFFER_START: usize = 4096;

/// A socket left alone this long may have gathered other programs' broadcasts: it
/// is drained before the next request (see [`Client::settle`]).
const SETTLE_IDLE: Duration = Duration::from_millis(20);

/// `CLOCK_MONOTONIC_COARSE`: served from the vDSO's data page without reading the
/// clock hardware, so never a system call (unlike `Instant::now()` on a machine whose
/// clock source has no vDSO access, e.g. HPET), at jiffy resolution, which is
/// enough to tell whether a socket sat idle. `None` if the clock cannot be read.
fn coarse_now() -> Option<Duration> {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC_COARSE)
        .ok()
        .map(Duration::from)
}

static NEXT_SEQ: AtomicU32 = AtomicU32::new(1);

/// Writes `seq` and `pid` into a message's header: bytes 8..12 and 12..16 of
/// `sadb_msg`, host order (RFC 2367 §2.3.1).
fn stamp(msg: &mut [u8], seq: u32, pid: u32) {
    if let Some(b) = msg.get_mut(8..12) {
        b.copy_from_slice(&seq.to_ne_bytes());
    }
    if let Some(b) = msg.get_mut(12..16) {
        b.copy_from_slice(&pid.to_ne_bytes());
    }
}

/// Sends `bytes`, traced first as every message is (a function of the client's fields,
/// not a method, so that the bytes may be the client's own send buffer).
fn send_traced<T: Transport>(
    tracer: &mut Option<Tracer>,
    transport: &mut T,
    bytes: &[u8],
    op: &Operation,
) -> Result<(), Error> {
    if let Some(t) = tracer.as_mut() {
        t(Traffic::Sent, bytes);
    }
    transport.send(bytes).map_err(|source| Error::Send {
        op: Box::new(op.clone()),
        source,
    })
}

/// The next sequence number: process-wide, never 0 (0 marks the last dump entry and
/// kernel-originated EXPIREs).
fn next_seq() -> u32 {
    loop {
        let s = NEXT_SEQ.fetch_add(1, Ordering::Relaxed);
        if s != 0 {
            return s;
        }
    }
}

/// Counters of traffic the client received but did not hand out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Late or duplicate replies to this client's finished requests (e.g. a reply
    /// that came after its timeout, the copies a promiscuous socket gets twice, the
    /// rest of an abandoned dump).
    pub stale: u64,
    /// Messages that are not valid PF_KEY and were not a reply.
    pub malformed: u64,
    /// Events dropped because the queue was full (also reported as [`Event::Lagged`]).
    pub events_dropped: u64,
    /// Copies of this client's own requests skipped on a promiscuous socket.
    pub echoes: u64,
}

/// Which way a traced message went (see [`Client::set_tracer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    /// A request the client sent.
    Sent,
    /// A message the client received (reply, event or stale copy).
    Received,
}

/// A callback that sees every message sent and received, e.g. for `-v` output. The
/// bytes may hold keys.
pub type Tracer = Box<dyn FnMut(Traffic, &[u8]) + Send>;

/// What a reply to an outstanding request looks like.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expect {
    pid: u32,
    seq: u32,
    msg_type: MsgType,
    /// A dump stream: entries carry the kernel's own numbering, not `seq`.
    stream: bool,
}

/// What to do with one received message.
enum Verdict {
    Reply,
    Skip,
    Other,
}

/// A PF_KEY client over a [`Transport`] (by default a [`PfKeySocket`]).
///
/// One request at a time: every operation takes `&mut self`, sends, and waits for its
/// reply. Daemons that also want ACQUIRE/EXPIRE events typically open a second
/// client, [`Client::register`] it, and read it with [`Client::next_event`] (as
/// strongSwan and racoon do), so that a burst of events never delays a reply.
pub struct Client<T: Transport = PfKeySocket> {
    transport: T,
    pid: u32,
    timeout: Duration,
    flush_grace: Duration,
    rbuf: MsgBuf,
    sbuf: MsgBuf,
    events: VecDeque<Event>,
    event_limit: usize,
    missed: u64,
    stats: Stats,
    recent: VecDeque<u32>,
    promisc: bool,
    echo_pending: bool,
    abandoned: Option<Expect>,
    tracer: Option<Tracer>,
    /// Other traffic was seen since the last drain: drain before the next request.
    settle_due: bool,
    /// When the last request started (coarse clock), to tell an idle socket.
    last_request: Option<Duration>,
}

impl<T: Transport> fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("pid", &self.pid)
            .field("timeout", &self.timeout)
            .field("promisc", &self.promisc)
            .field("queued_events", &self.events.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Client<PfKeySocket> {
    /// Opens a PF_KEY socket ([`PfKeySocket::open`]) and a client on it.
    pub fn open() -> Result<Self, Error> {
        Ok(Client::new(PfKeySocket::open()?))
    }
}

impl<T: Transport> Client<T> {
    /// A client over `transport`, with pid = this process's id.
    pub fn new(transport: T) -> Self {
        Client {
            transport,
            pid: std::process::id(),
            timeout: DEFAULT_TIMEOUT,
            flush_grace: DEFAULT_FLUSH_GRACE,
            rbuf: MsgBuf::new(),
            sbuf: MsgBuf::with_capacity(SEND_BUFFER_START),
            events: VecDeque::new(),
            event_limit: DEFAULT_EVENT_QUEUE,
            missed: 0,
            stats: Stats::default(),
            recent: VecDeque::with_capacity(RECENT),
            promisc: false,
            echo_pending: false,
            abandoned: None,
            tracer: None,
            settle_due: true,
            last_request: None,
        }
    }

    /// The `sadb_msg_pid` this client sends.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sets the `sadb_msg_pid` to send (af_key echoes it and never checks it). Useful
    /// when several programs in different pid namespaces share a network namespace
    /// and could otherwise collide.
    pub fn set_pid(&mut self, pid: u32) {
        self.pid = pid;
    }

    /// How long a request waits for its reply (and a dump for its next entry).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sets the reply timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// How long FLUSH/SPDFLUSH wait for the second reply beyond what is queued.
    pub fn flush_grace(&self) -> Duration {
        self.flush_grace
    }

    /// Sets the FLUSH/SPDFLUSH grace period (see the module documentation).
    pub fn set_flush_grace(&mut self, grace: Duration) {
        self.flush_grace = grace;
    }

    /// Sets how many events are queued before further ones are dropped (0: none are
    /// kept; drops are still reported by [`Event::Lagged`]).
    pub fn set_event_queue_limit(&mut self, limit: usize) {
        self.event_limit = limit;
        while self.events.len() > limit {
            self.events.pop_back();
            self.missed += 1;
            self.stats.events_dropped += 1;
        }
    }

    /// Events received and not yet taken with [`Client::next_event`].
    pub fn queued_events(&self) -> usize {
        self.events.len()
    }

    /// Counters of traffic that was not handed out.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Installs (or removes) a callback that sees every message sent and received.
    pub fn set_tracer(&mut self, tracer: Option<Tracer>) {
        self.tracer = tracer;
    }

    /// Whether [`Client::promisc`] turned promiscuous mode on.
    pub fn is_promiscuous(&self) -> bool {
        self.promisc
    }

    /// The transport, e.g. to poll its descriptor in an event loop.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably. Receiving from it directly bypasses correlation.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Gives the transport back.
    pub fn into_transport(self) -> T {
        self.transport
    }

    // ----- SA operations (RFC 2367 §3.1) -----

    /// `SADB_REGISTER`: registers this socket as a key manager for `satype` and
    /// returns the algorithms the kernel offers (RFC 2367 §3.1.7).
    ///
    /// A registered socket receives ACQUIRE, EXPIRE and NAT-T mapping events, and its
    /// existence makes the kernel create larval SAs for policies without SAs
    /// (af_key `pfkey_send_acquire`). Registering the same type twice on one socket
    /// fails with `EEXIST`; [`SaType::Unspec`] only lists the algorithms.
    pub fn register(&mut self, satype: SaType) -> Result<Supported, Error> {
        let op = Operation::new(MsgType::Register, satype);
        self.call(&op, Header::new(MsgType::Register, satype, 0, 0), &|_| {
            Ok(())
        })?;
        self.take_reply(&op)
    }

    /// `SADB_GETSPI`: allocates an SPI and creates a larval SA (RFC 2367 §3.1.1; af_key
    /// `pfkey_getspi`). With [`SpiRequest::acquire_seq`] the SPI goes to the larval
    /// state of that ACQUIRE.
    pub fn get_spi(&mut self, req: &SpiRequest) -> Result<SaInfo, Error> {
        let op = Operation::new(MsgType::GetSpi, req.satype).with_hosts(req.src, req.dst);
        let h = Header::new(MsgType::GetSpi, req.satype, req.acquire_seq.unwrap_or(0), 0);
        self.call(&op, h, &|b| req.emit(b))?;
        self.take_reply(&op)
    }

    /// `SADB_ADD`: adds a mature SA (RFC 2367 §3.1.3). Returns the SA as the kernel
    /// broadcast it (keys included).
    pub fn add(&mut self, sa: &SaSpec) -> Result<SaInfo, Error> {
        self.add_or_update(MsgType::Add, sa)
    }

    /// `SADB_UPDATE`: completes a larval SA, or changes a mature one (RFC 2367 §3.1.2).
    /// Linux changes only lifetimes, encapsulation and selector of a mature SA and
    /// silently keeps its keys and algorithms (af_key `pfkey_add` →
    /// `xfrm_state_update`).
    pub fn update(&mut self, sa: &SaSpec) -> Result<SaInfo, Error> {
        self.add_or_update(MsgType::Update, sa)
    }

    /// [`Client::add`] with the reply converted to `R`: `()` keeps nothing of it (no copy
    /// of its keys, nothing to free), for a daemon that needs only to know that the
    /// kernel took the SA.
    pub fn add_as<R: FromMessage>(&mut self, sa: &SaSpec) -> Result<R, Error> {
        self.add_or_update(MsgType::Add, sa)
    }

    /// [`Client::update`] with the reply converted to `R` (see [`Client::add_as`]).
    pub fn update_as<R: FromMessage>(&mut self, sa: &SaSpec) -> Result<R, Error> {
        self.add_or_update(MsgType::Update, sa)
    }

    fn add_or_update<R: FromMessage>(&mut self, t: MsgType, sa: &SaSpec) -> Result<R, Error> {
        let op = Operation::new(t, sa.satype)
            .with_spi(sa.spi)
            .with_hosts(sa.src, sa.dst);
        let h = Header::new(t, sa.satype, sa.acquire_seq.unwrap_or(0), 0);
        self.call(&op, h, &|b| sa.emit(b))?;
        self.take_reply(&op)
    }

    /// `SADB_DELETE`: deletes an SA (RFC 2367 §3.1.4); returns it as it was.
    pub fn delete(&mut self, id: &SaId) -> Result<SaInfo, Error> {
        self.by_id(MsgType::Delete, id)
    }

    /// `SADB_GET`: reads one SA with its keys, lifetimes and counters (RFC 2367 §3.1.5).
    pub fn get(&mut self, id: &SaId) -> Result<SaInfo, Error> {
        self.by_id(MsgType::Get, id)
    }

    fn by_id(&mut self, t: MsgType, id: &SaId) -> Result<SaInfo, Error> {
        let op = Operation::new(t, id.satype)
            .with_spi(id.spi)
            .with_hosts(id.src, id.dst);
        self.call(&op, Header::new(t, id.satype, 0, 0), &|b| id.emit(b))?;
        self.take_reply(&op)
    }

    /// `SADB_FLUSH`: deletes every SA of `satype` ([`SaType::Unspec`]: AH, ESP and
    /// IPComp) (RFC 2367 §3.1.9). Consumes both of Linux's replies (see the module
    /// documentation).
    pub fn flush(&mut self, satype: SaType) -> Result<(), Error> {
        self.flush_like(MsgType::Flush, satype)
    }

    /// `SADB_DUMP`: streams every SA of `satype` ([`SaType::Unspec`]: all) as
    /// [`SaInfo`] (RFC 2367 §3.1.10).
    pub fn dump(&mut self, satype: SaType) -> Result<Dump<'_, T, SaInfo>, Error> {
        self.dump_as(MsgType::Dump, satype, None)
    }

    /// `SADB_DUMP` with an address-prefix filter (`SADB_X_EXT_FILTER`, Linux ≥ 4.x:
    /// source and destination prefixes of one family).
    pub fn dump_filtered(
        &mut self,
        satype: SaType,
        filter: Filter,
    ) -> Result<Dump<'_, T, SaInfo>, Error> {
        self.dump_as(MsgType::Dump, satype, Some(filter))
    }

    /// Starts a dump (`SADB_DUMP` or `SADB_X_SPDDUMP`) whose entries are converted to
    /// `I`, e.g. [`MessageRepr`] for a decoder that wants every extension.
    pub fn dump_as<I: FromMessage>(
        &mut self,
        msg_type: MsgType,
        satype: SaType,
        filter: Option<Filter>,
    ) -> Result<Dump<'_, T, I>, Error> {
        let op = Operation::new(msg_type, satype);
        if !matches!(msg_type, MsgType::Dump | MsgType::XSpdDump) {
            return Err(Error::Unsupported {
                op: Box::new(op),
                reason: "only DUMP and X_SPDDUMP are dumps",
            });
        }
        if self.promisc {
            return Err(Error::Unsupported {
                op: Box::new(op),
                reason: "a promiscuous socket receives every dump entry twice; dump with a separate client",
            });
        }
        let seq = self.send_request(&op, Header::new(msg_type, satype, 0, 0), &|b| {
            if let Some(f) = filter {
                b.extension(&Extension::Filter(f))?;
            }
            Ok(())
        })?;
        self.sbuf.clear();
        let exp = Expect {
            pid: self.pid,
            seq,
            msg_type,
            stream: true,
        };
        Ok(Dump::new(self, op, exp))
    }

    /// `SADB_ACQUIRE` from user space: tells the kernel that negotiating the SA for
    /// the ACQUIRE with sequence number `seq` failed, so it can drop the larval state
    /// (af_key `pfkey_acquire`). `errno` must be non-zero. The kernel sends no reply.
    pub fn acquire_failed(&mut self, seq: u32, satype: SaType, errno: u8) -> Result<(), Error> {
        let op = Operation::new(MsgType::Acquire, satype);
        if errno == 0 || seq == 0 {
            return Err(Error::Unsupported {
                op: Box::new(op),
                reason: "a failed ACQUIRE needs the acquire's non-zero sequence number and a non-zero errno",
            });
        }
        let mut h = Header::new(MsgType::Acquire, satype, seq, 0);
        h.errno = errno;
        self.send_request(&op, h, &|_| Ok(()))?;
        self.finish_request(seq);
        Ok(())
    }

    /// `SADB_X_PROMISC`: turns promiscuous mode on or off. A promiscuous socket
    /// receives a copy of every PF_KEY message in the network namespace (requests
    /// included) as events; the client skips the copies of its own requests.
    pub fn promisc(&mut self, on: bool) -> Result<(), Error> {
        let satype = SaType::from_value(u8::from(on));
        let op = Operation::new(MsgType::XPromisc, satype);
        self.call(&op, Header::new(MsgType::XPromisc, satype, 0, 0), &|_| {
            Ok(())
        })?;
        self.rbuf.clear();
        self.promisc = on;
        Ok(())
    }

    // ----- SPD operations (KAME SADB_X_SPD*) -----

    /// `SADB_X_SPDADD`: adds a policy (`EEXIST` if one with the same selector and
    /// direction exists). Returns it with its kernel-assigned id.
    pub fn spd_add(&mut self, p: &PolicySpec) -> Result<PolicyInfo, Error> {
        self.spd_with_spec(MsgType::XSpdAdd, p)
    }

    /// `SADB_X_SPDUPDATE`: adds or replaces a policy.
    pub fn spd_update(&mut self, p: &PolicySpec) -> Result<PolicyInfo, Error> {
        self.spd_with_spec(MsgType::XSpdUpdate, p)
    }

    /// `SADB_X_SPDDELETE`: deletes the policy with this selector, direction (and
    /// security context); `ENOENT` if there is none.
    pub fn spd_delete(&mut self, p: &PolicySpec) -> Result<PolicyInfo, Error> {
        self.spd_with_spec(MsgType::XSpdDelete, p)
    }

    fn spd_with_spec(&mut self, t: MsgType, p: &PolicySpec) -> Result<PolicyInfo, Error> {
        let mut op = Operation::new(t, SaType::Unspec)
            .with_addresses(p.src, p.dst)
            .with_dir(p.policy.dir);
        if let Some(s) = op.src.as_mut() {
            s.proto = p.proto;
        }
        self.call(&op, Header::new(t, SaType::Unspec, 0, 0), &|b| p.emit(b))?;
        self.take_reply(&op)
    }

    /// `SADB_X_SPDDELETE2`: deletes the policy with this id.
    pub fn spd_delete_by_id(&mut self, id: u32) -> Result<PolicyInfo, Error> {
        self.spd_by_id(MsgType::XSpdDelete2, id)
    }

    /// `SADB_X_SPDGET`: reads the policy with this id (the direction is `id & 7`;
    /// per-socket policies cannot be read this way).
    pub fn spd_get(&mut self, id: u32) -> Result<PolicyInfo, Error> {
        self.spd_by_id(MsgType::XSpdGet, id)
    }

    fn spd_by_id(&mut self, t: MsgType, id: u32) -> Result<PolicyInfo, Error> {
        let op = Operation::new(t, SaType::Unspec).with_policy_id(id);
        // Linux reads the direction from the id (`xfrm_policy_id2dir`); the dir
        // field is filled in to match (PF_KEY directions are xfrm's plus one).
        let dir = Direction::from_value(((id & 7) as u8).saturating_add(1));
        let pol = Policy {
            policy_type: PolicyType::Ipsec,
            dir,
            reserved: 0,
            id,
            priority: 0,
            requests: Vec::new(),
        };
        self.call(&op, Header::new(t, SaType::Unspec, 0, 0), &|b| {
            b.policy(&pol).map(drop)
        })?;
        self.take_reply(&op)
    }

    /// `SADB_X_SPDFLUSH`: deletes every global policy (per-socket policies stay).
    /// Consumes both of Linux's replies, like [`Client::flush`].
    pub fn spd_flush(&mut self) -> Result<(), Error> {
        self.flush_like(MsgType::XSpdFlush, SaType::Unspec)
    }

    /// `SADB_X_SPDDUMP`: streams every policy, per-socket ones included (directions
    /// socket-in/socket-out).
    pub fn spd_dump(&mut self) -> Result<Dump<'_, T, PolicyInfo>, Error> {
        self.dump_as(MsgType::XSpdDump, SaType::Unspec, None)
    }

    // ----- escape hatch -----

    /// Sends any message and returns the first reply with the same pid, seq and type
    /// (`X_SPDSETIDX` is answered as `X_SPDADD`). A `seq` or `pid` of 0 in the header
    /// is filled in by the client. An error reply becomes [`Error::Kernel`].
    ///
    /// Use [`Client::dump_as`] for dumps and [`Client::send_raw`] for messages the
    /// kernel does not answer.
    pub fn request_raw(&mut self, msg: &MessageRepr) -> Result<MessageRepr, Error> {
        self.request_raw_as(msg)
    }

    /// [`Client::request_raw`], converting the reply to `R` straight from the receive
    /// buffer; `R = ()` keeps nothing of it (no allocation, no copy of its keys).
    pub fn request_raw_as<R: FromMessage>(&mut self, msg: &MessageRepr) -> Result<R, Error> {
        let op = Operation::from(msg);
        let reply_type = reply_type_of(&op)?;
        let exts = &msg.extensions;
        self.call_expecting(&op, msg.header, reply_type, &|b| {
            for e in exts {
                b.extension(e)?;
            }
            Ok(())
        })?;
        self.take_reply(&op)
    }

    /// [`Client::request_raw_as`] for a message already built, e.g. with
    /// [`MessageBuilder`] ahead of time on another thread: its bytes are copied to the
    /// send buffer, and a `seq` or `pid` of 0 in its header is filled in there. `op`
    /// describes it in errors (`Operation::from(&repr)` of the message it was built from).
    ///
    /// The bytes are not checked beyond the header; the kernel checks the rest and
    /// answers a malformed message with an error reply or refuses it at `send()`.
    pub fn request_built_as<R: FromMessage>(
        &mut self,
        msg: &[u8],
        op: &Operation,
    ) -> Result<R, Error> {
        self.exchange_built(msg, op)?;
        self.take_reply(op)
    }

    /// [`Client::request_built_as`] for a caller that needs only to know that the
    /// request worked: the reply is checked for an error and wiped unparsed.
    pub fn request_built(&mut self, msg: &[u8], op: &Operation) -> Result<(), Error> {
        self.exchange_built(msg, op)?;
        self.rbuf.clear();
        Ok(())
    }

    /// [`Client::request_built`] sent straight from `msg`, without copying it: a `seq` or
    /// `pid` of 0 in its header is filled in *in `msg`*, and `msg` is left as sent (the
    /// caller wipes it: it may hold keys). For a sender of many prebuilt messages, this
    /// saves a copy and a wipe per request. On a promiscuous socket (whose copy of the
    /// request is recognised by its bytes) the message is copied as by `request_built`.
    pub fn request_built_in_place(&mut self, msg: &mut [u8], op: &Operation) -> Result<(), Error> {
        if self.promisc {
            return self.request_built(msg, op);
        }
        let reply_type = reply_type_of(op)?;
        let (seq, pid) = self.stamp_ids(msg, op)?;
        stamp(msg, seq, pid);
        send_traced(&mut self.tracer, &mut self.transport, msg, op)?;
        self.await_request(op, pid, seq, reply_type)?;
        self.rbuf.clear();
        Ok(())
    }

    /// Sends a built message and waits for its successful reply, left in `rbuf`.
    fn exchange_built(&mut self, msg: &[u8], op: &Operation) -> Result<(), Error> {
        let reply_type = reply_type_of(op)?;
        let (seq, pid) = self.stamp_ids(msg, op)?;
        let buf = self.sbuf.prepare(msg.len());
        buf.copy_from_slice(msg);
        stamp(buf, seq, pid);
        self.transmit(op)?;
        self.await_request(op, pid, seq, reply_type)
    }

    /// The `seq` and `pid` a built message goes out with (its own, or the client's for
    /// a 0), once the socket is settled; refuses bytes that are not a PF_KEY v2 message.
    fn stamp_ids(&mut self, msg: &[u8], op: &Operation) -> Result<(u32, u32), Error> {
        let Some(header) = peek_header(msg) else {
            return Err(Error::Unsupported {
                op: Box::new(op.clone()),
                reason: "not a PF_KEY v2 message (shorter than its header, or another version)",
            });
        };
        let pid = if header.pid == 0 {
            self.pid
        } else {
            header.pid
        };
        self.settle(op)?;
        let seq = if header.seq == 0 {
            next_seq()
        } else {
            header.seq
        };
        Ok((seq, pid))
    }

    /// Sends any message without waiting for a reply (seq and pid of 0 filled in as
    /// by [`Client::request_raw`]). Returns the sequence number used.
    pub fn send_raw(&mut self, msg: &MessageRepr) -> Result<u32, Error> {
        let op = Operation::from(msg);
        let exts = &msg.extensions;
        let seq = self.send_request(&op, msg.header, &|b| {
            for e in exts {
                b.extension(e)?;
            }
            Ok(())
        })?;
        self.finish_request(seq);
        Ok(seq)
    }

    // ----- events -----

    /// The next event: a queued one, or the next non-reply message to arrive within
    /// `timeout` (`None`: wait for ever; zero: only what is already queued).
    /// Returns `Ok(None)` when the time is up.
    pub fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<Event>, Error> {
        if let Some(e) = self.pop_event() {
            return Ok(Some(e));
        }
        if let Some(exp) = self.abandoned.take() {
            let op = Operation::new(exp.msg_type, SaType::Unspec);
            self.finish_stream(exp, &op)?;
        }
        // Events come from a shared queue: more may be waiting behind this one.
        self.settle_due = true;
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut past = 0;
        loop {
            if !self.recv_one(deadline, None)? {
                return Ok(self.pop_event());
            }
            self.dispose();
            if let Some(e) = self.pop_event() {
                return Ok(Some(e));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                past += 1;
                if past > PAST_DEADLINE_MAX {
                    return Ok(None);
                }
            }
        }
    }

    /// The next event if one is queued or already waiting on the socket.
    pub fn try_next_event(&mut self) -> Result<Option<Event>, Error> {
        self.next_event(Some(Duration::ZERO))
    }

    // ----- internals -----

    /// Sends a request and waits for its (successful) reply, left in `rbuf`.
    fn call(
        &mut self,
        op: &Operation,
        header: Header,
        build: &dyn Fn(&mut MessageBuilder<'_>) -> Result<(), BuildError>,
    ) -> Result<(), Error> {
        self.call_expecting(op, header, header.msg_type, build)
    }

    fn call_expecting(
        &mut self,
        op: &Operation,
        header: Header,
        reply_type: MsgType,
        build: &dyn Fn(&mut MessageBuilder<'_>) -> Result<(), BuildError>,
    ) -> Result<(), Error> {
        let pid = if header.pid == 0 {
            self.pid
        } else {
            header.pid
        };
        let seq = self.send_request(op, header, build)?;
        self.await_request(op, pid, seq, reply_type)
    }

    /// Waits for the reply to the request just sent, left in `rbuf` if successful.
    fn await_request(
        &mut self,
        op: &Operation,
        pid: u32,
        seq: u32,
        reply_type: MsgType,
    ) -> Result<(), Error> {
        let exp = Expect {
            pid,
            seq,
            msg_type: reply_type,
            stream: false,
        };
        let got = self.await_reply(exp, self.timeout, Some(op));
        self.finish_request(seq);
        self.check_reply(op, got)
    }

    /// FLUSH / SPDFLUSH: the echo, then the broadcast if anything was flushed.
    fn flush_like(&mut self, t: MsgType, satype: SaType) -> Result<(), Error> {
        let op = Operation::new(t, satype);
        let seq = self.send_request(&op, Header::new(t, satype, 0, 0), &|_| Ok(()))?;
        let exp = Expect {
            pid: self.pid,
            seq,
            msg_type: t,
            stream: false,
        };
        let r = self.flush_replies(&op, exp);
        self.finish_request(seq);
        r
    }

    fn flush_replies(&mut self, op: &Operation, exp: Expect) -> Result<(), Error> {
        let got = self.await_reply(exp, self.timeout, Some(op));
        self.check_reply(op, got)?;
        self.rbuf.clear();
        // af_key pfkey_flush: the echo is followed by the broadcast only if something
        // was flushed (xfrm_state_flush returns -ESRCH for an empty table), and an
        // error in the flush itself comes after the echo as an error reply.
        let got = self.await_reply(exp, self.flush_grace, Some(op))?;
        if got {
            let r = self.check_reply(op, Ok(true));
            self.rbuf.clear();
            r?;
        }
        Ok(())
    }

    /// Turns the outcome of waiting for a reply into a result: timeout, or a kernel
    /// error reply (then the buffer is wiped), or success with the reply in `rbuf`.
    fn check_reply(&mut self, op: &Operation, got: Result<bool, Error>) -> Result<(), Error> {
        if !got? {
            return Err(Error::Timeout {
                op: Box::new(op.clone()),
                waited: self.timeout,
            });
        }
        let errno = peek_header(self.rbuf.as_slice()).map_or(0, |h| h.errno);
        if errno != 0 {
            self.rbuf.clear();
            return Err(Error::Kernel {
                op: Box::new(op.clone()),
                errno,
            });
        }
        Ok(())
    }

    fn deadline(&self, d: Duration) -> Instant {
        let now = Instant::now();
        now.checked_add(d)
            .unwrap_or(now + Duration::from_secs(86_400 * 365))
    }

    /// Prepares the socket, builds the request into `sbuf` and sends it. Returns the
    /// sequence number. On a promiscuous socket the request bytes stay in `sbuf`
    /// until the reply arrives (to recognise the kernel's copy of the request);
    /// otherwise they are wiped at once.
    fn send_request(
        &mut self,
        op: &Operation,
        mut header: Header,
        build: &dyn Fn(&mut MessageBuilder<'_>) -> Result<(), BuildError>,
    ) -> Result<u32, Error> {
        self.settle(op)?;
        if header.seq == 0 {
            header.seq = next_seq();
        }
        if header.pid == 0 {
            header.pid = self.pid;
        }
        self.build(&header, build).map_err(|source| Error::Build {
            op: Box::new(op.clone()),
            source,
        })?;
        self.transmit(op)?;
        Ok(header.seq)
    }

    /// Sends the request in `sbuf`. On a promiscuous socket its bytes stay there until
    /// the reply arrives (to recognise the kernel's copy of it); otherwise they are
    /// wiped at once.
    fn transmit(&mut self, op: &Operation) -> Result<(), Error> {
        let sent = send_traced(
            &mut self.tracer,
            &mut self.transport,
            self.sbuf.as_slice(),
            op,
        );
        if sent.is_err() {
            self.sbuf.clear();
            return sent;
        }
        if self.promisc {
            self.echo_pending = true;
        } else {
            self.sbuf.clear();
        }
        Ok(())
    }

    /// Builds a message into `sbuf`, growing it (and wiping the old one) as needed.
    fn build(
        &mut self,
        header: &Header,
        build: &dyn Fn(&mut MessageBuilder<'_>) -> Result<(), BuildError>,
    ) -> Result<(), BuildError> {
        loop {
            let cap = self.sbuf.capacity();
            let res = {
                let scratch = self.sbuf.scratch();
                MessageBuilder::new(scratch, header).and_then(|mut b| {
                    build(&mut b)?;
                    Ok(b.finish()?.len())
                })
            };
            match res {
                Ok(n) => {
                    self.sbuf.set_built(n);
                    return Ok(());
                }
                Err(BuildError::BufferTooSmall { .. }) if cap < MAX_MESSAGE_LEN => {
                    self.sbuf
                        .grow_to(cap.saturating_mul(2).clamp(64, MAX_MESSAGE_LEN));
                }
                Err(e) => {
                    self.sbuf.clear();
                    return Err(e);
                }
            }
        }
    }

    /// Marks a request as finished: its copy is wiped and late duplicates of its
    /// reply will be recognised as stale.
    fn finish_request(&mut self, seq: u32) {
        self.sbuf.clear();
        self.echo_pending = false;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(seq);
    }

    /// Before a request: finish an abandoned dump, then classify whatever is already
    /// queued, so that the socket buffer has room for the reply (cf. strongSwan's
    /// drain before each request; PF_KEY drops a reply for a full socket silently).
    ///
    /// The drain costs a receive, so it runs only when something may be queued: on
    /// the first request, after other traffic was seen (a reply that was not the
    /// first message to arrive, events), and when the socket sat idle for
    /// [`SETTLE_IDLE`]. Otherwise the previous reply was the first message of an
    /// empty queue moments ago, and a script of back-to-back requests pays one
    /// `send` and one `recv` each, as the raw floor does.
    fn settle(&mut self, op: &Operation) -> Result<(), Error> {
        if let Some(exp) = self.abandoned.take() {
            self.finish_stream(exp, op)?;
        }
        let now = coarse_now();
        let idle = match (self.last_request, now) {
            (Some(then), Some(now)) => now.saturating_sub(then) >= SETTLE_IDLE,
            _ => true,
        };
        self.last_request = now;
        if !(idle || self.settle_due) {
            return Ok(());
        }
        self.settle_due = false;
        for _ in 0..PAST_DEADLINE_MAX {
            if !self.try_recv_one(Some(op))? {
                break;
            }
            self.dispose();
        }
        Ok(())
    }

    /// Reads and discards the rest of a dump stream (until its last entry or error
    /// reply, or a timeout between two messages).
    pub(crate) fn finish_stream(&mut self, exp: Expect, op: &Operation) -> Result<(), Error> {
        loop {
            if !self.await_reply(exp, self.timeout, Some(op))? {
                return Ok(());
            }
            let last = match peek_header(self.rbuf.as_slice()) {
                Some(h) => h.seq == 0 || self.rbuf.len() == SadbMsg::SIZE,
                None => true,
            };
            self.rbuf.clear();
            self.stats.stale += 1;
            if last {
                self.finish_request(exp.seq);
                return Ok(());
            }
        }
    }

    /// Receives one message into `rbuf`; `false` when the deadline passed first.
    fn recv_one(
        &mut self,
        deadline: Option<Instant>,
        op: Option<&Operation>,
    ) -> Result<bool, Error> {
        let got = self.transport.recv(&mut self.rbuf, deadline);
        self.received(got, op)
    }

    /// Receives one message into `rbuf` if one is queued; `false` otherwise.
    fn try_recv_one(&mut self, op: Option<&Operation>) -> Result<bool, Error> {
        let got = self.transport.try_recv(&mut self.rbuf);
        self.received(got, op)
    }

    /// The outcome of a receive: traced, or turned into the client's error.
    fn received(
        &mut self,
        got: std::io::Result<Option<usize>>,
        op: Option<&Operation>,
    ) -> Result<bool, Error> {
        match got {
            Ok(Some(_)) => {
                if let Some(t) = self.tracer.as_mut() {
                    t(Traffic::Received, self.rbuf.as_slice());
                }
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(source) => Err(Error::Recv {
                op: op.cloned().map(Box::new),
                source,
            }),
        }
    }

    /// Waits up to `wait` for the reply described by `exp`; other messages are
    /// classified on the way. Returns `true` with the reply in `rbuf`, `false` if the
    /// time ran out.
    ///
    /// af_key answers inside `send()` and produces dump entries inside `recv()`, so
    /// the awaited message is normally already queued: it is read first without a
    /// deadline, and the clock is read (which can be a system call, see
    /// [`coarse_now`]) only once the queue is empty or holds other traffic.
    pub(crate) fn await_reply(
        &mut self,
        exp: Expect,
        wait: Duration,
        op: Option<&Operation>,
    ) -> Result<bool, Error> {
        let mut deadline: Option<Instant> = None;
        let mut past = 0;
        loop {
            let got = match deadline {
                None => self.try_recv_one(op)?,
                Some(d) => self.recv_one(Some(d), op)?,
            };
            if !got {
                if deadline.is_none() && !wait.is_zero() {
                    deadline = Some(self.deadline(wait));
                    continue;
                }
                return Ok(false);
            }
            match self.verdict(&exp) {
                Verdict::Reply => return Ok(true),
                Verdict::Skip => self.rbuf.clear(),
                Verdict::Other => self.dispose(),
            }
            self.settle_due = true;
            let d = match deadline {
                Some(d) => d,
                None => *deadline.insert(self.deadline(wait)),
            };
            if Instant::now() >= d {
                past += 1;
                if past > PAST_DEADLINE_MAX {
                    return Ok(false);
                }
            }
        }
    }

    /// Is the message in `rbuf` the awaited reply?
    fn verdict(&mut self, exp: &Expect) -> Verdict {
        let bytes = self.rbuf.as_slice();
        let Some(h) = peek_header(bytes) else {
            return Verdict::Other;
        };
        if h.pid != exp.pid || h.msg_type != exp.msg_type {
            return Verdict::Other;
        }
        if exp.stream {
            // af_key dump_sa/dump_sp: entries carry the dump's own numbering and
            // always have extensions; the only header-only message of the stream is
            // the error reply (ENOENT for an empty table) with the request's seq.
            if bytes.len() > SadbMsg::SIZE {
                return Verdict::Reply;
            }
            if h.errno != 0 && h.seq == exp.seq {
                return Verdict::Reply;
            }
            return Verdict::Other;
        }
        if h.seq != exp.seq {
            return Verdict::Other;
        }
        if self.echo_pending && h.errno == 0 && bytes == self.sbuf.as_slice() {
            // af_key pfkey_process: a promiscuous socket first receives a copy of
            // every request, its own included, before the handler runs.
            self.echo_pending = false;
            self.stats.echoes += 1;
            return Verdict::Skip;
        }
        Verdict::Reply
    }

    /// Disposes of a message that is not the awaited reply: a late duplicate of one of
    /// ours is dropped, anything else becomes an event. Wipes `rbuf`.
    fn dispose(&mut self) {
        let event = match Message::parse(self.rbuf.as_slice()) {
            Err(_) => {
                self.stats.malformed += 1;
                None
            }
            Ok(m) => {
                let ours = m.pid() == self.pid && m.pid() != 0;
                let stale = ours
                    && (self.recent.contains(&m.seq())
                        || matches!(m.msg_type(), MsgType::Dump | MsgType::XSpdDump));
                if stale {
                    self.stats.stale += 1;
                    None
                } else {
                    Some(Event::from_message(&m))
                }
            }
        };
        self.rbuf.clear();
        if let Some(e) = event {
            self.push_event(e);
        }
    }

    fn push_event(&mut self, e: Event) {
        // Once something was dropped, later events are dropped too until the loss is
        // reported, so that Lagged sits exactly where the gap is.
        if self.missed > 0 || self.events.len() >= self.event_limit {
            self.missed += 1;
            self.stats.events_dropped += 1;
        } else {
            self.events.push_back(e);
        }
    }

    fn pop_event(&mut self) -> Option<Event> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        if self.missed > 0 {
            let missed = core::mem::take(&mut self.missed);
            return Some(Event::Lagged { missed });
        }
        None
    }

    /// Converts the reply in `rbuf` and wipes the buffer.
    pub(crate) fn take_reply<R: FromMessage>(&mut self, op: &Operation) -> Result<R, Error> {
        let r = match Message::parse(self.rbuf.as_slice()) {
            Err(source) => Err(Error::Parse {
                op: Box::new(op.clone()),
                source,
            }),
            Ok(m) => R::from_message(&m).map_err(|missing| Error::Incomplete {
                op: Box::new(op.clone()),
                missing,
            }),
        };
        self.rbuf.clear();
        r
    }

    /// Header of the message in `rbuf`.
    pub(crate) fn reply_header(&self) -> Option<Header> {
        peek_header(self.rbuf.as_slice())
    }

    pub(crate) fn reply_len(&self) -> usize {
        self.rbuf.len()
    }

    pub(crate) fn clear_reply(&mut self) {
        self.rbuf.clear();
    }

    pub(crate) fn remember(&mut self, seq: u32) {
        self.finish_request(seq);
    }

    pub(crate) fn abandon(&mut self, exp: Expect) {
        self.abandoned = Some(exp);
    }
}

impl FromMessage for Supported {
    fn from_message(m: &Message<'_>) -> Result<Self, crate::wire::ExtType> {
        Ok(Supported::from_message(m))
    }
}

/// What a raw request is about, for its errors: type and SA type from the header, and the
/// SPI, addresses and policy direction from its extensions when it has them (so that an
/// error reads `add esp spi 0x1000 10.0.0.1 -> 10.0.0.2: …` as for the typed requests).
/// The message type that answers a request (af_key answers `X_SPDSETIDX` as
/// `X_SPDADD`); dumps answer with a stream, which [`Client::dump_as`] reads.
fn reply_type_of(op: &Operation) -> Result<MsgType, Error> {
    match op.msg_type {
        MsgType::Dump | MsgType::XSpdDump => Err(Error::Unsupported {
            op: Box::new(op.clone()),
            reason: "dumps answer with a stream; use dump_as",
        }),
        MsgType::XSpdSetIdx => Ok(MsgType::XSpdAdd),
        t => Ok(t),
    }
}

/// What a message asks for, as errors name it: its type and SA type, the SPI, the
/// addresses (only when both are there), the policy direction and id.
impl From<&MessageRepr> for Operation {
    fn from(msg: &MessageRepr) -> Self {
        let mut op = Operation::new(msg.header.msg_type, msg.header.satype);
        for e in &msg.extensions {
            match e {
                Extension::Sa(sa) => op.spi = Some(sa.spi),
                Extension::Address(ExtType::AddressSrc, a) => op.src = Some(*a),
                Extension::Address(ExtType::AddressDst, a) => op.dst = Some(*a),
                Extension::Policy(p) => {
                    op.dir = Some(p.dir);
                    if p.id != 0 {
                        op.policy_id = Some(p.id);
                    }
                }
                _ => {}
            }
        }
        if op.src.is_none() || op.dst.is_none() {
            op.src = None;
            op.dst = None;
        }
        op
    }
}

/// The header of a message, if the buffer starts with a PF_KEY v2 header.
fn peek_header(bytes: &[u8]) -> Option<Header> {
    let (h, _) = SadbMsg::ref_from_prefix(bytes).ok()?;
    (h.version == PF_KEY_V2).then(|| Header::from_wire(h))
}
