//! From the command line to a [`PolicySpec`]: every value of the policy commands is
//! parsed and checked here, without a kernel, so that each mistake is one line that says
//! what would be right (exit status 2) and the SPD is never touched by bad input.
//!
//! The template syntax is setkey's rule syntax (setkey(8), reference notes §7):
//! `PROTO/MODE/[OUTER-SRC-OUTER-DST]/[LEVEL]`.

use std::net::{IpAddr, SocketAddr};

use pfkey::client::PolicySpec;
use pfkey::policy::{IpsecRequest, Policy};
use pfkey::repr::Address;
use pfkey::wire::{Direction, Level, Mode, PolicyType, SaType, IPSEC_MANUAL_REQID_MAX};

use crate::cli::spd::{ActionArg, DirArg, SelectorArgs, SpdAddArgs};
use crate::input::{parse_u64, InputError};
use crate::setkey::names;

/// setkey's default priority (libipsec `PRIORITY_DEFAULT`), used when none is given.
pub const PRIORITY_DEFAULT: u32 = 0x8000_0000;
/// `--priority high`.
pub const PRIORITY_HIGH: u32 = 0x4000_0000;
/// `--priority low`.
pub const PRIORITY_LOW: u32 = 0xC000_0000;

/// `IPSEC_ULPROTO_ANY`.
const ANY: u8 = 255;

fn invalid(msg: impl Into<String>) -> InputError {
    InputError::Invalid(msg.into())
}

/// A checked command line: the request, and what the user should be told about it.
#[derive(Debug)]
pub struct Checked {
    /// The policy to send.
    pub spec: PolicySpec,
    /// Things that are accepted but probably not what was meant.
    pub warnings: Vec<String>,
}

/// The PF_KEY direction of `--dir`.
pub fn direction(d: DirArg) -> Direction {
    match d {
        DirArg::In => Direction::In,
        DirArg::Out => Direction::Out,
        DirArg::Fwd => Direction::Fwd,
    }
}

/// Parses `ADDR` or `ADDR/LEN`.
pub fn parse_prefix(option: &str, text: &str) -> Result<(IpAddr, u8), InputError> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| {
        let hint = if addr
            .chars()
            .any(|c| c.is_ascii_alphabetic() && !c.is_ascii_hexdigit())
        {
            " (give a numeric address; names are not resolved)"
        } else {
            ""
        };
        invalid(format!(
            "{option} '{text}' is not an IPv4 or IPv6 prefix like 10.0.0.0/24, 10.0.0.1 or 2001:db8::/32{hint}"
        ))
    })?;
    let max: u8 = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => l.parse::<u8>().ok().filter(|&v| v <= max).ok_or_else(|| {
            invalid(format!(
                "{option} '{text}': the prefix length must be a number from 0 to {max} for an {} address",
                if ip.is_ipv4() { "IPv4" } else { "IPv6" }
            ))
        })?,
    };
    Ok((ip, len))
}

/// Whether `ip` has bits set beyond its first `len` bits.
fn host_bits(ip: IpAddr, len: u8) -> bool {
    let (bits, width) = match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32u32),
        IpAddr::V6(a) => (u128::from(a), 128),
    };
    let keep = u32::from(len);
    if keep >= width {
        return false;
    }
    let free = width - keep;
    let mask = if free >= 128 {
        u128::MAX
    } else {
        (1u128 << free) - 1
    };
    bits & mask != 0
}

/// Parses `--proto`: a name (`tcp`, `icmp6`, `any`, …) or a number 0-255.
pub fn parse_proto(text: &str) -> Result<u8, InputError> {
    let v = match parse_u64(text) {
        Some(n) => u8::try_from(n).map_err(|_| {
            invalid(format!(
                "--proto {text} is out of range: protocol numbers go up to 255 (255 = any)"
            ))
        })?,
        None => names::protocol_by_name(text).ok_or_else(|| {
            invalid(format!(
                "unknown protocol '{text}' (expected tcp, udp, icmp, icmp6, sctp, any, a name from /etc/protocols, or a number)"
            ))
        })?,
    };
    if v == 0 {
        return Err(invalid(format!(
            "--proto {text} is protocol 0, which a selector takes to mean any protocol: write --proto any"
        )));
    }
    Ok(v)
}

/// Protocols whose selectors carry ports.
fn has_ports(proto: u8) -> bool {
    matches!(proto, 6 | 17 | 33 | 132 | 136)
}

fn proto_text(proto: u8) -> String {
    match proto {
        ANY => "any".into(),
        p => names::protocol_script_name(p)
            .map(str::to_string)
            .unwrap_or_else(|| p.to_string()),
    }
}

/// Parses a port: a number 1-65535 or a service name.
fn parse_port(option: &str, text: &str) -> Result<u16, InputError> {
    let v = match parse_u64(text) {
        Some(n) => u16::try_from(n).ok().filter(|&p| p != 0).ok_or_else(|| {
            invalid(format!(
                "{option} {text} is not a port: 1 to 65535 (leave it out for any port)"
            ))
        })?,
        None => names::service_by_name(text).ok_or_else(|| {
            invalid(format!(
                "{option} '{text}' is neither a port number nor a service name from /etc/services"
            ))
        })?,
    };
    Ok(v)
}

fn parse_u8(option: &str, text: &str) -> Result<u8, InputError> {
    parse_u64(text)
        .and_then(|v| u8::try_from(v).ok())
        .ok_or_else(|| invalid(format!("{option} '{text}' is not a number from 0 to 255")))
}

/// A checked selector.
#[derive(Debug, Clone, Copy)]
pub struct Selector {
    /// Source: prefix, port (or ICMP type).
    pub src: Address,
    /// Destination: prefix, port (or ICMP code).
    pub dst: Address,
    /// Upper-layer protocol (255 = any).
    pub proto: u8,
}

/// Checks `--src/--dst/--proto/--sport/--dport/--icmp-type/--icmp-code`. `--src` and
/// `--dst` must both be given.
pub fn selector(a: &SelectorArgs, warnings: &mut Vec<String>) -> Result<Selector, InputError> {
    let (Some(src), Some(dst)) = (&a.src, &a.dst) else {
        return Err(invalid(
            "the selector needs both --src and --dst (0.0.0.0/0 or ::/0 for any address)",
        ));
    };
    let (sip, slen) = parse_prefix("--src", src)?;
    let (dip, dlen) = parse_prefix("--dst", dst)?;
    if sip.is_ipv4() != dip.is_ipv4() {
        return Err(invalid(format!(
            "--src {src} and --dst {dst} mix IPv4 and IPv6: a selector's prefixes are of one family"
        )));
    }
    for (opt, text, ip, len) in [("--src", src, sip, slen), ("--dst", dst, dip, dlen)] {
        if host_bits(ip, len) {
            warnings.push(format!(
                "{opt} {text} has bits set beyond /{len}: the kernel matches the whole /{len} \
                 network but keeps the address as given, so name it the same way to delete it"
            ));
        }
    }
    let proto = match &a.proto {
        Some(p) => parse_proto(p)?,
        None => ANY,
    };
    let v4 = sip.is_ipv4();
    if proto == names::IPPROTO_ICMP && !v4 {
        warnings.push(
            "--proto icmp with IPv6 prefixes selects IPv4's ICMP (protocol 1); IPv6 uses icmp6 (58)"
                .into(),
        );
    }
    if proto == names::IPPROTO_ICMPV6 && v4 {
        warnings.push(
            "--proto icmp6 with IPv4 prefixes selects protocol 58; IPv4's ICMP is icmp (1)".into(),
        );
    }
    let icmp = matches!(proto, names::IPPROTO_ICMP | names::IPPROTO_ICMPV6);
    let name = proto_text(proto);
    let (mut sport, mut dport) = (0u16, 0u16);
    for (opt, val, slot) in [
        ("--sport", &a.sport, &mut sport),
        ("--dport", &a.dport, &mut dport),
    ] {
        let Some(text) = val else { continue };
        if !has_ports(proto) {
            let what = if proto == ANY {
                format!("{opt} needs --proto tcp, udp, sctp, dccp or udplite: ports belong to a protocol")
            } else if icmp {
                format!("{opt}: {name} has no ports; select its messages with --icmp-type and --icmp-code")
            } else {
                format!("{opt}: protocol {name} has no ports (only tcp, udp, sctp, dccp and udplite do)")
            };
            return Err(invalid(what));
        }
        *slot = parse_port(opt, text)?;
    }
    for (opt, val, slot) in [
        ("--icmp-type", &a.icmp_type, &mut sport),
        ("--icmp-code", &a.icmp_code, &mut dport),
    ] {
        let Some(text) = val else { continue };
        if !icmp {
            return Err(invalid(format!(
                "{opt} needs --proto icmp or icmp6 (the protocol is {name})"
            )));
        }
        let v = parse_u8(opt, text)?;
        if v == 0 {
            warnings.push(format!(
                "{opt} 0 selects any {}: PF_KEY carries ICMP type and code in the port fields, where 0 means any",
                &opt[7..]
            ));
        }
        *slot = u16::from(v);
    }
    if a.icmp_code.is_some() && a.icmp_type.is_none() {
        return Err(invalid(
            "--icmp-code needs --icmp-type: a code means something only for one message type",
        ));
    }
    Ok(Selector {
        src: Address {
            proto,
            prefix_len: slen,
            addr: SocketAddr::new(sip, sport),
        },
        dst: Address {
            proto,
            prefix_len: dlen,
            addr: SocketAddr::new(dip, dport),
        },
        proto,
    })
}

/// Parses `--priority`: a number, or `high`, `default`, `low`.
pub fn parse_priority(text: &str) -> Result<u32, InputError> {
    match text {
        "high" => return Ok(PRIORITY_HIGH),
        "default" | "def" => return Ok(PRIORITY_DEFAULT),
        "low" => return Ok(PRIORITY_LOW),
        _ => {}
    }
    parse_u64(text)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| {
            invalid(format!(
                "--priority '{text}' is not a number from 0 to 4294967295 (lower wins) or high, default, low"
            ))
        })
}

/// Parses `--id`.
pub fn parse_id(text: &str) -> Result<u32, InputError> {
    parse_u64(text)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| {
            invalid(format!(
                "--id '{text}' is not a policy id (a number from spddump, decimal or 0x hex)"
            ))
        })
}

/// Parses the tunnel endpoints `OUTER-SRC-OUTER-DST` (the `-` that splits two valid
/// addresses; IPv6 addresses contain no `-`).
fn parse_endpoints(rule: &str, text: &str) -> Result<(IpAddr, IpAddr), InputError> {
    for (i, _) in text.match_indices('-') {
        if let (Ok(a), Ok(b)) = (text[..i].parse::<IpAddr>(), text[i + 1..].parse::<IpAddr>()) {
            if a.is_ipv4() != b.is_ipv4() {
                return Err(invalid(format!(
                    "--tmpl {rule}: the tunnel endpoints {a} and {b} mix IPv4 and IPv6"
                )));
            }
            return Ok((a, b));
        }
    }
    Err(invalid(format!(
        "--tmpl {rule}: '{text}' is not a pair of tunnel endpoints OUTER-SRC-OUTER-DST with numeric addresses, like 192.0.2.1-192.0.2.2"
    )))
}

/// Edit distance (insertions, deletions, substitutions) between two short words.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// ` (did you mean X?)` for the closest option within two edits, or nothing.
fn did_you_mean(word: &str, options: &[&str]) -> String {
    let word = word.to_ascii_lowercase();
    options
        .iter()
        .map(|o| (distance(&word, o), o))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| format!(" (did you mean {o}?)"))
        .unwrap_or_default()
}

/// Parses one `--tmpl` rule: `PROTO/MODE/[OUTER-SRC-OUTER-DST]/[LEVEL]`, where the
/// trailing parts may be left out (`esp/transport`, `esp/transport//require`).
/// An absent level is `require`.
pub fn parse_template(rule: &str, warnings: &mut Vec<String>) -> Result<IpsecRequest, InputError> {
    let parts: Vec<&str> = rule.split('/').collect();
    if parts.len() < 2 || parts.len() > 4 {
        return Err(invalid(format!(
            "--tmpl '{rule}' is not PROTO/MODE/[OUTER-SRC-OUTER-DST]/[LEVEL], e.g. esp/transport//require or esp/tunnel/192.0.2.1-192.0.2.2/require"
        )));
    }
    let proto = match parts[0] {
        "esp" => SaType::Esp,
        "ah" => SaType::Ah,
        "ipcomp" => SaType::IpComp,
        p => {
            return Err(invalid(format!(
                "--tmpl {rule}: unknown protocol '{p}' (expected esp, ah or ipcomp){}",
                did_you_mean(p, &["esp", "ah", "ipcomp"])
            )))
        }
    };
    let mode = match parts[1] {
        "transport" => Mode::Transport,
        "tunnel" => Mode::Tunnel,
        m => {
            return Err(invalid(format!(
                "--tmpl {rule}: unknown mode '{m}' (expected transport or tunnel){}",
                did_you_mean(m, &["transport", "tunnel"])
            )))
        }
    };
    let ends = parts.get(2).copied().unwrap_or("");
    let tunnel = match (mode, ends.is_empty()) {
        (Mode::Tunnel, true) => {
            return Err(invalid(format!(
                "--tmpl {rule}: tunnel mode needs the tunnel endpoints: {}/tunnel/OUTER-SRC-OUTER-DST/LEVEL, e.g. {}/tunnel/192.0.2.1-192.0.2.2/require",
                parts[0], parts[0]
            )))
        }
        (Mode::Tunnel, false) => {
            let (a, b) = parse_endpoints(rule, ends)?;
            Some((SocketAddr::new(a, 0), SocketAddr::new(b, 0)))
        }
        (_, false) => {
            return Err(invalid(format!(
                "--tmpl {rule}: endpoints belong to tunnel mode only; a transport template is {}/transport//LEVEL",
                parts[0]
            )))
        }
        (_, true) => None,
    };
    let level_text = parts.get(3).copied().unwrap_or("");
    let (name, reqid_text) = match level_text.split_once(':') {
        Some((n, r)) => (n, Some(r)),
        None => (level_text, None),
    };
    let level = match name {
        "" | "require" => Level::Require,
        "use" => Level::Use,
        "unique" => Level::Unique,
        "default" => Level::Default,
        l => {
            return Err(invalid(format!(
                "--tmpl {rule}: unknown level '{l}' (expected require, use, unique, unique:REQID or default){}",
                did_you_mean(l, &["require", "use", "unique", "default"])
            )))
        }
    };
    let reqid = match reqid_text {
        None => 0,
        Some(_) if level != Level::Unique => {
            return Err(invalid(format!(
                "--tmpl {rule}: only 'unique' takes a reqid (Linux forces reqid 0 for '{name}')"
            )))
        }
        Some(r) => {
            let v = parse_u64(r).and_then(|v| u32::try_from(v).ok()).ok_or_else(|| {
                invalid(format!(
                    "--tmpl {rule}: reqid '{r}' is not a number (1 to {IPSEC_MANUAL_REQID_MAX} for SAs added by hand)"
                ))
            })?;
            if v > IPSEC_MANUAL_REQID_MAX {
                warnings.push(format!(
                    "--tmpl {rule}: reqid {v} is above {IPSEC_MANUAL_REQID_MAX} (0x3fff): Linux ignores it and allocates a reqid of its own"
                ));
            }
            v
        }
    };
    Ok(IpsecRequest {
        proto: proto.ip_proto().unwrap_or(0),
        mode,
        level,
        reqid,
        tunnel,
    })
}

/// Whether a template is an optional (`use`) tunnel, which Linux refuses in outbound
/// policies since May 2023 (af_key commit cf3128a7aca5).
pub fn has_optional_tunnel(requests: &[IpsecRequest]) -> bool {
    requests
        .iter()
        .any(|r| r.level == Level::Use && matches!(r.mode, Mode::Tunnel | Mode::Beet))
}

/// Checks the whole command line of `spdadd`/`spdupdate`.
pub fn check(args: &SpdAddArgs) -> Result<Checked, InputError> {
    let mut warnings = Vec::new();
    let sel = selector(&args.selector, &mut warnings)?;
    let dir = direction(args.dir);
    let priority = match &args.priority {
        Some(p) => parse_priority(p)?,
        None => PRIORITY_DEFAULT,
    };
    let action = match (args.action, args.tmpl.is_empty()) {
        (None, false) | (Some(ActionArg::Ipsec), false) => PolicyType::Ipsec,
        (None, true) | (Some(ActionArg::Ipsec), true) => {
            return Err(invalid(
                "an ipsec policy needs at least one --tmpl (without one Linux lets the traffic pass in clear: say --action bypass if that is meant); or give --action bypass or discard",
            ))
        }
        (Some(a @ (ActionArg::Bypass | ActionArg::Discard)), false) => {
            return Err(invalid(format!(
                "--action {} takes no --tmpl: templates are for ipsec policies",
                if a == ActionArg::Bypass { "bypass" } else { "discard" }
            )))
        }
        (Some(ActionArg::Bypass), true) => PolicyType::None,
        (Some(ActionArg::Discard), true) => PolicyType::Discard,
    };
    let requests = args
        .tmpl
        .iter()
        .map(|t| parse_template(t, &mut warnings))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Checked {
        spec: PolicySpec {
            proto: sel.proto,
            ..PolicySpec::new(
                sel.src,
                sel.dst,
                Policy {
                    policy_type: action,
                    dir,
                    reserved: 0,
                    id: 0,
                    priority,
                    requests,
                },
            )
        },
        warnings,
    })
}

/// The request of `spddelete` by selector: the selector and direction (the kernel
/// ignores the rest of the policy).
pub fn delete_spec(a: &SelectorArgs, dir: DirArg) -> Result<Checked, InputError> {
    let mut warnings = Vec::new();
    let sel = selector(a, &mut warnings)?;
    Ok(Checked {
        spec: PolicySpec {
            proto: sel.proto,
            ..PolicySpec::new(
                sel.src,
                sel.dst,
                Policy {
                    policy_type: PolicyType::Ipsec,
                    dir: direction(dir),
                    reserved: 0,
                    id: 0,
                    priority: 0,
                    requests: Vec::new(),
                },
            )
        },
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(src: &str, dst: &str) -> SelectorArgs {
        SelectorArgs {
            src: Some(src.into()),
            dst: Some(dst.into()),
            proto: None,
            sport: None,
            dport: None,
            icmp_type: None,
            icmp_code: None,
        }
    }

    fn err(r: Result<impl std::fmt::Debug, InputError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn prefixes() {
        assert_eq!(
            parse_prefix("--src", "10.0.0.0/24").unwrap(),
            ("10.0.0.0".parse().unwrap(), 24)
        );
        assert_eq!(parse_prefix("--src", "10.0.0.1").unwrap().1, 32);
        assert_eq!(parse_prefix("--dst", "2001:db8::/32").unwrap().1, 32);
        assert_eq!(parse_prefix("--dst", "::/0").unwrap().1, 0);
        assert!(err(parse_prefix("--src", "10.0.0.0/33")).contains("0 to 32"));
        assert!(err(parse_prefix("--src", "fd00::/129")).contains("0 to 128"));
        assert!(err(parse_prefix("--src", "host.example")).contains("names are not resolved"));
        assert!(host_bits("10.0.0.1".parse().unwrap(), 24));
        assert!(!host_bits("10.0.0.0".parse().unwrap(), 24));
        assert!(!host_bits("10.0.0.1".parse().unwrap(), 32));
        assert!(host_bits("2001:db8::1".parse().unwrap(), 64));
        assert!(!host_bits("::".parse().unwrap(), 0));
        assert!(host_bits("::1".parse().unwrap(), 0));
        assert!(!host_bits("0.0.0.0".parse().unwrap(), 0));
    }

    #[test]
    fn selectors_and_their_errors() {
        let mut w = Vec::new();
        let mut a = sel("10.0.0.0/24", "10.1.0.0/16");
        a.proto = Some("tcp".into());
        a.dport = Some("443".into());
        a.sport = Some("https".into());
        let s = selector(&a, &mut w).unwrap();
        assert_eq!(
            (s.proto, s.src.addr.port(), s.dst.addr.port()),
            (6, 443, 443)
        );
        assert!(w.is_empty(), "{w:?}");

        let e = err(selector(&sel("10.0.0.1", "::1"), &mut w));
        assert!(e.contains("mix IPv4 and IPv6"), "{e}");
        let mut a = sel("10.0.0.1", "10.0.0.2");
        a.dport = Some("80".into());
        assert!(err(selector(&a, &mut w)).contains("--dport needs --proto tcp"));
        a.proto = Some("icmp".into());
        assert!(err(selector(&a, &mut w)).contains("icmp has no ports"));
        a.proto = Some("gre".into());
        assert!(err(selector(&a, &mut w)).contains("protocol gre has no ports"));
        let mut a = sel("10.0.0.1", "10.0.0.2");
        a.icmp_type = Some("8".into());
        assert!(err(selector(&a, &mut w)).contains("--icmp-type needs --proto icmp"));
        a.proto = Some("icmp".into());
        let s = selector(&a, &mut w).unwrap();
        assert_eq!((s.src.addr.port(), s.dst.addr.port()), (8, 0));
        a.icmp_code = Some("256".into());
        assert!(err(selector(&a, &mut w)).contains("0 to 255"));
        let mut a = sel("10.0.0.1", "10.0.0.2");
        a.proto = Some("icmp".into());
        a.icmp_code = Some("1".into());
        assert!(err(selector(&a, &mut w)).contains("--icmp-code needs --icmp-type"));
        let mut a = sel("10.0.0.1", "10.0.0.2");
        a.proto = Some("nosuchproto".into());
        assert!(err(selector(&a, &mut w)).contains("unknown protocol"));
        a.proto = Some("300".into());
        assert!(err(selector(&a, &mut w)).contains("out of range"));
        a.proto = Some("0".into());
        assert!(err(selector(&a, &mut w)).contains("write --proto any"));
        let a = SelectorArgs {
            dst: None,
            ..sel("10.0.0.1", "")
        };
        assert!(err(selector(&a, &mut w)).contains("needs both --src and --dst"));

        let mut w = Vec::new();
        let mut a = sel("fd00::/64", "fd01::1/64");
        a.proto = Some("icmp".into());
        a.icmp_type = Some("0".into());
        selector(&a, &mut w).unwrap();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("bits set beyond /64"));
        assert!(w[1].contains("IPv6 uses icmp6"));
        assert!(w[2].contains("0 means any"));
    }

    #[test]
    fn templates() {
        let mut w = Vec::new();
        let t = parse_template("esp/transport//require", &mut w).unwrap();
        assert_eq!(
            (t.proto, t.mode, t.level, t.reqid, t.tunnel),
            (50, Mode::Transport, Level::Require, 0, None)
        );
        assert_eq!(
            parse_template("ah/transport", &mut w).unwrap().level,
            Level::Require
        );
        assert_eq!(parse_template("ah/transport/", &mut w).unwrap().proto, 51);
        let t = parse_template("esp/tunnel/192.0.2.1-192.0.2.2/unique:5", &mut w).unwrap();
        assert_eq!((t.level, t.reqid), (Level::Unique, 5));
        assert_eq!(
            t.tunnel,
            Some((
                "192.0.2.1:0".parse().unwrap(),
                "192.0.2.2:0".parse().unwrap()
            ))
        );
        let t = parse_template("ipcomp/tunnel/2001:db8::1-2001:db8::2/use", &mut w).unwrap();
        assert_eq!((t.proto, t.level), (108, Level::Use));
        assert!(w.is_empty());
        parse_template("esp/transport//unique:20000", &mut w).unwrap();
        assert!(w[0].contains("allocates a reqid of its own"), "{w:?}");

        let e = |r: &str| err(parse_template(r, &mut Vec::new()));
        assert!(e("esp/tunnel//require").contains("tunnel mode needs the tunnel endpoints"));
        assert!(e("esp/tunnel").contains("tunnel mode needs the tunnel endpoints"));
        assert!(e("esp/transport/10.0.0.1-10.0.0.2/require").contains("tunnel mode only"));
        assert!(e("esp/tunnel/10.0.0.1-::2/require").contains("mix IPv4 and IPv6"));
        assert!(e("esp/tunnel/10.0.0.1/require").contains("not a pair of tunnel endpoints"));
        let bad_level = e("esp/transport//requir");
        assert!(bad_level.contains("unknown level 'requir'"), "{bad_level}");
        assert!(bad_level.contains("did you mean require?"), "{bad_level}");
        assert!(e("esp/transport//require:5").contains("only 'unique' takes a reqid"));
        assert!(e("esp/transport//unique:x").contains("is not a number"));
        assert!(e("esq/transport").contains("did you mean esp?"));
        assert!(e("esp/tunel/1.1.1.1-2.2.2.2").contains("did you mean tunnel?"));
        assert!(e("esp").contains("is not PROTO/MODE"));
        assert!(e("esp/transport//require/x").contains("is not PROTO/MODE"));
    }

    proptest::proptest! {
        /// No input makes a parser panic (arbitrary text, and text made of the characters
        /// the syntax uses, which reaches deeper).
        #[test]
        fn parsers_never_panic(
            any in ".{0,60}",
            shaped in "[a-z0-9:./\\-\\[\\]]{0,48}",
        ) {
            for text in [&any, &shaped] {
                let mut w = Vec::new();
                let _ = parse_template(text, &mut w);
                let _ = parse_prefix("--src", text);
                let _ = parse_proto(text);
                let _ = parse_priority(text);
                let _ = parse_id(text);
                let mut a = sel(text, "0.0.0.0/0");
                a.proto = Some(text.clone());
                a.sport = Some(text.clone());
                let _ = selector(&a, &mut w);
                let mut a = sel("::/0", "::/0");
                a.proto = Some("icmp6".into());
                a.icmp_type = Some(text.clone());
                a.icmp_code = Some(text.clone());
                let _ = selector(&a, &mut w);
            }
        }
    }

    #[test]
    fn priorities_and_ids() {
        assert_eq!(parse_priority("100"), Ok(100));
        assert_eq!(parse_priority("0x10"), Ok(16));
        assert_eq!(parse_priority("high"), Ok(PRIORITY_HIGH));
        assert_eq!(parse_priority("default"), Ok(PRIORITY_DEFAULT));
        assert_eq!(parse_priority("low"), Ok(PRIORITY_LOW));
        assert!(parse_priority("4294967296").is_err());
        assert!(parse_priority("urgent").is_err());
        assert_eq!(parse_id("0x19"), Ok(25));
        assert!(parse_id("-1").is_err());
    }
}
