//! Text output: the library's protocol-analyzer rendering (`pfkey::render`).

use std::io::{self, Write};

use pfkey::render::{render, RenderOptions};
use pfkey::Message;

/// Writes one message: a header line and one line per extension, then a newline.
pub fn message(w: &mut impl Write, msg: &Message<'_>, show_keys: bool) -> io::Result<()> {
    let opts = if show_keys {
        RenderOptions::with_keys()
    } else {
        RenderOptions::default()
    };
    writeln!(w, "{}", render(msg, opts))
}
