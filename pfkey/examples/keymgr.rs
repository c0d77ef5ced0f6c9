//! A small key manager: answers the kernel's ACQUIREs with SAs made from pre-shared
//! keys, the way an IKE daemon installs what it negotiated.
//!
//! ```text
//! keymgr KEYFILE [--count N] [--idle SECS]
//! ```
//!
//! When a packet needs an SA that does not exist (a per-socket or global policy
//! requires ESP) and a PF_KEY socket is registered for ESP, Linux creates a larval SA
//! and sends `SADB_ACQUIRE` with a sequence number of its own (RFC 2367 §3.1.6; af_key
//! `pfkey_send_acquire`). This program:
//!
//! 1. registers for ESP (`SADB_REGISTER`) on an event socket, and waits for events;
//! 2. on an ACQUIRE for `SRC -> DST`, looks up the key file's SA for that direction;
//!    if the ACQUIRE's proposal lists algorithm combinations (policies set through
//!    the xfrm encoding with algorithm masks), the key file's must be among them;
//! 3. `SADB_GETSPI` with the ACQUIRE's sequence number and the key file's SPI as the
//!    range, which gives that SPI to the larval SA the kernel already made;
//! 4. `SADB_UPDATE` with the keys and the same sequence number: the larval SA becomes
//!    mature, and the packets waiting for it (a TCP SYN being retried) go out;
//! 5. `SADB_ADD` of the SA for the other direction (`DST -> SRC`), so the replies
//!    can be decrypted.
//!
//! If there is no key for the pair, it tells the kernel the acquire failed (an
//! ACQUIRE with `sadb_msg_errno` set). Requests go over a second, unregistered
//! socket so that events never delay replies (as strongSwan does). The peer must have
//! the same two SAs (its own key manager, or `pfkey add`).
//!
//! Key file: one ESP SA per line, `#` comments. Keys are hex with `0x`; the file holds
//! secrets, so keep it readable by root only (a warning says otherwise).
//!
//! ```text
//! # SRC      DST      SPI    ENCRYPTION KEY                                 AUTHENTICATION KEY
//! 10.0.0.1 10.0.0.2 0x1001 aes-cbc 0x00112233445566778899aabbccddeeff hmac-md5 0x0123456789abcdef0123456789abcdef
//! 10.0.0.2 10.0.0.1 0x1002 aes-cbc 0xffeeddccbbaa99887766554433221100 hmac-md5 0xfedcba9876543210fedcba9876543210
//! ```
//!
//! Every handled event is one line on standard output; `--count N` exits after N
//! answered ACQUIREs and `--idle SECS` after that long without an event. Needs
//! `CAP_NET_ADMIN` (PF_KEY sockets do).

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;
use std::time::Duration;

use pfkey::alg::{self, AlgKind};
use pfkey::client::{Acquire, AlgKey, Error, Event, SaSpec, SpiRequest};
use pfkey::repr::Key;
use pfkey::wire::{Mode, SaType};
use pfkey::Client;
use zeroize::Zeroizing;

const USAGE: &str = "usage: keymgr KEYFILE [--count N] [--idle SECS]

  --count N     exit after answering N ACQUIREs
  --idle SECS   exit after SECS without any event";

/// One direction's SA from the key file. Keys are zeroized on drop.
struct Entry {
    src: IpAddr,
    dst: IpAddr,
    spi: u32,
    enc: AlgKey,
    auth: AlgKey,
}

fn parse_key(kind: AlgKind, name: &str, hex_key: &str, line: usize) -> Result<AlgKey, String> {
    let a = alg::lookup(kind, name)
        .ok_or_else(|| format!("line {line}: unknown {kind} algorithm '{name}'"))?;
    if !a.usability.is_usable() {
        return Err(format!(
            "line {line}: {} cannot be used through PF_KEY: {}",
            a.name,
            a.usability.reason()
        ));
    }
    let digits = hex_key
        .strip_prefix("0x")
        .ok_or_else(|| format!("line {line}: a {kind} key is hex with 0x"))?;
    let bytes = Zeroizing::new(
        hex::decode(digits).map_err(|e| format!("line {line}: bad {kind} key: {e}"))?,
    );
    a.check_key_bits(bytes.len() as u32 * 8)
        .map_err(|e| format!("line {line}: {e}"))?;
    let key = Key::new(bytes.to_vec()).map_err(|e| format!("line {line}: {e}"))?;
    Ok(AlgKey { id: a.id, key })
}

fn load(path: &str) -> Result<Vec<Entry>, String> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?,
    );
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!("keymgr: warning: {path} holds keys but others may read it (chmod 600)");
        }
    }
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let [src, dst, spi, ealg, ekey, aalg, akey] = f[..] else {
            return Err(format!(
                "{path}:{n}: expected SRC DST SPI ENCRYPTION KEY AUTHENTICATION KEY ({} fields found)",
                f.len()
            ));
        };
        let ip = |s: &str| -> Result<IpAddr, String> {
            s.parse()
                .map_err(|_| format!("{path}:{n}: '{s}' is not an IP address"))
        };
        let spi_v = spi
            .strip_prefix("0x")
            .map_or_else(|| spi.parse().ok(), |h| u32::from_str_radix(h, 16).ok())
            .filter(|&v| v >= 0x100)
            .ok_or_else(|| format!("{path}:{n}: SPI '{spi}' must be a number from 0x100"))?;
        out.push(Entry {
            src: ip(src)?,
            dst: ip(dst)?,
            spi: spi_v,
            enc: parse_key(AlgKind::Encrypt, ealg, ekey, n).map_err(|e| format!("{path}:{e}"))?,
            auth: parse_key(AlgKind::Auth, aalg, akey, n).map_err(|e| format!("{path}:{e}"))?,
        });
    }
    Ok(out)
}

fn spec(e: &Entry, acquire_seq: Option<u32>) -> SaSpec {
    SaSpec {
        mode: Mode::Transport,
        replay: 32,
        enc: Some(e.enc.clone()),
        auth: Some(e.auth.clone()),
        acquire_seq,
        ..SaSpec::new(SaType::Esp, e.spi, e.src, e.dst)
    }
}

fn names(auth: u8, enc: u8) -> String {
    format!(
        "{} + {}",
        alg::display_id(AlgKind::Encrypt, enc),
        alg::display_id(AlgKind::Auth, auth)
    )
}

/// Answers one ACQUIRE; returns the line to print.
fn answer(req: &mut Client, keys: &[Entry], a: &Acquire) -> Result<String, String> {
    let (src, dst) = (a.src.addr.ip(), a.dst.addr.ip());
    let head = format!(
        "acquire seq {}: esp {src} -> {dst} (policy id {})",
        a.seq, a.policy_id
    );
    let fail = |req: &mut Client, why: String, errno: i32| -> String {
        // Tell the kernel, so that it does not wait for an SA that will not come.
        let told = req.acquire_failed(a.seq, SaType::Esp, errno as u8);
        let told = match told {
            Ok(()) => String::new(),
            Err(e) => format!(" (and telling the kernel failed: {e})"),
        };
        format!("{head}: {why}; refused{told}")
    };
    if a.satype != SaType::Esp {
        return Err(fail(
            req,
            format!("{} is not ESP", a.satype),
            libc::EPROTONOSUPPORT,
        ));
    }
    let Some(out) = keys.iter().find(|e| e.src == src && e.dst == dst) else {
        return Err(fail(req, "no key for this pair".into(), libc::ENOENT));
    };
    let back = keys.iter().find(|e| e.src == dst && e.dst == src);
    if !a.proposal.is_empty()
        && !a
            .proposal
            .iter()
            .any(|c| c.auth == out.auth.id && c.encrypt == out.enc.id)
    {
        let offered: Vec<String> = a
            .proposal
            .iter()
            .map(|c| names(c.auth, c.encrypt))
            .collect();
        return Err(fail(
            req,
            format!(
                "the policy allows {}, the key file has {}",
                offered.join(", "),
                names(out.auth.id, out.enc.id)
            ),
            libc::EINVAL,
        ));
    }
    let mut get = SpiRequest::new(SaType::Esp, src, dst);
    get.range = Some((out.spi, out.spi));
    get.acquire_seq = Some(a.seq);
    let larval = req.get_spi(&get).map_err(|e| format!("{head}: {e}"))?;
    req.update(&spec(out, Some(a.seq)))
        .map_err(|e| format!("{head}: {e}"))?;
    let mut line = format!(
        "{head}: getspi {:#010x}, update ({}), ",
        larval.spi,
        names(out.auth.id, out.enc.id)
    );
    match back {
        None => line.push_str("no key for the other direction"),
        Some(b) => match req.add(&spec(b, None)) {
            Ok(_) => line.push_str(&format!("add {:#010x} {dst} -> {src}", b.spi)),
            Err(e) if e.is_kernel_errno(libc::EEXIST) => {
                line.push_str(&format!("{:#010x} {dst} -> {src} already there", b.spi))
            }
            Err(e) => return Err(format!("{line}add failed: {e}")),
        },
    }
    Ok(line)
}

fn run() -> Result<(), String> {
    let mut path = None;
    let mut count: Option<u64> = None;
    let mut idle = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--count" => {
                let v = it.next().ok_or("--count needs N")?;
                count = Some(
                    v.parse()
                        .map_err(|_| format!("--count '{v}' is not a number"))?,
                );
            }
            "--idle" => {
                let v = it.next().ok_or("--idle needs SECS")?;
                idle = Some(Duration::from_secs(
                    v.parse()
                        .map_err(|_| format!("--idle '{v}' is not whole seconds"))?,
                ));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            a if !a.starts_with('-') && path.is_none() => path = Some(a.to_string()),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    let path = path.ok_or(format!("which key file?\n{USAGE}"))?;
    let keys = load(&path)?;
    let open = |what: &str| Client::open().map_err(|e: Error| format!("{what}: {e}"));
    let mut events = open("event socket")?;
    let mut req = open("request socket")?;
    events
        .register(SaType::Esp)
        .map_err(|e| format!("cannot register for ESP: {e}"))?;
    println!("registered for esp, {} keys from {path}", keys.len());
    let _ = std::io::stdout().flush();
    let mut answered = 0u64;
    while count.is_none_or(|c| answered < c) {
        let ev = events.next_event(idle).map_err(|e| e.to_string())?;
        let line = match ev {
            None => {
                println!("idle, exiting");
                break;
            }
            Some(Event::Acquire(a)) => {
                answered += 1;
                answer(&mut req, &keys, &a).unwrap_or_else(|e| e)
            }
            Some(Event::Expire(x)) => format!(
                "expire ({}): esp spi {:#010x} {} -> {}",
                if x.hard { "hard" } else { "soft" },
                x.sa.spi,
                x.sa.src.addr.ip(),
                x.sa.dst.addr.ip()
            ),
            Some(Event::Lagged { missed }) => format!("missed {missed} events"),
            Some(_) => continue,
        };
        println!("{line}");
        let _ = std::io::stdout().flush();
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keymgr: {e}");
            ExitCode::FAILURE
        }
    }
}
