//! A script's messages, prepared ahead of their turn.
//!
//! Translating a statement into its requests and encoding their messages cost more than
//! the client's share of sending them, and af_key does its work inside `send()`; so this
//! is done before a statement's turn, in one of two ways:
//!
//! - A script that the parser reads in one piece (shorter than two of its chunks, about
//!   1,900 `add`s) is prepared *while it is checked*, on the thread that will send it
//!   ([`Preparer`]): each statement that [`lowers_infallibly`](lower::lowers_infallibly) is
//!   encoded as soon as it is parsed, the common `add` straight into the arena
//!   ([`lower::encode_sa_direct`]: no request is built, nothing allocated). The sender
//!   then starts with every message ready: no second thread to start, feed and end.
//! - A longer script is parsed again when it runs, a statement at a time (compiling
//!   checked it but kept only the statements it had to translate early, so that 100,000
//!   statements are held as their text): a second thread, the [`Helper`], prepares its
//!   batches one ahead of the thread that sends them, so that this work overlaps with the
//!   kernel's. It is started with the first such script and kept for the next ones; once
//!   the last script is handed over it ends as soon as it is done, while the sender is
//!   still sending. Such a script with fewer than [`PIPELINE_MIN`] statements (it is long
//!   for its comments) is prepared on the sending thread, a batch at a time, by the same
//!   code.
//!
//! A *plain* request — one whose reply says only whether it worked — is encoded into
//! the batch's [`Arena`] and sent from there with
//! [`pfkey::Client::request_built_in_place`]; the others
//! (`get`, `getspi`, `dump`, `flush`, `deleteall`, and any message that does not fit an
//! arena) are handed over as [`Request`]s for `Executor::execute`. What runs, in what
//! order, and what a failure stops are unchanged: preparing is only translating early,
//! and a translation cannot fail at this point (the statements that compiling did not
//! translate are those that [`lowers_infallibly`](lower::lowers_infallibly)). Prepared
//! messages hold keys, like the script's text: each batch's arena is wiped once sent.

use std::ops::Range;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use pfkey::client::Operation;
use pfkey::repr::MessageRepr;
use pfkey::wire::MsgType;
use zeroize::Zeroize;

use super::{follows_in_as_fwd, policy_dir};
use crate::setkey::lower;
use crate::setkey::{Command, LowerOptions, Request, Script, Span, Statement, SystemResolver};

/// The requests compiling kept, by statement index, in order.
pub(super) type Kept = Vec<(usize, Vec<Request>)>;

/// Scripts with at least this many statements are prepared on a second thread.
pub(super) const PIPELINE_MIN: usize = 64;

/// Statements per batch: enough that handing a batch over (one wake-up of the other
/// thread) costs nothing per statement. The first batch has [`FIRST_BATCH`] and each
/// next one twice as many up to this, so that the sender starts at once. (In the lab,
/// constant batches of 32 made 10,000 adds 1.19× the floor instead of 1.08×: under
/// emulation a wake-up of the other vCPU is expensive, 0.2–0.4 ms per hand-over in
/// session 6's timeline. With arenas recycled, up to 1,024 instead of 256 made 10,000
/// adds 899 instead of 921 ms, floor 826.)
pub(super) const BATCH_STATEMENTS: usize = 1024;

/// Statements in the first batch.
const FIRST_BATCH: usize = 16;

/// Bytes of a batch's arena (a batch of [`BATCH_STATEMENTS`] `add`s takes ~200 KiB). A
/// statement is begun only with [`STATEMENT_ROOM`] left.
const ARENA_BYTES: usize = 256 * 1024;

/// Room a statement's messages are expected to need (an `add` takes about 200 bytes,
/// an `spdadd` with a fwd copy under 1 KiB); a message that does not fit is sent the
/// ordinary way, so this is about speed, not correctness.
const STATEMENT_ROOM: usize = 8 * 1024;

/// Statements prepared together, in order.
pub(super) struct Batch {
    /// The encoded plain requests (wiped when the batch is dropped).
    pub arena: Arena,
    /// One entry per statement.
    pub statements: Vec<Prepared>,
    /// The requests of all the statements, in order.
    pub steps: Vec<Prep>,
}

/// One statement of a [`Batch`]: what the sender needs of it once it is gone.
pub(super) struct Prepared {
    /// Its index in the script.
    pub index: usize,
    /// Where it is in the script, for error reports.
    pub span: Span,
    /// It is `exit`: nothing after it runs.
    pub exit: bool,
    /// Its requests in [`Batch::steps`]; `None` if it could not be translated.
    pub steps: Option<Range<usize>>,
}

/// One request, ready to run.
pub(super) struct Prep {
    /// How it is sent.
    pub what: What,
    /// It is the automatic fwd copy of the `in` policy before it (for error reports).
    pub fwd_copy: bool,
}

/// How a prepared request is sent.
pub(super) enum What {
    /// A plain request: its message in the arena, and what errors call it.
    Built {
        /// Where its bytes are in [`Batch::arena`].
        at: Range<usize>,
        /// The request, for error messages.
        op: Operation,
    },
    /// Anything else, for `Executor::execute`.
    Request(Request),
}

/// Messages encoded one after another into one allocation, wiped when dropped as far as
/// it was written: they hold keys. The allocation is made once at its full size, zeroed
/// (`calloc`: fresh pages from the system, not filled by us; filling it, even a statement's
/// room at a time, was a `memset` per statement). Invariant: `buf` is zero past `used`,
/// and never grows, so it is never reallocated.
pub(super) struct Arena {
    buf: Vec<u8>,
    used: usize,
}

impl Arena {
    fn new() -> Self {
        Arena {
            buf: vec![0; ARENA_BYTES],
            used: 0,
        }
    }

    fn room(&self) -> usize {
        ARENA_BYTES - self.used
    }

    /// Encodes `m` after the messages already here; `None` if it does not fit.
    fn push(&mut self, m: &MessageRepr) -> Option<Range<usize>> {
        let n = self.emit(m).ok()?;
        let at = self.used..self.used + n;
        self.used += n;
        Some(at)
    }

    /// Lets `encode` write one message at `used`: where it is, and what `encode` said of
    /// it; `None` if `encode` wrote nothing (it wipes what it may have written before it
    /// gave up).
    fn encode_with<T>(
        &mut self,
        encode: impl FnOnce(&mut [u8]) -> Option<(usize, T)>,
    ) -> Option<(Range<usize>, T)> {
        let room = self.buf.get_mut(self.used..)?;
        let (n, what) = encode(room)?;
        let at = self.used..self.used + n;
        self.used += n;
        Some((at, what))
    }

    /// Encodes `m` at `used`; on failure, wipes what the builder wrote.
    fn emit(&mut self, m: &MessageRepr) -> Result<usize, pfkey::BuildError> {
        let room = self.buf.get_mut(self.used..).unwrap_or_default();
        m.emit(room).inspect_err(|e| {
            // The builder writes nothing past the length it had reached, which is
            // less than what it said it needed.
            let written = match e {
                pfkey::BuildError::BufferTooSmall { need, .. } => *need,
                _ => room.len(),
            };
            let end = written.min(room.len());
            room[..end].zeroize();
        })
    }

    /// Whether nothing is written in it (all zero), as after [`Arena::wiped`].
    #[cfg(test)]
    pub fn is_wiped(&self) -> bool {
        self.used == 0 && self.buf.iter().all(|&b| b == 0)
    }

    /// The bytes of one message.
    #[cfg(test)]
    pub fn get(&self, at: Range<usize>) -> &[u8] {
        self.buf.get(at).unwrap_or_default()
    }

    /// The bytes of one message, to send in place (its header's seq and pid are filled
    /// in there).
    pub fn get_mut(&mut self, at: Range<usize>) -> &mut [u8] {
        self.buf.get_mut(at).unwrap_or_default()
    }

    /// Wipes the messages written so far (all of the buffer is zero again).
    fn wipe(&mut self) {
        let used = self.used.min(self.buf.len());
        self.buf[..used].zeroize();
    }

    /// The same allocation, its messages wiped: all zero again, ready for new ones.
    fn wiped(mut self) -> Self {
        self.wipe();
        self.used = 0;
        self
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// A request whose reply only says whether it worked (everything `Executor::execute`
/// sends with `request_raw_as::<()>`).
fn is_plain(t: MsgType) -> bool {
    !matches!(
        t,
        MsgType::Flush
            | MsgType::XSpdFlush
            | MsgType::Dump
            | MsgType::XSpdDump
            | MsgType::Get
            | MsgType::GetSpi
    )
}

/// The script's statements in batches, in order, each statement with the requests
/// compiling kept for it (by statement index; none for a statement that
/// [`lowers_infallibly`](lower::lowers_infallibly)). Each statement is dropped once prepared.
fn batches<'s>(
    statements: impl Iterator<Item = (usize, Statement)> + 's,
    src: &'s str,
    kept: Kept,
    opts: LowerOptions,
    total: usize,
    spare: Option<&'s Receiver<Arena>>,
) -> impl Iterator<Item = Batch> + 's {
    let mut kept = kept.into_iter().peekable();
    let mut todo = statements
        .map(move |(index, stmt)| {
            let reqs = kept.next_if(|(k, _)| *k == index).map(|(_, r)| r);
            (index, (stmt, reqs))
        })
        .peekable();
    let mut size = FIRST_BATCH / 2;
    std::iter::from_fn(move || {
        todo.peek()?;
        size = (size * 2).min(BATCH_STATEMENTS);
        let room = size.min(total);
        let arena = spare.and_then(|r| r.try_recv().ok());
        let mut b = Batch::with_arena(arena.unwrap_or_else(Arena::new), room);
        while b.has_room(size) {
            let Some((index, (stmt, kept))) = todo.next() else {
                break;
            };
            let steps = match kept {
                Some(reqs) => Some(b.add(reqs)),
                None => b.infallible(&stmt, src, &opts),
            };
            b.statements.push(Prepared {
                index,
                span: stmt.span,
                exit: matches!(stmt.command, Command::Exit),
                steps,
            });
        }
        Some(b)
    })
}

/// [`batches`] of a whole script, its statements parsed again from its text, in arenas
/// from `spare` when it has one.
pub(super) fn script_batches<'s>(
    script: &'s Script,
    kept: Kept,
    opts: LowerOptions,
    spare: Option<&'s Receiver<Arena>>,
) -> impl Iterator<Item = Batch> + 's {
    batches(
        script.statements_again().enumerate(),
        script.source(),
        kept,
        opts,
        script.count,
        spare,
    )
}

/// Prepares a short script's statements while it is being checked, on the thread that
/// will send them: each statement that [`lowers_infallibly`](lower::lowers_infallibly)
/// is translated and encoded as soon as it is parsed, and every other one gets its place,
/// filled in ([`Preparer::fill`]) once compiling has translated it. A script parsed in
/// one piece (shorter than two of the parser's chunks) is run this way: no second thread,
/// no hand-over, nothing parsed twice, and the sender starts with every message ready.
/// (In the lab, the second thread's start, first batch and end cost 1,000 `add`s about
/// 4 ms before any request was sent or after the last.)
pub(super) struct Preparer {
    opts: LowerOptions,
    done: Vec<Batch>,
    current: Batch,
    /// Where each statement waiting for its requests is: batch (`done.len()` for the
    /// current one) and position.
    waiting: Vec<(usize, usize, usize)>,
}

impl Preparer {
    /// Nothing prepared yet.
    pub(super) fn new(opts: LowerOptions) -> Self {
        Preparer {
            opts,
            done: Vec::new(),
            current: Batch::new(BATCH_STATEMENTS),
            waiting: Vec::new(),
        }
    }

    /// Statement `index` of the script `src`, just parsed: prepared now if it lowers
    /// infallibly (`None`: it is no longer needed), else given back to be kept (and
    /// translated by compiling, which may need the outside world).
    pub(super) fn statement(
        &mut self,
        src: &str,
        index: usize,
        stmt: Statement,
    ) -> Option<Statement> {
        if !self.current.has_room(BATCH_STATEMENTS) {
            let full = std::mem::replace(&mut self.current, Batch::new(BATCH_STATEMENTS));
            self.done.push(full);
        }
        let infallible = lower::lowers_infallibly(&stmt);
        let steps = if infallible {
            self.current.infallible(&stmt, src, &self.opts)
        } else {
            self.waiting
                .push((index, self.done.len(), self.current.statements.len()));
            None
        };
        self.current.statements.push(Prepared {
            index,
            span: stmt.span,
            exit: matches!(stmt.command, Command::Exit),
            steps,
        });
        (!infallible).then_some(stmt)
    }

    /// The requests compiling made for kept statement `index`.
    pub(super) fn fill(&mut self, index: usize, reqs: Vec<Request>) {
        let Ok(at) = self.waiting.binary_search_by_key(&index, |w| w.0) else {
            return;
        };
        let (_, batch, pos) = self.waiting[at];
        let b = match self.done.get_mut(batch) {
            Some(b) => b,
            None => &mut self.current,
        };
        let steps = b.add(reqs);
        if let Some(p) = b.statements.get_mut(pos) {
            p.steps = Some(steps);
        }
    }

    /// The batches, in order.
    pub(super) fn finish(mut self) -> Vec<Batch> {
        if !self.current.statements.is_empty() {
            self.done.push(self.current);
        }
        self.done
    }
}

/// The requests of a statement: those compiling kept, or made now (compiling kept the
/// requests of every statement that does not
/// [`lowers_infallibly`](lower::lowers_infallibly)); `None` if that failed after all.
fn requests(
    stmt: &Statement,
    src: &str,
    kept: Option<Vec<Request>>,
    opts: &LowerOptions,
) -> Option<Vec<Request>> {
    kept.or_else(|| lower::lower(stmt, src, opts, &SystemResolver).ok())
}

/// The second thread: prepares the batches of one script after another, each a batch
/// ahead of the sender (one batch in hand and one waiting, so that it holds no more of a
/// script's keys than that). Dropping it ends the thread and waits for it.
pub(super) struct Helper {
    jobs: Option<mpsc::Sender<Job>>,
    /// Arenas the sender is done with, wiped, for the helper's next batches.
    spare: mpsc::Sender<Arena>,
    thread: Option<JoinHandle<()>>,
}

/// A script to prepare, and where its batches go.
struct Job {
    script: Arc<Script>,
    kept: Kept,
    opts: LowerOptions,
    batches: SyncSender<Batch>,
}

impl Helper {
    /// Starts the thread; `None` if the system cannot (the sender then prepares).
    pub(super) fn spawn() -> Option<Helper> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (spare, spare_rx) = mpsc::channel::<Arena>();
        let thread = std::thread::Builder::new()
            .name("pfkey-prepare".into())
            .spawn(move || {
                for job in rx {
                    let Job {
                        script,
                        kept,
                        opts,
                        batches: tx,
                    } = job;
                    for b in script_batches(&script, kept, opts, Some(&spare_rx)) {
                        if tx.send(b).is_err() {
                            // The run stopped.
                            break;
                        }
                    }
                }
            })
            .ok()?;
        Some(Helper {
            jobs: Some(jobs),
            spare,
            thread: Some(thread),
        })
    }

    /// Gives a sent batch's arena back, wiped, for a later batch: no allocation, zero
    /// filling or freeing of an arena per batch (under emulation each fresh page is a
    /// fault, and memory given back to the system flushes the other vCPU's TLB).
    pub(super) fn recycle(&self, arena: Arena) {
        // A helper that is gone takes nothing: the arena is dropped, which wipes it.
        let _ = self.spare.send(arena.wiped());
    }

    /// No more scripts: the thread ends once it has prepared those it has.
    pub(super) fn close(&mut self) {
        self.jobs = None;
    }

    /// Hands `script` over (with the requests compiling kept for it): its batches, in
    /// order, as they are prepared. Gives `kept` back if the thread is gone.
    pub(super) fn prepare(
        &self,
        script: Arc<Script>,
        kept: Kept,
        opts: LowerOptions,
    ) -> Result<Receiver<Batch>, Kept> {
        let Some(jobs) = &self.jobs else {
            return Err(kept);
        };
        let (tx, rx) = mpsc::sync_channel(1);
        let job = Job {
            script,
            kept,
            opts,
            batches: tx,
        };
        jobs.send(job).map(|()| rx).map_err(|e| e.0.kept)
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        // Closing the queue ends the thread once its current script is done (a stopped
        // run's is: its receiver is gone).
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            // A panic there was already seen by the sender as batches that never came.
            let _ = t.join();
        }
    }
}

impl Batch {
    /// The batch's memory, emptied (its requests dropped, its arena wiped), to keep.
    pub(super) fn emptied(mut self) -> Batch {
        self.statements.clear();
        self.steps.clear();
        self.arena = self.arena.wiped();
        self
    }

    /// An empty batch, with room for `statements` statements.
    fn new(statements: usize) -> Self {
        Batch::with_arena(Arena::new(), statements)
    }

    /// An empty batch in `arena` (a new one, or one given back wiped).
    fn with_arena(arena: Arena, statements: usize) -> Self {
        Batch {
            arena,
            statements: Vec::with_capacity(statements),
            steps: Vec::with_capacity(statements),
        }
    }

    /// Whether another statement may begin in this batch of at most `size` statements:
    /// the first always, a later one only with [`STATEMENT_ROOM`] left in the arena.
    fn has_room(&self, size: usize) -> bool {
        self.statements.len() < size
            && (self.statements.is_empty() || self.arena.room() >= STATEMENT_ROOM)
    }

    /// Adds an `add` or `update` encoded straight into the arena
    /// ([`lower::encode_sa_direct`]); returns where its request is in [`Batch::steps`].
    /// `None` (nothing added) for a statement that must be lowered.
    fn direct(&mut self, stmt: &Statement, src: &str) -> Option<Range<usize>> {
        let (at, op) = self
            .arena
            .encode_with(|room| lower::encode_sa_direct(stmt, src, room))?;
        let start = self.steps.len();
        self.steps.push(Prep {
            what: What::Built { at, op },
            fwd_copy: false,
        });
        Some(start..self.steps.len())
    }

    /// A statement that lowers infallibly: encoded straight into the arena if it can be,
    /// else lowered and added; where its requests are in [`Batch::steps`].
    fn infallible(
        &mut self,
        stmt: &Statement,
        src: &str,
        opts: &LowerOptions,
    ) -> Option<Range<usize>> {
        self.direct(stmt, src)
            .or_else(|| requests(stmt, src, None, opts).map(|r| self.add(r)))
    }

    /// Adds a statement's requests; returns where they are in [`Batch::steps`].
    fn add(&mut self, reqs: Vec<Request>) -> Range<usize> {
        let start = self.steps.len();
        let mut prev = None;
        for req in reqs {
            let dir = policy_dir(&req);
            let fwd_copy = follows_in_as_fwd(prev, dir);
            prev = dir;
            let built = match &req {
                Request::Send(m) if is_plain(m.header.msg_type) => {
                    self.arena.push(m).map(|at| What::Built {
                        at,
                        op: Operation::from(m),
                    })
                }
                _ => None,
            };
            let what = built.unwrap_or(What::Request(req));
            self.steps.push(Prep { what, fwd_copy });
        }
        start..self.steps.len()
    }
}

#[cfg(test)]
mod tests {
    use pfkey::repr::{Extension, Header, Key};
    use pfkey::wire::{ExtType, SaType};

    use super::*;
    use crate::setkey::LowerOptions;

    fn with_key(len: usize) -> MessageRepr {
        MessageRepr {
            header: Header::new(MsgType::Add, SaType::Esp, 0, 0),
            extensions: vec![Extension::Key(
                ExtType::KeyAuth,
                Key::new(vec![0xAB; len]).unwrap(),
            )],
        }
    }

    #[test]
    fn a_recycled_arena_is_wiped_and_taken_again_by_the_helper() {
        let mut a = Arena::new();
        let at = a.push(&with_key(1000)).unwrap();
        let cap = a.buf.capacity();
        let a = a.wiped();
        assert_eq!(a.used, 0);
        assert!(a.buf.len() >= at.end && a.buf.iter().all(|&b| b == 0));
        assert_eq!(a.buf.capacity(), cap);

        let src: String = (0..700)
            .map(|i| format!("add 10.0.0.1 10.0.0.2 esp {} -E null ;\n", 0x1000 + i))
            .collect();
        let opts = LowerOptions::default();
        let c = crate::cmd::script::compile(&src, "t", &opts, &crate::setkey::NoResolver);
        let helper = Helper::spawn().unwrap();
        let rx = helper
            .prepare(Arc::new(c.script), c.requests, opts)
            .ok()
            .unwrap();
        let mut given_back = Vec::new();
        let mut reused = false;
        let mut indices = Vec::new();
        for b in rx {
            let at = b.arena.buf.as_ptr() as usize;
            reused |= given_back.contains(&at);
            indices.extend(b.statements.iter().map(|p| p.index));
            given_back.push(at);
            helper.recycle(b.arena);
        }
        assert!(reused, "no batch used an arena given back");
        assert_eq!(indices, (0..700).collect::<Vec<_>>());
    }

    #[test]
    fn a_message_that_does_not_fit_leaves_no_bytes_behind() {
        let mut a = Arena::new();
        let first = a.push(&with_key(1000)).unwrap();
        assert_eq!(first.start, 0);
        assert_eq!(a.get(first.clone())[24..1024], [0xAB; 1000]);
        let second = a.push(&with_key(2000)).unwrap();
        assert_eq!(second.start, first.end);
        // Fill it up: the message that no longer fits is refused, and what the builder
        // had written of it is wiped.
        let mut last = second;
        while let Some(at) = a.push(&with_key(8000)) {
            assert_eq!(at.start, last.end);
            assert_eq!(a.get(at.clone())[24..8024], [0xAB; 8000]);
            last = at;
        }
        assert!(a.room() < 8100);
        assert_eq!(a.used, last.end);
        assert!(a.buf[a.used..].iter().all(|&b| b == 0));
        assert!(a.buf.len() <= ARENA_BYTES && a.buf.capacity() == ARENA_BYTES);
        // A message bigger than a statement's room is encoded whole when it fits.
        let mut b = Arena::new();
        let big = b.push(&with_key(8191)).unwrap();
        assert!(big.len() > STATEMENT_ROOM);
        assert_eq!(b.get(big)[24..24 + 8191], [0xAB; 8191]);
    }
}
