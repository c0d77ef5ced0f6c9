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
            stdout: WipingWriter::new(RawStdout),
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

/// A buffered writer that wipes its buffer after every write-out and when dropped: with
/// `--show-keys` the output holds keys, and a `BufWriter` (or the standard library's own
/// stdout buffer) would leave them in memory after they were printed.
pub struct WipingWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> WipingWriter<W> {
    /// A writer to `inner` with a buffer of [`BUFFER`] bytes.
    pub fn new(inner: W) -> Self {
        WipingWriter {
            inner,
            buf: Vec::with_capacity(BUFFER),
        }
    }

    /// Writes out the buffer, then wipes it (also when the write fails).
    fn write_out(&mut self) -> io::Result<()> {
        let r = self.inner.write_all(&self.buf);
        // A plain fill (one memset), not Zeroize's byte-at-a-time volatile stores: this
        // runs for every 8 KiB written (60 MB for a JSON dump of 100,000 SAs, where the
        // volatile wipe cost a quarter of the floor's time under emulation). The buffer
        // stays allocated and is written again, so the stores cannot be dropped as dead;
        // the fence keeps them before its next use. Dropping wipes with Zeroize.
        self.buf.fill(0);
        compiler_fence(Ordering::SeqCst);
        self.buf.clear();
        r
    }
}

impl<W: Write> Write for WipingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > BUFFER {
            self.write_out()?;
        }
        if data.len() >= BUFFER {
            // Too large to gather: written as it is, from the caller's memory.
            return self.inner.write(data);
        }
        // Never beyond the capacity: growing would free the old bytes unwiped.
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_out()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for WipingWriter<W> {
    fn drop(&mut self) {
        let _ = self.inner.write_all(&self.buf);
        self.buf.zeroize();
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
        let mut w = WipingWriter::new(Vec::new());
        w.write_all(b"key 0x1122").unwrap();
        assert_eq!(w.buf.as_slice(), b"key 0x1122");
        w.flush().unwrap();
        assert!(w.buf.is_empty());
        assert!(w.buf.capacity() >= BUFFER);
        // Filling the buffer writes it out; the output is whole and in order.
        let line = [b'x'; 1000];
        for _ in 0..20 {
            w.write_all(&line).unwrap();
        }
        assert!(w.buf.len() < BUFFER);
        let big = vec![b'y'; 3 * BUFFER];
        w.write_all(&big).unwrap();
        w.flush().unwrap();
        let mut want = b"key 0x1122".to_vec();
        for _ in 0..20 {
            want.extend_from_slice(&line);
        }
        want.extend_from_slice(&big);
        assert_eq!(w.inner, want);
        // The buffer never grew past its first allocation.
        assert_eq!(w.buf.capacity(), BUFFER);
    }
}
