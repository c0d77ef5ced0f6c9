//! setkey(8)-language scripts: `pfkey -f FILE`, `pfkey -c`, check-only mode (`pfkey -n`,
//! `pfkey check`), and setkey's `-D`/`-DP`/`-F`/`-FP` shortcuts.
//!
//! # How a script runs
//!
//! 1. **Compile** every file first: parse it ([`crate::setkey::parse_owned`]) and translate
//!    every statement that needs the outside world into its requests
//!    ([`crate::setkey::Script::lower_statement`], host names resolved). Any error in any
//!    file is reported, all of them, and nothing is sent (exit 65). No socket is opened
//!    before this succeeds, so a bad script is reported the same way on a kernel without
//!    PF_KEY. The parsed statements are not kept: a statement that
//!    [`lowers_infallibly`] (an `add` between numeric addresses, most of a long script) is
//!    encoded as it is checked, in a script the parser reads in one piece; in a longer one
//!    it is checked and dropped, and parsed again when its turn comes (so a
//!    100,000-statement script is held as its text, not as 100,000 syntax trees).
//! 2. **Execute** the statements in order through one [`Client`], opened on first use (exit
//!    69 without af_key, 77 without privilege). Every request gets the client's sequence
//!    number and pid and waits for its own reply (setkey sends `seq 0` and takes whatever
//!    comes). `deleteall` dumps the SAs of its protocol and deletes each one between its two
//!    addresses (af_key's DELETE needs an SPI). `get`, `getspi`, `dump` and `spddump` print
//!    what the kernel answers as `setkey -D`/`-DP` do (keys hidden unless `--show-keys`;
//!    JSON lines with `--json`); everything else is silent on success. The statements of
//!    a longer script are parsed again, translated and encoded a batch ahead of their
//!    turn, on a second thread ([`prepare`]), so that this work overlaps with the
//!    kernel's.
//! 3. A statement the kernel refuses is reported with its file, line and source line, the
//!    client's words for the error, and what the parser already knew about it (e.g. the
//!    May-2023 kernel change for outbound optional tunnel rules). The first failure stops the
//!    run (earlier statements stay applied: PF_KEY has no transactions) unless
//!    `--keep-going`, which runs everything and ends with `N of M statements failed`. The exit
//!    status is that of the first failure (1 for a kernel refusal).
//!
//! Warnings of the parser never stop a script. In a run they are shown with `-v` only, or
//! next to the error of the statement they concern, so that a successful run prints nothing
//! (LTP's IPsec tests fail on any output); `pfkey check` and `-n` always show them.
//!
//! On a terminal, `pfkey -c` runs each statement as soon as its `;` is typed and goes on
//! after errors, like setkey's interactive use; from a pipe it reads everything first and
//! runs it as a script.

use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;
use std::sync::Arc;

use pfkey::client::{self, Client, FromMessage};
use pfkey::message::Message;
use pfkey::repr::MessageRepr;
use pfkey::transport::Transport;
use pfkey::wire::{MsgType, SaState, SaType};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::{CheckArgs, ScriptArgs};
use crate::exit::{Exit, Failure};
use crate::output::{json, time, Format, Output};
use crate::setkey::format::{self, SecretText, TextOptions};
use crate::setkey::lower::{delete_for_dump_entry, lowers_infallibly};
use crate::setkey::{
    self, Diagnostic, LowerOptions, Request, Resolver, Script, Severity, Span, SystemResolver,
};

/// The name diagnostics give standard input.
pub const STDIN_NAME: &str = "<stdin>";

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// `pfkey` without a command: `-f`, `-c` (with `-n`: check only), `-D`, `-F`.
pub fn run(args: &ScriptArgs, out: &mut Output) -> Result<(), Failure> {
    validate(args)?;
    let lower = LowerOptions {
        fwd_copy: !args.kernel_mode,
    };
    if args.dump || args.flush {
        return shortcut(args, out);
    }
    if args.monitor {
        let watch = crate::cli::tools::MonitorArgs {
            show_keys: args.show_keys,
        };
        return super::monitor::run(&watch, out);
    }
    let sources: Vec<Option<&Path>> = if args.stdin {
        vec![None]
    } else {
        args.files.iter().map(|f| source_path(f)).collect()
    };
    if args.check {
        return check_sources(&sources, out);
    }
    let mut exec = Executor::new(open_client(out, args.show_keys), exec_options(args, lower));
    if args.stdin && io::stdin().is_terminal() {
        return run_interactive(&mut exec, out);
    }
    let result = run_sources(&mut exec, &sources, out);
    exec.leave();
    result
}

/// `pfkey check FILE…`.
pub fn check(args: &CheckArgs, out: &mut Output) -> Result<(), Failure> {
    let sources: Vec<Option<&Path>> = if args.files.is_empty() {
        vec![None]
    } else {
        args.files.iter().map(|f| source_path(f)).collect()
    };
    check_sources(&sources, out)
}

/// The combinations clap cannot express, as usage errors.
fn validate(args: &ScriptArgs) -> Result<(), Failure> {
    let script = !args.files.is_empty() || args.stdin;
    let usage = |m: &str| Err(Failure::new(Exit::Usage, m));
    if args.check && !script {
        return usage("-n checks a script: give it with -f FILE or -c");
    }
    if args.policy && !(args.dump || args.flush) {
        return usage("-P goes with -D (dump the SPD) or -F (flush the SPD)");
    }
    if args.all && !args.dump {
        return usage("-a goes with -D (show dead SAs too)");
    }
    if !script && !args.dump && !args.flush && !args.monitor {
        return usage(
            "nothing to do: give a command (see --help), or -f FILE / -c to run a setkey script, \
             -D to dump, -F to flush, -x to watch",
        );
    }
    if args.keep_going && !script {
        return usage("--keep-going goes with a script (-f FILE or -c)");
    }
    Ok(())
}

/// `-` means standard input.
fn source_path(p: &Path) -> Option<&Path> {
    (p.as_os_str() != "-").then_some(p)
}

fn exec_options(args: &ScriptArgs, lower: LowerOptions) -> ExecOptions {
    ExecOptions {
        lower,
        keep_going: args.keep_going,
        show_keys: args.show_keys,
        show_dead: args.all,
        show_ports: args.ports,
    }
}

/// Opens the PF_KEY socket, with `-v` tracing of every message (keys only with
/// `--show-keys`).
pub fn open_client(out: &Output, show_keys: bool) -> Opener<pfkey::socket::PfKeySocket> {
    let verbose = out.verbose > 0 && !out.quiet;
    Box::new(move || {
        let mut c = Client::open()?;
        if verbose {
            c.set_tracer(Some(Box::new(move |dir, bytes| {
                trace(dir, bytes, show_keys);
            })));
        }
        Ok(c)
    })
}

/// `-v`: one decoded message on stderr (keys hidden).
fn trace(dir: client::Traffic, bytes: &[u8], show_keys: bool) {
    let arrow = match dir {
        client::Traffic::Sent => "sent",
        client::Traffic::Received => "received",
    };
    let text = match Message::parse(bytes) {
        Ok(m) => {
            let opts = if show_keys {
                pfkey::render::RenderOptions::with_keys()
            } else {
                pfkey::render::RenderOptions::default()
            };
            pfkey::render::render(&m, opts).to_string()
        }
        Err(e) => format!("{} bytes that do not parse: {e}", bytes.len()),
    };
    let _ = writeln!(io::stderr().lock(), "pfkey: {arrow}: {text}");
}

/// setkey's `-D`, `-DP`, `-F`, `-FP`: one request, errors as for any command.
fn shortcut(args: &ScriptArgs, out: &mut Output) -> Result<(), Failure> {
    let req = match (args.dump, args.policy) {
        (true, false) => header_only(MsgType::Dump),
        (true, true) => header_only(MsgType::XSpdDump),
        (false, false) => header_only(MsgType::Flush),
        (false, true) => header_only(MsgType::XSpdFlush),
    };
    let opts = exec_options(args, LowerOptions::default());
    let mut exec = Executor::new(open_client(out, args.show_keys), opts);
    match exec.execute(&Request::Send(req), out) {
        Ok(()) => Ok(()),
        Err(Step::Output(f)) => Err(f),
        Err(Step::Client(e)) => Err(Failure::from(e)),
    }
}

fn header_only(t: MsgType) -> MessageRepr {
    MessageRepr {
        header: pfkey::repr::Header::new(t, SaType::Unspec, 0, 0),
        extensions: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading scripts
// ---------------------------------------------------------------------------------------------

/// Script text, wiped when dropped (it holds keys).
pub type SecretBytes = Zeroizing<Vec<u8>>;

/// Reads everything from `r` without leaving copies of it in freed memory: the buffer grows
/// by moving into a new zeroizing allocation (a `Vec` reallocation would free the old bytes
/// unwiped), and reads of at least 64 KiB bypass standard input's own buffer. The expected
/// `size_hint` bytes (a file's size) are read straight into the allocation, never past it,
/// without filling it with zeros first (under emulation that fill cost 5% of checking a
/// long script).
pub fn read_secret(r: &mut impl Read, size_hint: usize) -> io::Result<SecretBytes> {
    const CHUNK: usize = 64 * 1024;
    let mut buf: SecretBytes = Zeroizing::new(Vec::with_capacity(size_hint.saturating_add(1)));
    let cap = buf.capacity();
    // `take` keeps read_to_end within the capacity, so the vector is never reallocated.
    r.take(cap as u64).read_to_end(&mut buf)?;
    if buf.len() < cap {
        return Ok(buf);
    }
    // More than expected (standard input, or a file that grew): in growing steps.
    loop {
        let room = buf.capacity() - buf.len();
        // Once the expected size is read, the byte of room left is enough to see the end:
        // no doubling (and clearing) of a buffer that is already full.
        if room == 0 || (room < CHUNK && buf.len() != size_hint) {
            let want = buf.capacity().saturating_mul(2).max(buf.len() + CHUNK);
            let mut bigger: SecretBytes = Zeroizing::new(Vec::with_capacity(want));
            bigger.extend_from_slice(&buf);
            buf = bigger;
        }
        let len = buf.len();
        let room = buf.capacity() - len;
        buf.resize(len + room, 0);
        match r.read(&mut buf[len..]) {
            Ok(0) => {
                buf.truncate(len);
                return Ok(buf);
            }
            Ok(n) => buf.truncate(len + n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(len),
            Err(e) => {
                buf.truncate(len);
                return Err(e);
            }
        }
    }
}

/// Reads a script file (`None`: standard input) and gives its name for diagnostics.
fn read_source(path: Option<&Path>) -> Result<(SecretBytes, String), Failure> {
    match path {
        None => {
            let bytes = read_secret(&mut io::stdin().lock(), 0)
                .map_err(|e| Failure::new(Exit::Io, format!("cannot read standard input: {e}")))?;
            Ok((bytes, STDIN_NAME.to_string()))
        }
        Some(p) => {
            let name = p.display().to_string();
            let mut f = std::fs::File::open(p)
                .map_err(|e| Failure::new(Exit::NoInput, format!("{name}: cannot open: {e}")))?;
            let hint = f
                .metadata()
                .map_or(0, |m| usize::try_from(m.len()).unwrap_or(0));
            let bytes = read_secret(&mut f, hint)
                .map_err(|e| Failure::new(Exit::Io, format!("{name}: cannot read: {e}")))?;
            Ok((bytes, name))
        }
    }
}

/// The script as text, without a copy, or where it stops being UTF-8.
fn into_text(mut bytes: SecretBytes, name: &str) -> Result<Zeroizing<String>, Failure> {
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            let bytes = Zeroizing::new(e.into_bytes());
            Err(as_text(&bytes, name).err().unwrap_or_else(|| {
                Failure::new(
                    Exit::DataError,
                    format!("{name}: the script is not UTF-8 text"),
                )
            }))
        }
    }
}

/// The script as text, or where it stops being UTF-8.
fn as_text<'a>(bytes: &'a [u8], name: &str) -> Result<&'a str, Failure> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let (line, col) =
            setkey::line_col(std::str::from_utf8(&bytes[..at]).unwrap_or_default(), at);
        Failure::new(
            Exit::DataError,
            format!(
                "{name}:{line}:{col}: the script is not UTF-8 text (byte {at}); setkey scripts \
                 are ASCII, with keys in hex (0x…) or as quoted text"
            ),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Compiling: parse and lower, before anything is sent
// ---------------------------------------------------------------------------------------------

/// A checked script, with the requests of the statements that were translated in
/// advance.
pub struct Compiled {
    /// The parsed script (diagnostics, source for later messages). It keeps no statement:
    /// the run parses them again, one at a time ([`Script::statements_again`]).
    pub script: Script,
    /// The requests of the statements that had to be translated before anything is sent
    /// (host names, policies, …): index among the script's statements, and requests, in
    /// order. Every other statement [`lowers_infallibly`] and is translated just before it
    /// is sent (see [`prepare`]).
    pub requests: Vec<(usize, Vec<Request>)>,
    /// Every statement, ready to send, when the script was short enough to be prepared
    /// while it was checked ([`prepare::Preparer`]); `requests` is then empty.
    prepared: Option<Vec<prepare::Batch>>,
}

impl Compiled {
    /// Errors in parsing or lowering.
    pub fn errors(&self) -> usize {
        self.script
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .count()
    }
}

/// Parses `source` and lowers every statement; lowering errors (host names that do not
/// resolve, …) join the diagnostics in source order.
pub fn compile(source: &str, name: &str, opts: &LowerOptions, r: &dyn Resolver) -> Compiled {
    compile_owned(
        Zeroizing::new(source.to_string()),
        name,
        opts,
        r,
        Keep::for_run(source),
    )
}

/// What compiling keeps of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// The diagnostics only (a check).
    Diagnostics,
    /// The requests of the statements that need the outside world to be translated; the
    /// others are parsed again when their turn comes ([`prepare::Helper`]).
    Requests,
    /// Every statement's messages, prepared as it is checked ([`prepare::Preparer`]).
    Prepared,
}

impl Keep {
    /// For a run of `source`: prepared at once when it is parsed in one piece.
    fn for_run(source: &str) -> Keep {
        if setkey::parser::parsed_in_one_piece(source) {
            Keep::Prepared
        } else {
            Keep::Requests
        }
    }
}

/// [`compile`] of a source the script takes over, keeping what `keep` says (a check needs
/// only the diagnostics: each statement's requests are dropped as soon as they are made).
/// A statement that [`lowers_infallibly`] is prepared at once or checked by the parser and
/// dropped; the others are lowered here, so that nothing is sent unless every one can be.
fn compile_owned(
    source: Zeroizing<String>,
    name: &str,
    opts: &LowerOptions,
    r: &dyn Resolver,
    keep: Keep,
) -> Compiled {
    let mut preparer = (keep == Keep::Prepared).then(|| prepare::Preparer::new(*opts));
    let mut script = match &mut preparer {
        Some(p) => {
            setkey::parse_owned_each(source, name, &mut |src, i, stmt| p.statement(src, i, stmt))
        }
        None => setkey::parse_owned(source, name, |s| !lowers_infallibly(s)),
    };
    let mut requests = Vec::new();
    let mut extra = Vec::new();
    for (i, &index) in script.indices.iter().enumerate() {
        match script.lower_statement(i, opts, r) {
            Some(Ok(reqs)) if keep != Keep::Diagnostics => match &mut preparer {
                Some(p) => p.fill(index, reqs),
                None => requests.push((index, reqs)),
            },
            Some(Ok(_)) | None => {}
            Some(Err(d)) => extra.push(d),
        }
    }
    // Not needed any more: the run parses every statement again.
    script.statements = Vec::new();
    if !extra.is_empty() {
        script.diagnostics.extend(extra);
        script
            .diagnostics
            .sort_by_key(|d| (d.span.start, d.severity));
    }
    Compiled {
        script,
        requests,
        prepared: preparer.map(prepare::Preparer::finish),
    }
}

/// A diagnostic as JSON (`pfkey check --json`).
#[derive(Serialize)]
struct DiagnosticJson<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    /// Characters the caret underlines.
    width: usize,
    severity: &'static str,
    message: &'a str,
}

/// Writes diagnostics: text blocks on stderr, or JSON lines on stdout.
fn show_diagnostics<'a>(
    out: &mut Output,
    diags: impl IntoIterator<Item = &'a Diagnostic>,
    warnings: bool,
) -> Result<(), Failure> {
    for d in diags {
        if !d.is_error() && (!warnings || out.quiet) {
            continue;
        }
        if out.format == Format::Json {
            let j = DiagnosticJson {
                file: &d.file,
                line: d.line,
                column: d.column,
                width: d.width,
                severity: if d.is_error() { "error" } else { "warning" },
                message: &d.message,
            };
            json::line(out.stdout(), &j).map_err(Failure::stdout)?;
        } else {
            eprint_block(out, &d.to_string());
        }
    }
    Ok(())
}

/// A multi-line block on stderr, after whatever stdout holds.
fn eprint_block(out: &mut Output, text: &str) {
    let _ = out.flush();
    let _ = writeln!(io::stderr().lock(), "{text}");
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Check-only mode: every file, every diagnostic; no socket.
fn check_sources(sources: &[Option<&Path>], out: &mut Output) -> Result<(), Failure> {
    let mut failure: Option<Exit> = None;
    for src in sources {
        let (bytes, name) = match read_source(*src) {
            Ok(x) => x,
            Err(Failure::Error { exit, message }) => {
                out.error(&message);
                failure.get_or_insert(exit);
                continue;
            }
            Err(f) => return Err(f),
        };
        let text = match into_text(bytes, &name) {
            Ok(t) => t,
            Err(Failure::Error { exit, message }) => {
                out.error(&message);
                failure.get_or_insert(exit);
                continue;
            }
            Err(f) => return Err(f),
        };
        let c = compile_owned(
            text,
            &name,
            &LowerOptions::default(),
            &SystemResolver,
            Keep::Diagnostics,
        );
        show_diagnostics(out, &c.script.diagnostics, true)?;
        let errors = c.errors();
        if errors > 0 {
            if out.format != Format::Json {
                out.error(&format!("{name}: {}", plural(errors, "error", "errors")));
            }
            failure.get_or_insert(Exit::DataError);
        }
    }
    match failure {
        None => Ok(()),
        Some(exit) => Err(Failure::Reported(exit)),
    }
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

/// Compiles every source, then runs them in order.
fn run_sources<T: Transport>(
    exec: &mut Executor<T>,
    sources: &[Option<&Path>],
    out: &mut Output,
) -> Result<(), Failure> {
    let mut compiled = Vec::with_capacity(sources.len());
    let mut errors = 0;
    for src in sources {
        let (bytes, name) = read_source(*src)?;
        let text = into_text(bytes, &name)?;
        crate::timeline::mark("read");
        let keep = Keep::for_run(&text);
        let c = compile_owned(text, &name, &exec.opts.lower, &SystemResolver, keep);
        errors += c.errors();
        crate::timeline::mark("checked");
        compiled.push(c);
    }
    if errors > 0 {
        for c in &compiled {
            show_diagnostics(out, &c.script.diagnostics, true)?;
        }
        out.error(&format!(
            "{}: nothing was sent to the kernel",
            plural(errors, "error", "errors")
        ));
        return Err(Failure::Reported(Exit::DataError));
    }
    if out.verbose > 0 {
        for c in &compiled {
            show_diagnostics(out, &c.script.diagnostics, true)?;
        }
    }
    let files = compiled.len();
    for (i, c) in compiled.into_iter().enumerate() {
        if i + 1 == files {
            exec.no_more_scripts();
        }
        if exec.run_script(c, out)? == Flow::Stop {
            let rest = files - i - 1;
            if rest > 0 {
                out.error(&format!(
                    "{} after {} not run",
                    plural(rest, "file", "files"),
                    if rest == 1 { "it was" } else { "it were" }
                ));
            }
            break;
        }
    }
    exec.finish(out)
}

/// `pfkey -c` on a terminal: each statement runs once its `;` has been typed.
fn run_interactive<T: Transport>(exec: &mut Executor<T>, out: &mut Output) -> Result<(), Failure> {
    // Interactive use goes on after errors, as setkey -c does.
    exec.opts.keep_going = true;
    let mut stdin = io::stdin().lock();
    let mut pending: SecretBytes = Zeroizing::new(Vec::with_capacity(4096));
    let mut lines_before = 0usize;
    let mut chunk = Zeroizing::new(vec![0u8; 64 * 1024]);
    loop {
        let n = match stdin.read(&mut chunk[..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::new(
                    Exit::Io,
                    format!("cannot read standard input: {e}"),
                ))
            }
        };
        let eof = n == 0;
        if pending.capacity() - pending.len() < n {
            let mut bigger: SecretBytes =
                Zeroizing::new(Vec::with_capacity((pending.len() + n).saturating_mul(2)));
            bigger.extend_from_slice(&pending);
            pending = bigger;
        }
        pending.extend_from_slice(&chunk[..n]);
        let ready = eof || statement_complete(&pending);
        if ready && !pending.iter().all(u8::is_ascii_whitespace) {
            let lines = pending.iter().filter(|&&b| b == b'\n').count();
            // Earlier lines as blank lines, so that diagnostics give the line typed.
            let mut src: SecretBytes =
                Zeroizing::new(Vec::with_capacity(lines_before + pending.len()));
            src.resize(lines_before, b'\n');
            src.extend_from_slice(&pending);
            let flow = match as_text(&src, STDIN_NAME) {
                Err(Failure::Error { message, .. }) => {
                    out.error(&message);
                    exec.run += 1;
                    exec.count_failure(Exit::DataError);
                    Flow::Continue
                }
                Err(f) => return Err(f),
                Ok(text) => {
                    let c = compile(text, STDIN_NAME, &exec.opts.lower, &SystemResolver);
                    if c.errors() > 0 {
                        show_diagnostics(out, &c.script.diagnostics, true)?;
                        // Each error is a statement refused.
                        for _ in 0..c.errors() {
                            exec.run += 1;
                            exec.count_failure(Exit::DataError);
                        }
                        Flow::Continue
                    } else {
                        if out.verbose > 0 {
                            show_diagnostics(out, &c.script.diagnostics, true)?;
                        }
                        exec.run_script(c, out)?
                    }
                }
            };
            lines_before += lines;
            pending.clear();
            if flow != Flow::Continue {
                break;
            }
        } else if ready {
            lines_before += pending.iter().filter(|&&b| b == b'\n').count();
            pending.clear();
        }
        if eof {
            break;
        }
    }
    exec.finish(out)
}

/// Whether typed text ends with a complete statement: a whole line whose last token is `;`
/// (a `;` inside an unfinished quoted string does not count).
fn statement_complete(text: &[u8]) -> bool {
    if text.last() != Some(&b'\n') {
        return false;
    }
    let Ok(s) = std::str::from_utf8(text) else {
        // Not text: let the parser say so.
        return true;
    };
    let (tokens, _) = setkey::lexer::tokenize(s);
    tokens
        .last()
        .is_some_and(|t| t.kind == setkey::lexer::TokenKind::Semi)
}

// ---------------------------------------------------------------------------------------------
// The executor
// ---------------------------------------------------------------------------------------------

/// Opens the client on first use.
pub type Opener<T> = Box<dyn FnMut() -> Result<Client<T>, client::Error>>;

/// How statements run.
#[derive(Debug, Clone, Copy)]
pub struct ExecOptions {
    /// Translation options (RFC mode).
    pub lower: LowerOptions,
    /// Go on after a failed statement.
    pub keep_going: bool,
    /// Print keys in `get`/`dump` output.
    pub show_keys: bool,
    /// Show dead SAs in `dump` output (setkey -a).
    pub show_dead: bool,
    /// Show the ports of SA addresses (setkey -p).
    pub show_ports: bool,
}

/// What comes after a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The next script.
    Continue,
    /// `exit` ended this script (setkey ignores the rest of the file); the next one runs.
    Exit,
    /// A failure without `--keep-going`: nothing more runs.
    Stop,
}

/// Why a prepared statement did not run to its end.
enum Failed {
    /// It has no requests (cannot happen: see `lowers_infallibly`).
    Untranslated,
    /// One of its requests failed.
    Step {
        /// How.
        err: Step,
        /// The request was the automatic fwd copy of an `in` policy.
        fwd_copy: bool,
    },
}

/// Why one request failed.
pub enum Step {
    /// The client (kernel refusal, timeout, no socket, …).
    Client(client::Error),
    /// Writing the output (broken pipe and other I/O errors): ends the run.
    Output(Failure),
}

impl From<client::Error> for Step {
    fn from(e: client::Error) -> Self {
        Step::Client(e)
    }
}

/// Runs statements through a [`Client`] and keeps count.
pub struct Executor<T: Transport> {
    open: Opener<T>,
    client: Option<Client<T>>,
    /// The next script is the last: the helper may end once it has prepared it.
    closing: bool,
    /// How statements run.
    pub opts: ExecOptions,
    /// Statements run (successful or not).
    pub run: usize,
    /// Statements that failed.
    pub failed: usize,
    /// The exit status of the first failure.
    pub first_failure: Option<Exit>,
    /// Statements not run because of a failure.
    pub skipped: usize,
    /// The thread that prepares statements ahead of their turn, once started.
    helper: Option<prepare::Helper>,
    /// What finished scripts leave behind, wiped, for the process's exit to free.
    retired: Retired,
}

/// The memory of scripts that have run, emptied and wiped (text, encoded messages), kept
/// instead of freed: at the end of `pfkey -f` the process exits without freeing it
/// ([`Executor::leave`]), and the system takes it back in one piece. Freeing it
/// piecemeal (a few hundred KiB: the text, a batch's arena and lists) cost 1.5–1.9 ms of
/// 1,000 adds under emulation (FINDINGS, session 7). At most [`RETIRED_MAX`] of each;
/// scripts shorter than [`RETIRED_MIN_BYTES`] are freed at once (an interactive session
/// keeps nothing).
#[derive(Default)]
struct Retired {
    scripts: Vec<Script>,
    batches: Vec<prepare::Batch>,
}

impl Retired {
    /// Keeps a script that has run, its text wiped, if it is long and there is room.
    fn script(&mut self, mut script: Script) {
        if script.source().len() >= RETIRED_MIN_BYTES && self.scripts.len() < RETIRED_MAX {
            script.wipe_source();
            self.scripts.push(script);
        }
    }

    /// Keeps a sent batch, emptied and wiped, if there is room (else it is dropped, which
    /// wipes it too).
    fn batch(&mut self, batch: prepare::Batch) {
        if self.batches.len() < RETIRED_MAX {
            self.batches.push(batch.emptied());
        }
    }
}

/// At most this many scripts, and batches, are kept.
const RETIRED_MAX: usize = 4;

/// Scripts shorter than this are freed when they have run.
const RETIRED_MIN_BYTES: usize = 64 * 1024;

/// A received message kept as bytes (dump entries, to print or to match), wiped on drop.
struct Raw(SecretBytes);

impl FromMessage for Raw {
    fn from_message(m: &Message<'_>) -> Result<Self, pfkey::wire::ExtType> {
        Ok(Raw(Zeroizing::new(m.as_bytes().to_vec())))
    }
}

impl<T: Transport> Executor<T> {
    /// An executor that opens its client with `open` when the first request is due.
    pub fn new(open: Opener<T>, opts: ExecOptions) -> Self {
        Executor {
            open,
            client: None,
            closing: false,
            opts,
            run: 0,
            failed: 0,
            first_failure: None,
            skipped: 0,
            helper: None,
            retired: Retired::default(),
        }
    }

    fn client(&mut self) -> Result<&mut Client<T>, client::Error> {
        let open = &mut self.open;
        match &mut self.client {
            Some(c) => Ok(c),
            slot @ None => Ok(slot.insert(open()?)),
        }
    }

    fn count_failure(&mut self, exit: Exit) {
        self.failed += 1;
        self.first_failure.get_or_insert(exit);
    }

    /// Runs every statement of a compiled (error-free) script. Its statements are parsed
    /// again, translated and encoded a batch ahead, and dropped (wiping their keys) as soon
    /// as they are: on a second thread for a long script (see [`prepare`]).
    pub fn run_script(&mut self, c: Compiled, out: &mut Output) -> Result<Flow, Failure> {
        let opts = self.opts.lower;
        let Compiled {
            script,
            requests,
            prepared,
        } = c;
        let total = script.count;
        if let Some(batches) = prepared {
            crate::timeline::mark("socket");
            let flow = self.run_batches(&script, total, batches.into_iter(), out);
            self.retired.script(script);
            return flow;
        }
        let script = Arc::new(script);
        if total >= prepare::PIPELINE_MIN {
            self.start_helper();
        }
        let closing = self.closing;
        let kept = match &mut self.helper {
            Some(h) => match h.prepare(Arc::clone(&script), requests, opts) {
                Ok(batches) => {
                    if closing {
                        h.close();
                    }
                    // The helper is parsing the first batch: open the socket meanwhile
                    // (an error is met again, and reported, at the first request).
                    let _ = self.client();
                    crate::timeline::mark("socket");
                    let flow = self.run_batches(&script, total, batches.into_iter(), out);
                    if let Ok(script) = Arc::try_unwrap(script) {
                        self.retired.script(script);
                    }
                    return flow;
                }
                Err(kept) => kept,
            },
            None => requests,
        };
        let batches = prepare::script_batches(&script, kept, opts, None);
        self.run_batches(&script, total, batches, out)
    }

    /// The process is about to exit: the memory of the scripts that ran goes back to the
    /// system with it, not piece by piece (see [`Retired`]; it is wiped already). The rest
    /// (the client, the helper) ends as usual.
    pub fn leave(mut self) {
        std::mem::forget(std::mem::take(&mut self.retired));
    }

    /// No script will come after the next one.
    fn no_more_scripts(&mut self) {
        self.closing = true;
    }

    /// Starts the thread that prepares statements ahead of their turn (if it is not
    /// running): a script runs with it if it was started or if the script is long.
    fn start_helper(&mut self) {
        if self.helper.is_none() {
            self.helper = prepare::Helper::spawn();
        }
    }

    /// Runs the prepared statements of `script` (its `total` statements taken out).
    fn run_batches(
        &mut self,
        script: &Script,
        total: usize,
        batches: impl Iterator<Item = prepare::Batch>,
        out: &mut Output,
    ) -> Result<Flow, Failure> {
        let mut seen = 0;
        for batch in batches {
            if seen == 0 {
                crate::timeline::mark("first-batch");
            }
            let prepare::Batch {
                mut arena,
                statements,
                steps,
            } = batch;
            for p in &statements {
                seen += 1;
                if p.exit {
                    return Ok(Flow::Exit);
                }
                self.run += 1;
                if let Err(failed) = self.run_statement(&mut arena, &steps, p, out) {
                    if let Some(flow) = self.statement_failed(script, p, failed, total, out)? {
                        return Ok(flow);
                    }
                }
            }
            match &self.helper {
                Some(h) => h.recycle(arena),
                None => self.retired.batch(prepare::Batch {
                    arena,
                    statements,
                    steps,
                }),
            }
        }
        crate::timeline::mark("sent");
        if seen < total {
            // The preparer stopped early (it cannot, short of a bug): never a silent
            // skip.
            out.error(&format!(
                "{}: internal error: {} statements were not prepared and not run",
                script.file,
                total - seen
            ));
            self.count_failure(Exit::Internal);
            self.skipped += total - seen;
            return Ok(Flow::Stop);
        }
        Ok(Flow::Continue)
    }

    /// Runs the requests of one prepared statement, in order, up to the first that fails.
    /// (The path every statement takes; what a failure does is in
    /// [`Executor::statement_failed`], kept out of it.)
    fn run_statement(
        &mut self,
        arena: &mut prepare::Arena,
        steps: &[prepare::Prep],
        p: &prepare::Prepared,
        out: &mut Output,
    ) -> Result<(), Failed> {
        let Some(steps) = p.steps.clone().and_then(|r| steps.get(r)) else {
            return Err(Failed::Untranslated);
        };
        for step in steps {
            let done = match &step.what {
                // Sent from the arena as it is (no copy); the arena is wiped once the
                // batch is sent (given back to the helper) or dropped.
                prepare::What::Built { at, op } => self
                    .client()
                    .and_then(|cl| cl.request_built_in_place(arena.get_mut(at.clone()), op))
                    .map_err(Step::Client),
                prepare::What::Request(req) => self.execute(req, out),
            };
            done.map_err(|step_err| Failed::Step {
                err: step_err,
                fwd_copy: step.fwd_copy,
            })?;
        }
        Ok(())
    }

    /// A statement failed: reports it and counts it; with a fatal error, or unless
    /// `--keep-going`, says what is not run and ends the script (`Some`).
    #[cold]
    fn statement_failed(
        &mut self,
        script: &Script,
        p: &prepare::Prepared,
        failed: Failed,
        total: usize,
        out: &mut Output,
    ) -> Result<Option<Flow>, Failure> {
        let i = p.index;
        match failed {
            Failed::Untranslated => {
                // Unreachable (see `lowers_infallibly`), but never a panic.
                out.error(&format!(
                    "{}: statement {} could not be translated; it was not run",
                    script.file,
                    i + 1
                ));
                self.count_failure(Exit::Internal);
                return Ok(None);
            }
            Failed::Step {
                err: Step::Output(f),
                ..
            } => return Err(f),
            Failed::Step {
                err: Step::Client(e),
                fwd_copy,
            } => {
                let fatal = matches!(
                    e,
                    client::Error::NoPfKey
                        | client::Error::PermissionDenied { .. }
                        | client::Error::Open { .. }
                );
                if fatal {
                    // Nothing can run: no statement-level report.
                    return Err(Failure::from(e));
                }
                self.report(script, p.span, &e, fwd_copy, out);
                let exit = match Failure::from(e) {
                    Failure::Error { exit, .. } | Failure::Reported(exit) => exit,
                    Failure::BrokenPipe => Exit::Io,
                };
                self.count_failure(exit);
            }
        }
        if self.opts.keep_going {
            return Ok(None);
        }
        let rest = total - i - 1;
        self.skipped += rest;
        if rest > 0 {
            let line = script
                .diagnostic(Severity::Error, p.span, String::new())
                .line;
            out.error(&format!(
                "stopped at {}:{line}: {} after it {} not run, those before it stay in effect \
                 (--keep-going runs past failures)",
                script.file,
                plural(rest, "statement", "statements"),
                if rest == 1 { "was" } else { "were" }
            ));
        }
        Ok(Some(Flow::Stop))
    }

    /// The end of a run: the summary, and the exit status.
    pub fn finish(&mut self, out: &mut Output) -> Result<(), Failure> {
        match self.first_failure {
            None => Ok(()),
            Some(exit) => {
                if self.opts.keep_going {
                    out.error(&format!(
                        "{} of {} failed",
                        self.failed,
                        plural(self.run, "statement", "statements")
                    ));
                }
                Err(Failure::Reported(exit))
            }
        }
    }

    /// Reports a refused statement: where, the error, and what the parser knew.
    fn report(
        &self,
        script: &Script,
        span: Span,
        e: &client::Error,
        fwd_copy: bool,
        out: &mut Output,
    ) {
        let mut text = statement_error(script, span, &e.to_string());
        for d in &script.diagnostics {
            if !d.is_error() && span.start <= d.span.start && d.span.end <= span.end {
                text.push('\n');
                text.push_str(&d.to_string());
            }
        }
        if fwd_copy {
            text.push_str(
                "\nnote: this was the automatic fwd copy of the in policy (setkey's RFC mode); \
                 -k sends in policies without it",
            );
            if e.is_kernel_errno(libc::EEXIST) {
                text.push_str(
                    " (a fwd policy with this selector already exists: if the script writes \
                     its fwd policies itself, run it with -k)",
                );
            }
        }
        eprint_block(out, &text);
    }

    /// Sends one request and handles its reply.
    pub fn execute(&mut self, req: &Request, out: &mut Output) -> Result<(), Step> {
        match req {
            Request::DeleteAll { satype, src, dst } => {
                let (satype, src, dst) = (*satype, *src, *dst);
                let mut deletes: Vec<MessageRepr> = Vec::new();
                {
                    let dump = self.client()?.dump_as::<Raw>(MsgType::Dump, satype, None)?;
                    for entry in dump {
                        let raw = entry?;
                        if let Ok(m) = Message::parse(&raw.0) {
                            deletes.extend(delete_for_dump_entry(&m, satype, src, dst));
                        }
                    }
                }
                for d in &deletes {
                    match self.client()?.request_raw_as::<()>(d) {
                        Ok(()) => {}
                        // Gone meanwhile (expired): what deleteall wants.
                        Err(e) if e.is_kernel_errno(libc::ESRCH) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(())
            }
            Request::Send(msg) => {
                let t = msg.header.msg_type;
                let satype = msg.header.satype;
                match t {
                    MsgType::Flush => Ok(self.client()?.flush(satype)?),
                    MsgType::XSpdFlush => Ok(self.client()?.spd_flush()?),
                    MsgType::Dump | MsgType::XSpdDump => self.dump(t, satype, out),
                    MsgType::Get | MsgType::GetSpi => {
                        let reply = self.client()?.request_raw(msg)?;
                        self.print_repr(&reply, out).map_err(Step::Output)
                    }
                    // Success is all a script needs of the rest (the reply to an ADD
                    // repeats its keys): nothing of it is kept.
                    _ => Ok(self.client()?.request_raw_as::<()>(msg)?),
                }
            }
        }
    }

    /// `dump` / `spddump`: every entry as setkey prints it.
    fn dump(&mut self, t: MsgType, satype: SaType, out: &mut Output) -> Result<(), Step> {
        let opts = self.opts;
        let now = time::now();
        let mut count = 0usize;
        let dump = self.client()?.dump_as::<Raw>(t, satype, None)?;
        for entry in dump {
            let raw = entry?;
            let Ok(m) = Message::parse(&raw.0) else {
                continue;
            };
            if t == MsgType::Dump
                && !opts.show_dead
                && m.sa()
                    .is_some_and(|s| SaState::from_value(s.state) == SaState::Dead)
            {
                continue;
            }
            count += 1;
            print_message(&m, &opts, now, out).map_err(Step::Output)?;
        }
        if count == 0 && out.format == Format::Text {
            // setkey's words for an empty table.
            let words = if t == MsgType::Dump {
                "No SAD entries.\n"
            } else {
                "No SPD entries.\n"
            };
            out.stdout()
                .write_all(words.as_bytes())
                .map_err(|e| Step::Output(Failure::stdout(e)))?;
        }
        Ok(())
    }

    fn print_repr(&self, reply: &MessageRepr, out: &mut Output) -> Result<(), Failure> {
        let bytes = emit_secret(reply)
            .map_err(|e| Failure::new(Exit::Internal, format!("cannot re-encode a reply: {e}")))?;
        let m = Message::parse(&bytes)
            .map_err(|e| Failure::new(Exit::Internal, format!("cannot re-read a reply: {e}")))?;
        print_message(&m, &self.opts, time::now(), out)
    }
}

/// How many lines of a failed statement are shown.
const SHOWN_LINES: usize = 8;

/// `FILE:LINE:COL: message` and the statement's lines (keys masked), like a compiler's
/// diagnostic without a caret: the whole statement is what the kernel refused.
fn statement_error(script: &Script, span: setkey::Span, message: &str) -> String {
    let head = script.diagnostic(Severity::Error, span, String::new());
    let mut text = format!("{}:{}:{}: {message}", head.file, head.line, head.column);
    let lines = script.masked_lines(span);
    let width = lines.last().map_or(1, |(n, _)| n.to_string().len());
    for (n, line) in lines.iter().take(SHOWN_LINES) {
        text.push_str(&format!("\n {n:>width$} | {line}"));
    }
    if lines.len() > SHOWN_LINES {
        let more = lines.len() - SHOWN_LINES;
        text.push_str(&format!(
            "\n {:>width$} | … ({})",
            "",
            plural(more, "more line", "more lines")
        ));
    }
    text
}

/// A request in direction `dir` after one in direction `prev` is the `fwd` copy that
/// lowering put after an `in` policy.
fn follows_in_as_fwd(
    prev: Option<pfkey::wire::Direction>,
    dir: Option<pfkey::wire::Direction>,
) -> bool {
    prev == Some(pfkey::wire::Direction::In) && dir == Some(pfkey::wire::Direction::Fwd)
}

/// The direction of a policy request.
fn policy_dir(r: &Request) -> Option<pfkey::wire::Direction> {
    match r {
        Request::Send(m) => m.extensions.iter().find_map(|e| match e {
            pfkey::repr::Extension::Policy(p) => Some(p.dir),
            _ => None,
        }),
        Request::DeleteAll { .. } => None,
    }
}

/// A message re-encoded into a buffer that is wiped when dropped.
fn emit_secret(m: &MessageRepr) -> Result<SecretBytes, pfkey::BuildError> {
    let mut size = 4096;
    loop {
        let mut buf: SecretBytes = Zeroizing::new(vec![0u8; size]);
        match m.emit(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(pfkey::BuildError::BufferTooSmall { .. })
                if size < pfkey::wire::MAX_MESSAGE_LEN =>
            {
                size = pfkey::wire::MAX_MESSAGE_LEN;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One SA or policy from the kernel, as `setkey -D`/`-DP` print it, or as JSON.
fn print_message(
    m: &Message<'_>,
    opts: &ExecOptions,
    now: u64,
    out: &mut Output,
) -> Result<(), Failure> {
    if out.format == Format::Json {
        return json::line(out.stdout(), &json::message(m, opts.show_keys))
            .map_err(Failure::stdout);
    }
    let o = TextOptions {
        now,
        utc_offset: &time::utc_offset,
        show_ports: opts.show_ports,
    };
    if m.policy().is_some() {
        let text = format::policy_text(m, &o);
        return out
            .stdout()
            .write_all(text.as_bytes())
            .map_err(Failure::stdout);
    }
    let text = format::sa_text(m, &o);
    let text = if opts.show_keys {
        text
    } else {
        hide_keys(&text)
    };
    out.stdout()
        .write_all(text.as_bytes())
        .map_err(Failure::stdout)
}

/// `setkey -D` text with the key hex of its `E:` and `A:` lines replaced by
/// `<redacted, N bits>` (the library's rendering of a hidden key).
pub fn hide_keys(text: &str) -> SecretText {
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut in_key: Option<usize> = None;
    let finish = |out: &mut String, digits: usize| {
        if digits == 0 {
            // No key (the null algorithm): nothing to hide.
            out.push('\n');
        } else {
            out.push_str(&format!(" <redacted, {} bits>\n", digits * 4));
        }
    };
    for line in text.split_inclusive('\n') {
        if let Some(digits) = in_key {
            // setkey wraps long keys onto lines that start with the group's space.
            if line.starts_with(' ') {
                in_key = Some(digits + line.bytes().filter(u8::is_ascii_hexdigit).count());
                continue;
            }
            finish(&mut out, digits);
            in_key = None;
        }
        let key_line = line
            .strip_prefix("\tE: ")
            .or_else(|| line.strip_prefix("\tA: "));
        match key_line {
            Some(rest) => {
                // "\tE: NAME  hhhhhhhh hhhhhhhh…"
                let name = rest.split(' ').next().unwrap_or_default();
                out.push_str(&line[..4]);
                out.push_str(name);
                out.push(' ');
                let hex = &rest[name.len()..];
                in_key = Some(hex.bytes().filter(u8::is_ascii_hexdigit).count());
            }
            None => out.push_str(line),
        }
    }
    if let Some(digits) = in_key {
        finish(&mut out, digits);
    }
    out
}

mod prepare;

#[cfg(test)]
mod tests;
