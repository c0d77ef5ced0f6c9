//! Text output: the library's protocol-analyzer rendering (`pfkey::render`), and the
//! pieces the SA and policy text blocks ([`super::sa`], [`super::spd`]) share.

use std::io::{self, Write};

use pfkey::client::SecCtx;
use pfkey::render::{render, RenderOptions};
use pfkey::Message;

/// Width of the label column of the SA and policy text blocks.
pub const LABEL: usize = 12;

/// `  name` padded to the label column.
pub fn label(w: &mut impl Write, name: &str) -> io::Result<()> {
    const PAD: &[u8; LABEL] = b"            ";
    w.write_all(b"  ")?;
    w.write_all(name.as_bytes())?;
    w.write_all(&PAD[name.len().min(LABEL)..])
}

/// The `context` line of a block: the context's text up to its first NUL, its algorithm
/// and DOI.
pub fn sec_ctx(w: &mut impl Write, c: &SecCtx) -> io::Result<()> {
    label(w, "context")?;
    let text = c.ctx.split(|&b| b == 0).next().unwrap_or_default();
    writeln!(
        w,
        "{} (alg {}, doi {})",
        String::from_utf8_lossy(text),
        c.alg,
        c.doi
    )
}

/// Writes one message: a header line and one line per extension, then a newline.
pub fn message(w: &mut impl Write, msg: &Message<'_>, show_keys: bool) -> io::Result<()> {
    let opts = if show_keys {
        RenderOptions::with_keys()
    } else {
        RenderOptions::default()
    };
    writeln!(w, "{}", render(msg, opts))
}
