//! The security policy commands: `spdadd`, `spdupdate`, `spddelete`, `spdget`,
//! `spddump`, `spdflush` (the KAME `SADB_X_SPD*` messages through [`pfkey::Client`]).
//!
//! Every command parses and checks its whole command line first ([`spec`]), and only
//! then opens the PF_KEY socket: bad input never reaches the kernel (exit status 2) and
//! leaves the SPD unchanged. Commands that change the kernel's state print nothing on
//! success. The kernel's refusals are explained in the terms of the command: the
//! outbound optional tunnel rejected since May 2023, more than 6 templates, a policy
//! that does not exist, per-socket policies that PF_KEY cannot delete.

pub mod spec;

use std::io::{self, Write};

use pfkey::client::{Error, PolicyInfo, Traffic};
use pfkey::render::{render, RenderOptions};
use pfkey::wire::Direction;
use pfkey::{Client, Message};

use crate::cli::spd::{PolicyFormat, SpdAddArgs, SpdDumpArgs, SpdRefArgs};
use crate::exit::{Exit, Failure};
use crate::output::spd as spd_out;
use crate::output::{json, Format, Output};
use crate::setkey::format::{policy_text, TextOptions};

/// Opens a PF_KEY client. With `-v` (and without `--quiet`) every message sent and
/// received is printed on standard error, decoded by [`pfkey::render`] (policy messages
/// carry no keys, but other sockets' broadcasts may: they stay hidden).
fn open_client(out: &Output) -> Result<Client, Failure> {
    let mut client = Client::open()?;
    if out.verbose > 0 && !out.quiet {
        client.set_tracer(Some(Box::new(move |dir, bytes| {
            let what = match dir {
                Traffic::Sent => "sent",
                Traffic::Received => "received",
            };
            let mut e = io::stderr().lock();
            let _ = match Message::parse(bytes) {
                Ok(m) => writeln!(e, "pfkey: {what}: {}", render(&m, RenderOptions::default())),
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

/// The Linux errno values the commands explain (`asm-generic/errno-base.h`, `errno.h`).
mod errno {
    pub const EEXIST: i32 = 17;
    pub const EINVAL: i32 = 22;
    pub const ELOOP: i32 = 40;
}

/// The kernel's refusal in the words of the command: the library's words (which name
/// the request and the errno), made specific where the command knows more.
fn refused(e: Error, policy: Option<&pfkey::policy::Policy>, id: Option<u32>) -> Failure {
    let (Some(op), Some(errno)) = (e.operation(), e.errno()) else {
        return Failure::from(e);
    };
    if !matches!(e, Error::Kernel { .. }) {
        return Failure::from(e);
    }
    let op = op.to_string();
    // The user typed `spddelete --id`; the message is SADB_X_SPDDELETE2.
    let as_typed = |s: String| match s.strip_prefix("spddelete2 ") {
        Some(rest) => format!("spddelete {rest}"),
        None => s,
    };
    let words = match (errno, op.split(' ').next().unwrap_or("")) {
        (errno::EINVAL, "spdadd" | "spdupdate")
            if policy.is_some_and(|p| {
                p.dir == Direction::Out && spec::has_optional_tunnel(&p.requests)
            }) =>
        {
            "Linux refuses optional ('use') tunnel templates in out policies since May 2023 \
             (commit cf3128a7aca5, \"af_key: Reject optional tunnel/BEET mode templates in \
             outbound policies\", also in the stable kernels): an outbound tunnel must be \
             required, so use require or unique (use stays valid in in and fwd policies)"
                .to_string()
        }
        (errno::ELOOP, _) => {
            "more than 6 templates: Linux allows at most 6 per policy (XFRM_MAX_DEPTH)".into()
        }
        (errno::EEXIST, "spdadd") => {
            "a policy with this selector and direction already exists; spdupdate replaces it".into()
        }
        (errno::EINVAL, "spdget" | "spddelete2") if id.is_some_and(|i| matches!(i & 7, 3 | 4)) => {
            "this is a per-socket policy (id & 7 = 3 or 4): it belongs to a socket and goes \
             away when the socket is closed or its owner clears it; PF_KEY can neither read \
             nor delete it by id (spddump lists it)"
                .into()
        }
        (errno::EINVAL, "spdget" | "spddelete2") => {
            "invalid policy id: its low three bits must be a direction (in 0, out 1, fwd 2)".into()
        }
        _ => {
            return match Failure::from(e) {
                Failure::Error { exit, message } => Failure::new(exit, as_typed(message)),
                other => other,
            }
        }
    };
    let op = as_typed(op);
    let name = pfkey::render::errno_name(errno as u8)
        .map(str::to_string)
        .unwrap_or_else(|| format!("errno {errno}"));
    Failure::new(Exit::KernelRefused, format!("{op}: {words} ({name})"))
}

/// `pfkey spdadd` and `pfkey spdupdate`.
pub fn spdadd(args: &SpdAddArgs, out: &mut Output, update: bool) -> Result<(), Failure> {
    let checked = spec::check(args)?;
    for w in &checked.warnings {
        out.warn(w);
    }
    let mut client = open_client(out)?;
    let r = if update {
        client.spd_update(&checked.spec)
    } else {
        client.spd_add(&checked.spec)
    };
    let added = r.map_err(|e| refused(e, Some(&checked.spec.policy), None))?;
    out.note(
        1,
        &format!(
            "{}: policy id {}",
            if update { "spdupdate" } else { "spdadd" },
            added.policy.id
        ),
    );
    Ok(())
}

/// The policy `spddelete` and `spdget` name by selector and `--dir` (without `--id`), its
/// warnings shown.
fn selector_spec(
    args: &SpdRefArgs,
    out: &mut Output,
) -> Result<pfkey::client::PolicySpec, Failure> {
    let Some(dir) = args.dir else {
        return Err(Failure::new(
            Exit::Usage,
            "give --id, or the selector and --dir",
        ));
    };
    let checked = spec::delete_spec(&args.selector, dir)?;
    for w in &checked.warnings {
        out.warn(w);
    }
    Ok(checked.spec)
}

/// `pfkey spddelete`: by selector and direction (SADB_X_SPDDELETE), or by id
/// (SADB_X_SPDDELETE2).
pub fn spddelete(args: &SpdRefArgs, out: &mut Output) -> Result<(), Failure> {
    if args.format.is_some() {
        return Err(Failure::new(
            Exit::Usage,
            "spddelete prints nothing: --format is for spdget",
        ));
    }
    if let Some(id) = &args.id {
        let id = spec::parse_id(id)?;
        let mut client = open_client(out)?;
        client
            .spd_delete_by_id(id)
            .map_err(|e| refused(e, None, Some(id)))?;
        return Ok(());
    }
    let spec = selector_spec(args, out)?;
    let mut client = open_client(out)?;
    let gone = client
        .spd_delete(&spec)
        .map_err(|e| refused(e, None, None))?;
    out.note(
        1,
        &format!("spddelete: deleted policy id {}", gone.policy.id),
    );
    Ok(())
}

/// How to print policies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Text,
    Json,
    Setkey,
}

fn style(out: &Output, format: Option<PolicyFormat>) -> Result<Style, Failure> {
    Ok(match (format, out.format) {
        (Some(PolicyFormat::Setkey), Format::Json) => {
            return Err(Failure::new(
                Exit::Usage,
                "--json and --format setkey contradict each other: choose one",
            ))
        }
        (Some(PolicyFormat::Setkey), _) => Style::Setkey,
        (Some(PolicyFormat::Json), _) | (None, Format::Json) => Style::Json,
        (Some(PolicyFormat::Text), Format::Json) => {
            return Err(Failure::new(
                Exit::Usage,
                "--json and --format text contradict each other: choose one",
            ))
        }
        (Some(PolicyFormat::Text) | None, Format::Text) => Style::Text,
    })
}

/// Prints one policy; `first` tells whether a separating blank line is due (text).
fn show(out: &mut Output, p: &PolicyInfo, style: Style, first: bool) -> Result<(), Failure> {
    match style {
        Style::Json => json::line(out.stdout(), &spd_out::json(p)).map_err(Failure::stdout),
        Style::Text => {
            let w = out.stdout();
            let r = (|| {
                if !first {
                    writeln!(w)?;
                }
                spd_out::write_text(w, p)
            })();
            r.map_err(Failure::stdout)
        }
        Style::Setkey => {
            let bytes = spd_out::to_message_bytes(p).map_err(|e| {
                Failure::new(
                    Exit::Internal,
                    format!("cannot re-encode policy id {}: {e}", p.policy.id),
                )
            })?;
            let m = Message::parse(&bytes).map_err(|e| {
                Failure::new(
                    Exit::Internal,
                    format!("cannot re-read policy id {}: {e}", p.policy.id),
                )
            })?;
            let o = TextOptions {
                now: now(),
                utc_offset: &|_| 0,
                show_ports: false,
            };
            out.stdout()
                .write_all(policy_text(&m, &o).as_bytes())
                .map_err(Failure::stdout)
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether a dumped policy is the one a selector and direction name: same prefixes,
/// ports, protocol and direction (what SPDDELETE matches, security context aside).
fn same_selector(p: &PolicyInfo, want: &pfkey::client::PolicySpec) -> bool {
    let same = |a: &pfkey::repr::Address, b: &pfkey::repr::Address| {
        a.addr == b.addr && a.prefix_len == b.prefix_len
    };
    p.policy.dir == want.policy.dir
        && same(&p.src, &want.src)
        && same(&p.dst, &want.dst)
        && p.src.proto == want.proto
}

/// `pfkey spdget`: by id (SADB_X_SPDGET; per-socket policies, which SPDGET cannot read,
/// are looked up in a dump), or by selector and direction (looked up in a dump: PF_KEY
/// has no get by selector).
pub fn spdget(args: &SpdRefArgs, out: &mut Output) -> Result<(), Failure> {
    let style = style(out, args.format)?;
    if let Some(id) = &args.id {
        let id = spec::parse_id(id)?;
        let mut client = open_client(out)?;
        let p = if matches!(id & 7, 3 | 4) {
            find(&mut client, |p| p.policy.id == id)?.ok_or_else(|| {
                Failure::new(
                    Exit::KernelRefused,
                    format!("spdget id {id}: no such per-socket policy (searched the SPD dump)"),
                )
            })?
        } else {
            client.spd_get(id).map_err(|e| refused(e, None, Some(id)))?
        };
        return show(out, &p, style, true);
    }
    let spec = selector_spec(args, out)?;
    let mut client = open_client(out)?;
    match find(&mut client, |p| same_selector(p, &spec))? {
        Some(p) => show(out, &p, style, true),
        None => Err(Failure::new(
            Exit::KernelRefused,
            format!(
                "spdget {} -> {} {}: no such policy (ENOENT)",
                spd_out::prefix_text(&spec.src),
                spd_out::prefix_text(&spec.dst),
                spec.policy.dir
            ),
        )),
    }
}

/// The first dumped policy that `pred` accepts (the rest of the dump is discarded).
fn find(
    client: &mut Client,
    pred: impl Fn(&PolicyInfo) -> bool,
) -> Result<Option<PolicyInfo>, Failure> {
    for p in client.spd_dump()? {
        let p = p?;
        if pred(&p) {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// `pfkey spddump`: every policy, per-socket ones included, streamed.
pub fn spddump(args: &SpdDumpArgs, out: &mut Output) -> Result<(), Failure> {
    let style = style(out, args.format)?;
    let mut client = open_client(out)?;
    let mut first = true;
    let mut n = 0usize;
    for p in client.spd_dump()? {
        let p = p?;
        show(out, &p, style, first)?;
        first = false;
        n += 1;
    }
    out.note(1, &format!("spddump: {n} policies"));
    Ok(())
}

/// `pfkey spdflush`: deletes every policy of the SPD (not the per-socket ones).
pub fn spdflush(out: &mut Output) -> Result<(), Failure> {
    let mut client = open_client(out)?;
    client.spd_flush()?;
    out.note(
        1,
        "spdflush: the SPD is empty; per-socket policies stay until their sockets close",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pfkey::client::Operation;
    use pfkey::policy::{IpsecRequest, Policy};
    use pfkey::wire::MsgType;
    use pfkey::wire::{Level, Mode, PolicyType, SaType};

    fn kernel(op: Operation, errno: i32) -> Error {
        Error::Kernel {
            op: Box::new(op),
            errno: errno as u8,
        }
    }

    fn message(f: Failure) -> (Exit, String) {
        match f {
            Failure::Error { exit, message } => (exit, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refusals_in_the_commands_words() {
        let out_tunnel_use = Policy {
            policy_type: PolicyType::Ipsec,
            dir: Direction::Out,
            reserved: 0,
            id: 0,
            priority: 0,
            requests: vec![IpsecRequest {
                proto: 50,
                mode: Mode::Tunnel,
                level: Level::Use,
                reqid: 0,
                tunnel: Some((
                    "192.0.2.1:0".parse().unwrap(),
                    "192.0.2.2:0".parse().unwrap(),
                )),
            }],
        };
        let op = Operation::new(MsgType::XSpdAdd, SaType::Unspec).with_dir(Direction::Out);
        let (exit, m) = message(refused(
            kernel(op.clone(), errno::EINVAL),
            Some(&out_tunnel_use),
            None,
        ));
        assert_eq!(exit, Exit::KernelRefused);
        assert!(
            m.starts_with("spdadd out: Linux refuses optional ('use') tunnel templates"),
            "{m}"
        );
        assert!(m.ends_with("(EINVAL)"), "{m}");
        let (_, m) = message(refused(kernel(op.clone(), errno::ELOOP), None, None));
        assert!(
            m.contains("at most 6 per policy (XFRM_MAX_DEPTH) (ELOOP)"),
            "{m}"
        );
        let (_, m) = message(refused(kernel(op, errno::EEXIST), None, None));
        assert!(m.contains("spdupdate replaces it"), "{m}");
        let get = Operation::new(MsgType::XSpdGet, SaType::Unspec).with_policy_id(12);
        let (_, m) = message(refused(kernel(get, errno::EINVAL), None, Some(12)));
        assert!(
            m.starts_with("spdget id 12: this is a per-socket policy"),
            "{m}"
        );
        let del = Operation::new(MsgType::XSpdDelete, SaType::Unspec);
        let (exit, m) = message(refused(kernel(del, 2), None, None));
        assert_eq!(exit, Exit::KernelRefused);
        assert!(m.ends_with("no such policy (ENOENT)"), "{m}");
        let del2 = Operation::new(MsgType::XSpdDelete2, SaType::Unspec).with_policy_id(1234);
        let (_, m) = message(refused(kernel(del2, 2), None, Some(1234)));
        assert_eq!(m, "spddelete id 1234: no such policy (ENOENT)");
    }
}
