//! The per-SA cost of `pfkey dump` formatting, with no PF_KEY socket: N dump entries
//! (the captured Linux 6.1 entry fixtures/dump-esp-sa.hex, each with its own SPI and
//! source address) go through the same code as the dump command (`Message::parse`,
//! `SaInfo::from_message`, then the text block or the JSON line) into a buffered
//! sink, as `pfkey dump > file` would write them.
//!
//! Run: `cargo bench -p pfkey-cli --bench dump_format [-- N]` (N = 100000 by default);
//! prints ns per SA for each format (best of 5 runs). For instruction counts, run the
//! bench binary under `valgrind --tool=callgrind` with a format name (`decode`, `text`,
//! `json`) and two values of N, and divide the difference by the difference in N.
//! `print` writes every SA fixture in both formats instead, to compare two versions'
//! output byte for byte.

use std::hint::black_box;
use std::io::{self, BufWriter, Write};
use std::time::Instant;

use pfkey::client::{FromMessage, SaInfo};
use pfkey::Message;

/// The CLI's output modules, compiled into this benchmark as they are into `pfkey`.
#[allow(dead_code, unused_imports)]
#[path = "../src/output"]
mod output {
    pub mod sa;
    pub mod text;
    pub mod time;
}

use output::sa;

/// A fixture's bytes (hex lines after `#` comments).
fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../fixtures/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect(&path);
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.chars())
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    hex::decode(hex).expect("hex fixture")
}

/// 1000 distinct dump entries: SPI 0x1000 + i, source 10.0.x.y, added 16 to a second
/// (the lab adds thousands a second; fewer per second is the harder case).
fn entries() -> Vec<Vec<u8>> {
    let base = fixture("dump-esp-sa");
    let find = |what: &[u8]| {
        base.windows(what.len())
            .position(|w| w == what)
            .expect("field in the fixture")
    };
    // SPI: the SA extension follows the 16-byte header; sadb_sa_spi is at its offset 4.
    let spi_at = 16 + 4;
    let src_at = find(&[10, 0, 0, 1]);
    let msg = Message::parse(&base).expect("fixture parses");
    let added = msg
        .lifetime_current()
        .expect("current lifetime")
        .addtime
        .get();
    let added_at = find(&added.to_ne_bytes());
    (0..1000u32)
        .map(|i| {
            let mut m = base.clone();
            m[spi_at..spi_at + 4].copy_from_slice(&(0x1000 + i).to_be_bytes());
            m[src_at + 2] = (i >> 8) as u8;
            m[src_at + 3] = i as u8;
            let t = added - u64::from(i / 16);
            m[added_at..added_at + 8].copy_from_slice(&t.to_ne_bytes());
            Message::parse(&m).expect("entry parses");
            m
        })
        .collect()
}

/// Every SA fixture in text and JSON, keys hidden and shown, at several ages: to compare
/// the output of two versions of the formatting code byte for byte.
fn print_all() -> io::Result<()> {
    let mut w = BufWriter::new(io::stdout().lock());
    for name in [
        "dump-esp-sa",
        "dump-esp-sa-proxy",
        "get-esp-sa",
        "add-esp-reply",
        "add-esp6-reply",
        "add-esp6-natt",
        "add-ipcomp-reply",
        "delete-esp-reply",
        "getspi-reply",
    ] {
        let bytes = fixture(name);
        let msg = Message::parse(&bytes).expect("fixture parses");
        let sa = SaInfo::from_message(&msg).expect("fixture is an SA");
        // The same SA with everything a fixture leaves at zero, and unknown values.
        let mut odd = sa.clone();
        odd.flags = 0x8000_0003;
        odd.replay = 0;
        odd.state = pfkey::wire::SaState::from_value(9);
        odd.mode = pfkey::wire::Mode::from_value(7);
        odd.auth = 250;
        odd.encrypt = 0;
        let life = |bytes, allocations, addtime, usetime| pfkey::repr::Lifetime {
            allocations,
            bytes,
            addtime,
            usetime,
        };
        let added = sa.current.as_ref().map_or(1_795_765_849, |c| c.addtime);
        odd.hard = Some(life(100 << 20, 1000, 86_400, 5400));
        odd.soft = Some(life(1536, 0, 0, 61));
        odd.current = Some(life(u64::MAX, u32::MAX, added, added + 7));
        for sa in [sa, odd] {
            for now in [0, added, added + 59, added + 3661, added + 90_061] {
                for show_keys in [false, true] {
                    writeln!(w, "== {name} now={now} show_keys={show_keys}")?;
                    sa::write_text(&mut w, &sa, show_keys, now)?;
                    sa::write_json(&mut w, &sa, show_keys)?;
                }
            }
        }
    }
    w.flush()
}

#[derive(Clone, Copy)]
enum Format {
    /// Parse and `SaInfo` only: the part that is not formatting.
    Decode,
    Text,
    Json,
}

/// One dump of `n` entries, as the dump command formats them.
fn dump(entries: &[Vec<u8>], n: usize, format: Format, now: u64) -> io::Result<()> {
    let mut w = BufWriter::new(io::sink());
    for (count, raw) in entries.iter().cycle().take(n).enumerate() {
        let msg = Message::parse(raw).expect("entry parses");
        let sa = SaInfo::from_message(&msg).expect("entry is an SA");
        match format {
            Format::Decode => {
                black_box(&sa);
            }
            Format::Json => sa::write_json(&mut w, &sa, false)?,
            Format::Text => {
                if count > 0 {
                    writeln!(w)?;
                }
                sa::write_text(&mut w, &sa, false, now)?;
            }
        }
    }
    w.flush()
}

fn main() -> io::Result<()> {
    // `cargo bench` passes `--bench`; the first number given is N, and a format name
    // (`decode`, `text`, `json`) runs only that format, once (for callgrind).
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "print") {
        return print_all();
    }
    let n = args
        .iter()
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(100_000);
    let entries = entries();
    let now = sa::now();
    let formats = [
        ("decode", Format::Decode),
        ("text", Format::Text),
        ("json", Format::Json),
    ];
    if let Some((_, format)) = formats
        .iter()
        .find(|(name, _)| args.iter().any(|a| a == name))
    {
        return dump(&entries, n, *format, now);
    }
    for (name, format) in formats {
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let start = Instant::now();
            dump(black_box(&entries), n, format, now)?;
            best = best.min(start.elapsed().as_nanos() as f64 / n as f64);
        }
        println!("{name}: {best:.0} ns/SA ({n} SAs, best of 5)");
    }
    Ok(())
}
