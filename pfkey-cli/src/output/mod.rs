//! Where and how results are written: one module per output format ([`text`],
//! [`json`]), and [`Output`], which every command writes through.
//!
//! Rules every command follows: results go to standard output, diagnostics
//! (warnings, notes, errors) to standard error; `--quiet` silences warnings and
//! notes, never errors; `-v` adds notes.

pub mod json;
pub mod sa;
pub mod spd;
pub mod text;
pub mod time;

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{compiler_fence, Ordering};

use zeroize::Zeroize;

use crate::cli::Cli;

/// The output format chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// JSON (JSON.md).
    Json,
}

/// Standard output (buffered) plus the user's choices about what to print.
pub struct Output {
    stdout: WipingWriter<RawStdout>,
    /// Text or JSON.
    pub format: Format,
    /// `-v` count.
    pub verbose: u8,
    /// `--quiet`.
    pub quiet: bool,
}

impl Output {
    /// Output as the global flags ask.
    pub fn new(cli: &Cli) -> Self {
        Output {
            stdout: WipingWriter::new(RawStdout, cli.may_print_keys()),
            format: if cli.json { Format::Json } else { Format::Text },
            verbose: cli.verbose,
            quiet: cli.quiet,
        }
    }

    /// The results stream.
    pub fn stdout(&mut self) -> &mut impl Write {
        &mut self.stdout
    }

    /// A diagnostic that is not an error: `pfkey: warning: …` on stderr, unless `--quiet`.
    pub fn warn(&mut self, message: &str) {
        if !self.quiet {
            // Keep the order of stdout and stderr lines when both go to a terminal.
            let _ = self.stdout.flush();
            let _ = writeln!(io::stderr().lock(), "pfkey: warning: {message}");
        }
    }

    /// A note shown with `-v` (at least `level` of them), unless `--quiet`.
    pub fn note(&mut self, level: u8, message: &str) {
        if self.verbose >= level && !self.quiet {
            let _ = self.stdout.flush();
            let _ = writeln!(io::stderr().lock(), "pfkey: {message}");
        }
    }

    /// An error that does not stop the command (it still decides the exit code):
    /// `pfkey: …` on stderr, always.
    pub fn error(&mut self, message: &str) {
        let _ = self.stdout.flush();
        crate::exit::report(message);
    }

    /// Writes out whatever is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.stdout.flush()
    }
}

/// Bytes of output gathered before they are written.
const BUFFER: usize = 8 * 1024;

/// A buffered writer that can wipe its buffer after every write-out and when dropped:
/// with `--show-keys` the output holds keys, and a `BufWriter` (or the standard library's
/// own stdout buffer) would leave them in memory after they were printed.
pub struct WipingWriter<W: Write> {
    inner: W,
    /// Always [`BUFFER`] bytes; `buf[used..]` is zero when `wipe` is set.
    buf: Vec<u8>,
    used: usize,
    /// Wipe after each write-out (the output may hold keys).
    wipe: bool,
}

impl<W: Write> WipingWriter<W> {
    /// A writer to `inner` with a buffer of [`BUFFER`] bytes, wiped after each write-out
    /// if `wipe`. (Wiping costs a memset per 8 KiB, which is slow under emulation, where
    /// `rep stosb` runs a byte at a time: it is done only when keys may be printed.)
    pub fn new(inner: W, wipe: bool) -> Self {
        WipingWriter {
            inner,
            buf: vec![0; BUFFER],
            used: 0,
            wipe,
        }
    }

    /// Writes out the buffer, then wipes it if asked (also when the write fails).
    fn write_out(&mut self) -> io::Result<()> {
        let used = &mut self.buf[..self.used];
        let r = self.inner.write_all(used);
        if self.wipe {
            // A plain fill (one memset), not Zeroize's byte-at-a-time volatile stores,
            // which cost ~60 us per 8 KiB under emulation. The buffer stays allocated and
            // is written again, so the stores cannot be dropped as dead; the fence keeps
            // them before its next use. Dropping wipes with Zeroize (on the slice: a fill
            // behind an optimization barrier, not `Vec`'s element-by-element zeroize).
            used.fill(0);
            compiler_fence(Ordering::SeqCst);
        }
        self.used = 0;
        r
    }
}

impl<W: Write> WipingWriter<W> {
    /// Appends `data` if it fits in the buffer (the output writers make many small writes:
    /// this is their whole path, inlined).
    #[inline]
    fn append(&mut self, data: &[u8]) -> bool {
        let end = self.used + data.len();
        match self.buf.get_mut(self.used..end) {
            Some(room) => {
                room.copy_from_slice(data);
                self.used = end;
                true
            }
            None => false,
        }
    }

    /// `data` does not fit: write out what is buffered, then buffer `data` or, if it
    /// is larger than the buffer, write it as it is from the caller's memory.
    #[cold]
    fn write_slow(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_out()?;
        if self.append(data) {
            Ok(data.len())
        } else {
            self.inner.write(data)
        }
    }
}

impl<W: Write> Write for WipingWriter<W> {
    #[inline]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.append(data) {
            return Ok(data.len());
        }
        self.write_slow(data)
    }

    #[inline]
    fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        if self.append(data) {
            return Ok(());
        }
        while !data.is_empty() {
            match self.write_slow(data) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => data = data.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_out()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for WipingWriter<W> {
    fn drop(&mut self) {
        let _ = self.inner.write_all(&self.buf[..self.used]);
        if self.wipe {
            self.buf[..].zeroize();
        }
    }
}

/// File descriptor 1 without the standard library's buffer (which nothing wipes):
/// `write(2)` straight from [`WipingWriter`]'s buffer.
pub struct RawStdout;

impl Write for RawStdout {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        loop {
            match nix::unistd::write(io::stdout().as_fd(), data) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => return r.map_err(io::Error::from),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_is_wiped_after_every_write_out() {
        let mut w = WipingWriter::new(Vec::new(), true);
        w.write_all(b"key 0x1122").unwrap();
        assert_eq!(&w.buf[..10], b"key 0x1122");
        w.flush().unwrap();
        assert!(w.buf.iter().all(|&b| b == 0));
        // Filling the buffer writes it out; the output is whole and in order.
        let line = [b'x'; 1000];
        for _ in 0..20 {
            w.write_all(&line).unwrap();
        }
        assert!(w.buf[w.used..].iter().all(|&b| b == 0));
        let big = vec![b'y'; 3 * BUFFER];
        w.write_all(&big).unwrap();
        w.flush().unwrap();
        assert!(w.buf.iter().all(|&b| b == 0));
        let mut want = b"key 0x1122".to_vec();
        for _ in 0..20 {
            want.extend_from_slice(&line);
        }
        want.extend_from_slice(&big);
        assert_eq!(w.inner, want);

        // Without keys in the output, the same bytes come out and nothing is wiped.
        let mut w = WipingWriter::new(Vec::new(), false);
        w.write_all(b"no keys").unwrap();
        w.flush().unwrap();
        assert_eq!(w.inner, b"no keys");
        assert_eq!(&w.buf[..7], b"no keys");
    }

    #[test]
    fn output_is_wiped_when_keys_may_be_shown() {
        use clap::Parser;
        let wipes = |args: &[&str]| crate::cli::Cli::parse_from(args).may_print_keys();
        assert!(!wipes(&["pfkey", "dump"]));
        assert!(!wipes(&["pfkey", "dump", "--json"]));
        assert!(wipes(&["pfkey", "dump", "--show-keys"]));
        assert!(!wipes(&["pfkey", "-f", "x.conf"]));
        assert!(wipes(&["pfkey", "-D", "--show-keys"]));
        assert!(!wipes(&["pfkey", "monitor"]));
        assert!(wipes(&["pfkey", "monitor", "--show-keys"]));
        assert!(wipes(&["pfkey", "decode", "--show-keys", "x.hex"]));
        // Commands without bulk output are wiped to be safe.
        assert!(wipes(&["pfkey", "algorithms"]));
    }
}
