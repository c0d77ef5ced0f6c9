//! Security policies for people and for programs: a readable text block
//! ([`write_text`]), the stable JSON object of JSON.md, "Policy" ([`json`]), and the
//! message a policy came in, for the `setkey -DP` text ([`to_message_bytes`]).
//!
//! All are built from [`PolicyInfo`], the client's owned view of a policy message (a
//! dump entry, an SPDGET reply). Per-socket policies (Linux reports them with directions
//! socket-in/socket-out, 4/5, and ids whose low three bits are 3/4) are marked as such.

use std::io::{self, Write};
use std::net::IpAddr;

use pfkey::client::PolicyInfo;
use pfkey::policy::IpsecRequest;
use pfkey::repr::{Address, Extension, MessageRepr};
use pfkey::wire::{Direction, ExtType, Level, PolicyType, SaType};
use serde::Serialize;

use super::text::{label, sec_ctx};
use crate::cmd::spd::spec::{PRIORITY_DEFAULT, PRIORITY_HIGH, PRIORITY_LOW};
use crate::setkey::names;

/// Whether a policy belongs to a socket rather than to the SPD (Linux: direction 4/5,
/// or `id & 7` of 3/4).
pub fn is_socket_policy(p: &PolicyInfo) -> bool {
    matches!(p.policy.dir, Direction::SocketIn | Direction::SocketOut)
        || matches!(p.policy.id & 7, 3 | 4)
}

/// The action as the command line names it: `ipsec`, `bypass` (PF_KEY NONE, and the
/// per-socket BYPASS and ENTRUST, which Linux treats alike), `discard`.
pub fn action_name(t: PolicyType) -> String {
    match t {
        PolicyType::Ipsec => "ipsec".into(),
        PolicyType::None | PolicyType::Bypass | PolicyType::Entrust => "bypass".into(),
        PolicyType::Discard => "discard".into(),
        PolicyType::Unknown(v) => format!("unknown({v})"),
    }
}

/// A prefix: `10.0.0.1` (full length) or `10.0.0.0/24`.
pub fn prefix_text(a: &Address) -> String {
    let full = if a.addr.is_ipv4() { 32 } else { 128 };
    if a.prefix_len == full {
        a.addr.ip().to_string()
    } else {
        format!("{}/{}", a.addr.ip(), a.prefix_len)
    }
}

fn proto_name(proto: u8) -> Option<String> {
    match proto {
        255 => Some("any".into()),
        p => names::protocol_script_name(p).map(str::to_string),
    }
}

/// Whether the protocol's selector carries ICMP type and code in the port fields.
fn is_icmp(proto: u8) -> bool {
    matches!(proto, names::IPPROTO_ICMP | names::IPPROTO_ICMPV6)
}

/// The selector as one line: `10.1.0.0/24 -> 10.2.0.0/24 proto tcp dport 80`.
pub fn selector_text(p: &PolicyInfo) -> String {
    let mut s = format!("{} -> {}", prefix_text(&p.src), prefix_text(&p.dst));
    let proto = p.src.proto;
    if proto != 255 {
        s.push_str(" proto ");
        s.push_str(&proto_name(proto).unwrap_or_else(|| proto.to_string()));
    }
    let (sp, dp) = (p.src.addr.port(), p.dst.addr.port());
    if is_icmp(proto) {
        if sp != 0 {
            s.push_str(&format!(" type {sp}"));
        }
        if dp != 0 {
            s.push_str(&format!(" code {dp}"));
        }
    } else {
        if sp != 0 {
            s.push_str(&format!(" sport {sp}"));
        }
        if dp != 0 {
            s.push_str(&format!(" dport {dp}"));
        }
    }
    s
}

fn template_proto(r: &IpsecRequest) -> String {
    match SaType::from_ip_proto(r.proto) {
        Some(t) => t.to_string(),
        None => format!("unknown({})", r.proto),
    }
}

/// A template in the syntax `--tmpl` takes: `esp/tunnel/192.0.2.1-192.0.2.2/unique:5`.
pub fn template_text(r: &IpsecRequest) -> String {
    let ends = r
        .tunnel
        .map(|(a, b)| format!("{}-{}", a.ip(), b.ip()))
        .unwrap_or_default();
    let level = match (r.level, r.reqid) {
        (Level::Unique, 0) => "unique".to_string(),
        (Level::Unique, n) => format!("unique:{n}"),
        (l, _) => l.to_string(),
    };
    format!("{}/{}/{ends}/{level}", template_proto(r), r.mode)
}

fn priority_text(v: u32) -> String {
    match v {
        PRIORITY_DEFAULT => format!("{v} (default)"),
        PRIORITY_HIGH => format!("{v} (high)"),
        PRIORITY_LOW => format!("{v} (low)"),
        _ => v.to_string(),
    }
}

/// Days since 1970-01-01 to (year, month, day) (proleptic Gregorian calendar; H. Hinnant's
/// `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A Unix time as `2026-11-27 08:05:12 UTC`.
pub fn utc(t: u64) -> String {
    let t = i64::try_from(t).unwrap_or(i64::MAX);
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Writes one policy as a text block: a title line (direction, action, selector) and one
/// indented `label value` line per property. The caller separates blocks.
pub fn write_text(w: &mut impl Write, p: &PolicyInfo) -> io::Result<()> {
    let pol = &p.policy;
    if is_socket_policy(p) {
        writeln!(
            w,
            "{} {} (per-socket policy)",
            pol.dir,
            action_name(pol.policy_type)
        )?;
    } else {
        writeln!(
            w,
            "{} {} {}",
            pol.dir,
            action_name(pol.policy_type),
            selector_text(p)
        )?;
    }
    label(w, "id")?;
    writeln!(w, "{}", pol.id)?;
    label(w, "priority")?;
    writeln!(w, "{}", priority_text(pol.priority))?;
    for r in &pol.requests {
        label(w, "template")?;
        writeln!(w, "{}", template_text(r))?;
    }
    if let Some(c) = &p.sec_ctx {
        sec_ctx(w, c)?;
    }
    if let Some(c) = &p.current {
        if c.addtime != 0 {
            label(w, "created")?;
            writeln!(w, "{}", utc(c.addtime))?;
        }
        label(w, "last used")?;
        if c.usetime == 0 {
            writeln!(w, "never")?;
        } else {
            writeln!(w, "{}", utc(c.usetime))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// JSON (JSON.md, "Policy")
// ---------------------------------------------------------------------------------------

/// A selector prefix.
#[derive(Debug, Serialize)]
pub struct PrefixJson {
    /// The address.
    pub address: IpAddr,
    /// The prefix length.
    pub prefix_len: u8,
}

/// A tunnel template's outer addresses.
#[derive(Debug, Serialize)]
pub struct TunnelJson {
    /// Outer source.
    pub src: IpAddr,
    /// Outer destination.
    pub dst: IpAddr,
}

/// One template (JSON.md, "Policy template").
#[derive(Debug, Serialize)]
pub struct TemplateJson {
    /// `esp`, `ah`, `ipcomp`, or `unknown(N)`.
    pub proto: String,
    /// IP protocol number.
    pub proto_id: u16,
    /// `transport`, `tunnel`, `beet`, `any`.
    pub mode: String,
    /// `default`, `use`, `require`, `unique`.
    pub level: String,
    /// Request id (0 unless `unique`).
    pub reqid: u32,
    /// Outer addresses in tunnel mode.
    pub tunnel: Option<TunnelJson>,
    /// The template in `--tmpl` syntax.
    pub text: String,
}

/// One policy (JSON.md, "Policy").
#[derive(Debug, Serialize)]
pub struct PolicyJson {
    /// Kernel-assigned id (`id & 7` is the direction: in 0, out 1, fwd 2, socket 3/4).
    pub id: u32,
    /// `in`, `out`, `fwd`, `socket-in`, `socket-out`.
    pub dir: String,
    /// Whether the policy belongs to a socket (not to the SPD).
    pub socket: bool,
    /// `ipsec`, `bypass`, `discard`.
    pub action: String,
    /// The PF_KEY policy type name (`ipsec`, `none`, `discard`, …).
    pub policy_type: String,
    /// `sadb_x_policy_type`.
    pub policy_type_id: u16,
    /// Priority (lower wins).
    pub priority: u32,
    /// Source prefix.
    pub src: PrefixJson,
    /// Destination prefix.
    pub dst: PrefixJson,
    /// Upper-layer protocol number, 255 = any.
    pub proto: u8,
    /// Its name, or null.
    pub proto_name: Option<String>,
    /// Source port (0 = any; always 0 for ICMP).
    pub sport: u16,
    /// Destination port (0 = any; always 0 for ICMP).
    pub dport: u16,
    /// ICMP/ICMPv6 type, or null (not ICMP, or any type).
    pub icmp_type: Option<u16>,
    /// ICMP/ICMPv6 code, or null (not ICMP, or any code).
    pub icmp_code: Option<u16>,
    /// The templates, innermost first.
    pub templates: Vec<TemplateJson>,
    /// Unix time the policy was added, or null.
    pub created: Option<u64>,
    /// Unix time of its last use, or null (never used).
    pub last_used: Option<u64>,
    /// Linux's reference count of the policy (`sadb_msg_reserved`).
    pub refcount: u16,
}

fn template_json(r: &IpsecRequest) -> TemplateJson {
    TemplateJson {
        proto: template_proto(r),
        proto_id: r.proto,
        mode: r.mode.to_string(),
        level: r.level.to_string(),
        reqid: r.reqid,
        tunnel: r.tunnel.map(|(s, d)| TunnelJson {
            src: s.ip(),
            dst: d.ip(),
        }),
        text: template_text(r),
    }
}

/// The JSON object of a policy.
pub fn json(p: &PolicyInfo) -> PolicyJson {
    let proto = p.src.proto;
    let icmp = is_icmp(proto);
    let (sp, dp) = (p.src.addr.port(), p.dst.addr.port());
    let nonzero = |v: u16| (icmp && v != 0).then_some(v);
    PolicyJson {
        id: p.policy.id,
        dir: p.policy.dir.to_string(),
        socket: is_socket_policy(p),
        action: action_name(p.policy.policy_type),
        policy_type: p.policy.policy_type.to_string(),
        policy_type_id: p.policy.policy_type.value(),
        priority: p.policy.priority,
        src: PrefixJson {
            address: p.src.addr.ip(),
            prefix_len: p.src.prefix_len,
        },
        dst: PrefixJson {
            address: p.dst.addr.ip(),
            prefix_len: p.dst.prefix_len,
        },
        proto,
        proto_name: proto_name(proto),
        sport: if icmp { 0 } else { sp },
        dport: if icmp { 0 } else { dp },
        icmp_type: nonzero(sp),
        icmp_code: nonzero(dp),
        templates: p.policy.requests.iter().map(template_json).collect(),
        created: p
            .current
            .and_then(|c| (c.addtime != 0).then_some(c.addtime)),
        last_used: p
            .current
            .and_then(|c| (c.usetime != 0).then_some(c.usetime)),
        refcount: p.header.reserved,
    }
}

/// The policy as the message it came in (extensions in af_key's order: SRC, DST, HARD,
/// SOFT, CURRENT, X_POLICY, SEC_CTX), for [`crate::setkey::format::policy_text`].
pub fn to_message_bytes(p: &PolicyInfo) -> Result<Vec<u8>, pfkey::BuildError> {
    let mut ext = vec![
        Extension::Address(ExtType::AddressSrc, p.src),
        Extension::Address(ExtType::AddressDst, p.dst),
    ];
    for (t, l) in [
        (ExtType::LifetimeHard, &p.hard),
        (ExtType::LifetimeSoft, &p.soft),
        (ExtType::LifetimeCurrent, &p.current),
    ] {
        if let Some(l) = l {
            ext.push(Extension::Lifetime(t, *l));
        }
    }
    ext.push(Extension::Policy(p.policy.clone()));
    if let Some(c) = &p.sec_ctx {
        ext.push(Extension::SecCtx {
            alg: c.alg,
            doi: c.doi,
            ctx: c.ctx.clone(),
        });
    }
    MessageRepr {
        header: p.header,
        extensions: ext,
    }
    .to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pfkey::policy::Policy;
    use pfkey::repr::{Header, Lifetime};
    use pfkey::wire::{Mode, MsgType};

    fn info(dir: Direction, id: u32, requests: Vec<IpsecRequest>) -> PolicyInfo {
        let addr = |s: &str, len: u8, port: u16| Address {
            proto: 6,
            prefix_len: len,
            addr: std::net::SocketAddr::new(s.parse().unwrap(), port),
        };
        PolicyInfo {
            header: Header {
                reserved: 2,
                ..Header::new(MsgType::XSpdDump, SaType::Unspec, 1, 4242)
            },
            src: addr("10.1.0.0", 24, 0),
            dst: addr("10.2.0.1", 32, 443),
            policy: Policy {
                policy_type: PolicyType::Ipsec,
                dir,
                reserved: 0,
                id,
                priority: PRIORITY_DEFAULT,
                requests,
            },
            current: Some(Lifetime {
                addtime: 1_700_000_000,
                ..Lifetime::default()
            }),
            hard: None,
            soft: None,
            sec_ctx: None,
        }
    }

    fn tunnel() -> IpsecRequest {
        IpsecRequest {
            proto: 50,
            mode: Mode::Tunnel,
            level: Level::Unique,
            reqid: 5,
            tunnel: Some((
                "192.0.2.1:0".parse().unwrap(),
                "192.0.2.2:0".parse().unwrap(),
            )),
        }
    }

    #[test]
    fn text_block() {
        let mut out = Vec::new();
        write_text(&mut out, &info(Direction::Out, 9, vec![tunnel()])).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "out ipsec 10.1.0.0/24 -> 10.2.0.1 proto tcp dport 443\n  \
             id          9\n  \
             priority    2147483648 (default)\n  \
             template    esp/tunnel/192.0.2.1-192.0.2.2/unique:5\n  \
             created     2023-11-14 22:13:20 UTC\n  \
             last used   never\n"
        );
        let mut out = Vec::new();
        let mut sock = info(Direction::SocketOut, 12, Vec::new());
        sock.policy.policy_type = PolicyType::None;
        write_text(&mut out, &sock).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with("socket-out bypass (per-socket policy)\n"));
    }

    #[test]
    fn json_object() {
        let j = serde_json::to_value(json(&info(Direction::Out, 9, vec![tunnel()]))).unwrap();
        assert_eq!(j["id"], 9);
        assert_eq!(j["dir"], "out");
        assert_eq!(j["socket"], false);
        assert_eq!(j["action"], "ipsec");
        assert_eq!(j["src"]["address"], "10.1.0.0");
        assert_eq!(j["src"]["prefix_len"], 24);
        assert_eq!(j["proto_name"], "tcp");
        assert_eq!(j["dport"], 443);
        assert_eq!(j["icmp_type"], serde_json::Value::Null);
        assert_eq!(j["templates"][0]["tunnel"]["dst"], "192.0.2.2");
        assert_eq!(j["templates"][0]["level"], "unique");
        assert_eq!(j["templates"][0]["reqid"], 5);
        assert_eq!(j["created"], 1_700_000_000u64);
        assert_eq!(j["last_used"], serde_json::Value::Null);
        assert_eq!(j["refcount"], 2);
        let mut icmp = info(Direction::In, 8, Vec::new());
        icmp.src.proto = 1;
        icmp.src.addr.set_port(8);
        icmp.dst.addr.set_port(0);
        let j = serde_json::to_value(json(&icmp)).unwrap();
        assert_eq!(
            (j["icmp_type"].clone(), j["sport"].clone()),
            (8.into(), 0.into())
        );
        assert_eq!(j["icmp_code"], serde_json::Value::Null);
    }

    #[test]
    fn the_message_round_trips_for_setkey_text() {
        let p = info(Direction::Out, 9, vec![tunnel()]);
        let bytes = to_message_bytes(&p).unwrap();
        let m = pfkey::Message::parse(&bytes).unwrap();
        let back = <PolicyInfo as pfkey::client::FromMessage>::from_message(&m).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
}
