//! The SA commands: `add`, `update`, `get`, `delete`, `deleteall`, `flush`, `getspi`,
//! `dump` (RFC 2367 §3.1 messages through [`pfkey::Client`]).
//!
//! Every command parses and checks its whole command line first ([`spec`]), and only
//! then opens the PF_KEY socket: bad input never reaches the kernel, and works the same
//! on a machine without PF_KEY. Commands that change the kernel's state print nothing
//! on success.

pub mod spec;

use std::io::{self, Write};

use pfkey::client::{FromMessage, SaInfo, SpiRequest, Traffic};
use pfkey::render::{render, RenderOptions};
use pfkey::wire::{ExtType, MsgType, SaType};
use pfkey::{Client, Message};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::sa::{AddArgs, DeleteAllArgs, DumpArgs, DumpFormat, FlushArgs, GetSpiArgs};
use crate::cli::sa::{SaIdArgs, SaTypeArg};
use crate::exit::{Exit, Failure};
use crate::output::sa::{self as sa_out, HexKey};
use crate::output::{json, Format, Output};
use crate::setkey::format::{sa_text, SecretText, TextOptions};

use spec::GeneratedKey;

/// Opens a PF_KEY client. With `-v` (and without `--quiet`) every message sent and
/// received is printed on standard error, decoded by [`pfkey::render`]; keys stay hidden
/// unless `show_keys`.
pub fn open_client(out: &Output, show_keys: bool) -> Result<Client, Failure> {
    let mut client = Client::open()?;
    if out.verbose > 0 && !out.quiet {
        let opts = if show_keys {
            RenderOptions::with_keys()
        } else {
            RenderOptions::default()
        };
        client.set_tracer(Some(Box::new(move |dir, bytes| {
            let what = match dir {
                Traffic::Sent => "sent",
                Traffic::Received => "received",
            };
            let mut e = io::stderr().lock();
            let _ = match Message::parse(bytes) {
                Ok(m) => writeln!(e, "pfkey: {what}: {}", render(&m, opts)),
                Err(err) => writeln!(
                    e,
                    "pfkey: {what}: {} bytes that are not a valid PF_KEY message: {err}",
                    bytes.len()
                ),
            };
        })));
    }
    Ok(client)
}

/// The SA type of a `flush`/`dump` selection ([`SaType::Unspec`] = all).
pub fn satype_of(t: SaTypeArg) -> SaType {
    match t {
        SaTypeArg::Esp => SaType::Esp,
        SaTypeArg::Ah => SaType::Ah,
        SaTypeArg::Ipcomp => SaType::IpComp,
        SaTypeArg::All => SaType::Unspec,
    }
}

/// `pfkey add` and `pfkey update`.
pub fn add(args: &AddArgs, out: &mut Output, update: bool) -> Result<(), Failure> {
    let checked = spec::check(args)?;
    for w in &checked.warnings {
        out.warn(w);
    }
    if let Some(w) = spec::visible_keys_warning(&checked.visible_keys) {
        out.warn(&w);
    }
    let mut client = open_client(out, false)?;
    if update {
        client.update(&checked.spec)?;
        if keys_kept(&mut client, &checked.spec, out) {
            let unused = if checked.generated.is_empty() {
                ""
            } else {
                "; the keys generated with `random` were not installed and are not shown"
            };
            out.warn(&format!(
                "update {} spi 0x{:x}: the kernel kept the SA's previous algorithms and keys \
                 (Linux changes only lifetimes, NAT-T ports and selector of a mature SA); to \
                 re-key, delete the SA and add it again{unused}",
                checked.spec.satype, checked.spec.spi
            ));
            return Ok(());
        }
    } else {
        client.add(&checked.spec)?;
    }
    print_generated(out, &checked.generated)
}

/// After UPDATE: Linux keeps the algorithms and keys of a mature SA and reports success
/// anyway (af_key `pfkey_add` → `xfrm_state_update`, lab finding 12). Reads the SA back
/// and tells whether they differ from what was sent. Best effort: if the SA cannot be
/// read back (it expired in between, say), the update itself still succeeded.
fn keys_kept(client: &mut Client, spec: &pfkey::client::SaSpec, out: &mut Output) -> bool {
    let now = match client.get(&spec.id()) {
        Ok(sa) => sa,
        Err(e) => {
            out.note(1, &format!("cannot read the SA back after the update: {e}"));
            return false;
        }
    };
    let same =
        |sent: &Option<pfkey::client::AlgKey>, id: u8, key: &Option<pfkey::repr::Key>| match sent {
            None => true,
            Some(a) => {
                a.id == id
                    && key.as_ref().map_or(a.key.bits == 0, |k| {
                        k.bits == a.key.bits && k.data[..] == a.key.data[..]
                    })
            }
        };
    !(same(&spec.enc, now.encrypt, &now.key_encrypt) && same(&spec.auth, now.auth, &now.key_auth))
}

/// Keys made with `random`, printed once so that the peer can be configured.
#[derive(Serialize)]
struct GeneratedJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    enc_key: Option<HexKey<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_key: Option<HexKey<'a>>,
}

fn print_generated(out: &mut Output, keys: &[GeneratedKey]) -> Result<(), Failure> {
    if keys.is_empty() {
        return Ok(());
    }
    let find = |name: &str| {
        keys.iter()
            .find(|k| k.name == name)
            .map(|k| HexKey(&k.bytes[..]))
    };
    let format = out.format;
    let w = out.stdout();
    let r = if format == Format::Json {
        json::line(
            w,
            &GeneratedJson {
                enc_key: find("enc-key"),
                auth_key: find("auth-key"),
            },
        )
    } else {
        keys.iter().try_for_each(|k| {
            write!(w, "{} 0x", k.name)?;
            for b in k.bytes.iter() {
                write!(w, "{b:02x}")?;
            }
            writeln!(w)
        })
    };
    r.map_err(Failure::stdout)
}

/// Writes one SA in the chosen format.
fn write_sa(out: &mut Output, sa: &SaInfo, show_keys: bool, now: u64) -> Result<(), Failure> {
    let format = out.format;
    let w = out.stdout();
    match format {
        Format::Json => sa_out::write_json(w, sa, show_keys),
        Format::Text => sa_out::write_text(w, sa, show_keys, now),
    }
    .map_err(Failure::stdout)
}

/// `pfkey get`.
pub fn get(args: &SaIdArgs, out: &mut Output) -> Result<(), Failure> {
    let id = spec::sa_id(&args.proto, &args.src, &args.dst, &args.spi)?;
    let mut client = open_client(out, args.show_keys)?;
    let sa = client.get(&id)?;
    write_sa(out, &sa, args.show_keys, sa_out::now())
}

/// `pfkey delete`.
pub fn delete(args: &SaIdArgs, out: &mut Output) -> Result<(), Failure> {
    if args.show_keys {
        return Err(Failure::new(
            Exit::Usage,
            "--show-keys is for get and dump; delete prints nothing",
        ));
    }
    let id = spec::sa_id(&args.proto, &args.src, &args.dst, &args.spi)?;
    let mut client = open_client(out, false)?;
    client.delete(&id)?;
    Ok(())
}

/// `pfkey deleteall`: DUMP, then DELETE each SA between the two addresses.
pub fn deleteall(args: &DeleteAllArgs, out: &mut Output) -> Result<(), Failure> {
    let satype = spec::satype_of(&args.proto);
    let (src, dst) = spec::endpoints(&args.src, &args.dst)?;
    let mut client = open_client(out, false)?;
    let mut ids = Vec::new();
    for item in client.dump(satype)? {
        let sa = item?;
        if sa.src.addr.ip() == src && sa.dst.addr.ip() == dst {
            ids.push(sa.id());
        }
    }
    let mut deleted = 0usize;
    for id in &ids {
        match client.delete(id) {
            Ok(_) => deleted += 1,
            // Gone since the dump (expired, or deleted by someone else): what we wanted.
            Err(e) if e.is_kernel_errno(nix::errno::Errno::ESRCH as i32) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let plural = if deleted == 1 { "" } else { "s" };
    out.note(
        1,
        &format!("deleted {deleted} {satype} SA{plural} from {src} to {dst}"),
    );
    Ok(())
}

/// `pfkey flush`.
pub fn flush(args: &FlushArgs, out: &mut Output) -> Result<(), Failure> {
    let mut client = open_client(out, false)?;
    client.flush(satype_of(args.satype))?;
    Ok(())
}

/// `pfkey getspi`.
pub fn getspi(args: &GetSpiArgs, out: &mut Output) -> Result<(), Failure> {
    let satype = spec::satype_of(&args.proto);
    let (src, dst) = spec::endpoints(&args.src, &args.dst)?;
    let mut req = SpiRequest::new(satype, src, dst);
    req.mode = spec::mode_of(args.mode);
    if let Some(r) = &args.reqid {
        req.reqid = spec::parse_reqid(r)?;
    }
    let ipcomp = satype == SaType::IpComp;
    req.range = match &args.range {
        Some(r) => {
            let (lo, hi) = crate::input::parse_spi_range(r)?;
            if ipcomp && hi > 0xffff {
                return Err(Failure::new(
                    Exit::Usage,
                    format!("--range {r}: an IPComp CPI is 16 bits (at most 0xffff)"),
                ));
            }
            Some((lo, hi))
        }
        // af_key's default range (0x100-0x0fffffff) is refused for IPComp (EINVAL).
        None if ipcomp => Some((0x100, 0xffff)),
        None => None,
    };
    let mut client = open_client(out, false)?;
    let sa = client.get_spi(&req)?;
    let format = out.format;
    let w = out.stdout();
    match format {
        Format::Json => sa_out::write_json(w, &sa, false),
        Format::Text => writeln!(w, "0x{:08x}", sa.spi),
    }
    .map_err(Failure::stdout)
}

/// A dump entry kept as the bytes the kernel sent (zeroized on drop), for the setkey
/// format, which is made from the message itself.
struct RawSa(Zeroizing<Vec<u8>>);

impl FromMessage for RawSa {
    fn from_message(m: &Message<'_>) -> Result<Self, ExtType> {
        Ok(RawSa(Zeroizing::new(m.as_bytes().to_vec())))
    }
}

/// A dump entry for the text and JSON formats: the SA, converted from the client's
/// receive buffer without a copy of the message or a second parse, or the extension it
/// lacks (an error that names the entry, unlike the client's own).
struct DumpSa(Result<SaInfo, ExtType>);

impl FromMessage for DumpSa {
    fn from_message(m: &Message<'_>) -> Result<Self, ExtType> {
        Ok(DumpSa(SaInfo::from_message(m)))
    }
}

/// `setkey -D` prints keys; without `--show-keys` each key becomes `<hidden>` (the
/// continuation lines of a long key, which start with a space, are dropped).
fn hide_setkey_keys(text: &str) -> SecretText {
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut in_key = false;
    for line in text.split_inclusive('\n') {
        if in_key && line.starts_with(' ') {
            continue;
        }
        in_key = false;
        let rest = line
            .strip_prefix("\tE: ")
            .or_else(|| line.strip_prefix("\tA: "));
        match rest {
            Some(r) => {
                let name = r.split(' ').next().unwrap_or_default();
                out.push_str(&line[..4]);
                out.push_str(name);
                out.push_str(" <hidden>\n");
                in_key = true;
            }
            None => out.push_str(line),
        }
    }
    out
}

/// `pfkey dump`: streams the SAD, one entry at a time.
pub fn dump(args: &DumpArgs, out: &mut Output) -> Result<(), Failure> {
    let format = match (args.format, out.format) {
        (Some(f), Format::Json) if f != DumpFormat::Json => {
            return Err(Failure::new(
                Exit::Usage,
                "--json is --format json; give one of them",
            ))
        }
        (Some(f), _) => f,
        (None, Format::Json) => DumpFormat::Json,
        (None, Format::Text) => DumpFormat::Text,
    };
    let satype = satype_of(args.satype);
    let show_keys = args.show_keys;
    let now = sa_out::now();
    let text_opts = TextOptions {
        now,
        utc_offset: &crate::output::time::utc_offset,
        show_ports: false,
    };
    let mut client = open_client(out, show_keys)?;
    let mut count = 0u64;
    if format == DumpFormat::Setkey {
        for item in client.dump_as::<RawSa>(MsgType::Dump, satype, None)? {
            let raw = item?;
            let msg = Message::parse(&raw.0).map_err(|e| {
                Failure::new(Exit::Internal, format!("dump entry {}: {e}", count + 1))
            })?;
            count += 1;
            let text = sa_text(&msg, &text_opts);
            let text = if show_keys {
                text
            } else {
                hide_setkey_keys(&text)
            };
            out.stdout()
                .write_all(text.as_bytes())
                .map_err(Failure::stdout)?;
        }
    } else {
        for item in client.dump_as::<DumpSa>(MsgType::Dump, satype, None)? {
            let entry = item?;
            count += 1;
            let sa = entry.0.map_err(|missing| {
                Failure::new(
                    Exit::Internal,
                    format!("dump entry {count} has no {missing} extension"),
                )
            })?;
            let w = out.stdout();
            let r = match format {
                DumpFormat::Json => sa_out::write_json(w, &sa, show_keys),
                _ => {
                    let sep = if count > 1 { writeln!(w) } else { Ok(()) };
                    sep.and_then(|()| sa_out::write_text(w, &sa, show_keys, now))
                }
            };
            r.map_err(Failure::stdout)?;
        }
    }
    if count == 0 && format != DumpFormat::Json {
        let which = match satype {
            SaType::Unspec => String::new(),
            t => format!("{t} "),
        };
        out.note(0, &format!("no {which}SAs"));
    } else {
        out.note(1, &format!("{count} SAs"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setkey_keys_are_hidden() {
        let text = "10.0.0.1 10.0.0.2 \n\tesp mode=transport spi=4096(0x00001000) reqid=0(0x00000000)\n\tE: aes-cbc  00112233 44556677\n\tA: hmac-sha512  00112233 44556677 00112233 44556677 00112233 44556677 00112233 44556677\n 00112233 44556677 00112233 44556677 00112233 44556677 00112233 44556677\n\tseq=0x00000000 replay=0 flags=0x00000000 state=mature \n";
        let hidden = hide_setkey_keys(text);
        assert_eq!(
            hidden.as_str(),
            "10.0.0.1 10.0.0.2 \n\tesp mode=transport spi=4096(0x00001000) reqid=0(0x00000000)\n\tE: aes-cbc <hidden>\n\tA: hmac-sha512 <hidden>\n\tseq=0x00000000 replay=0 flags=0x00000000 state=mature \n"
        );
    }
}
