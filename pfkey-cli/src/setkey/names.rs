//! Names of IP protocols and services, as setkey resolves them through `getprotobyname(3)`
//! and `getservbyname(3)`.
//!
//! A built-in table (the common entries of Debian's netbase `/etc/protocols` and
//! `/etc/services`) makes scripts check the same on every machine; the system files, when
//! present, are read once and consulted first, so local additions work as they do for setkey.
//! setkey's own special cases come before both: `any` (255), `icmp6` (58) and `ip4` (4),
//! which Debian spells `ipv6-icmp` and `ipencap` (reference notes §4).
#![forbid(unsafe_code)]

use std::sync::OnceLock;

/// `IPSEC_ULPROTO_ANY`.
pub const ULP_ANY: u8 = 255;
/// `IPPROTO_ICMP`.
pub const IPPROTO_ICMP: u8 = 1;
/// `IPPROTO_GRE`.
pub const IPPROTO_GRE: u8 = 47;
/// `IPPROTO_ICMPV6`.
pub const IPPROTO_ICMPV6: u8 = 58;
/// `IPPROTO_MH` (Mobility Header).
pub const IPPROTO_MH: u8 = 135;

/// (name, number, aliases) from Debian netbase's `/etc/protocols`.
static PROTOCOLS: &[(&str, u8, &[&str])] = &[
    ("ip", 0, &["IP"]),
    ("hopopt", 0, &["HOPOPT"]),
    ("icmp", 1, &["ICMP"]),
    ("igmp", 2, &["IGMP"]),
    ("ggp", 3, &["GGP"]),
    ("ipencap", 4, &["IP-ENCAP"]),
    ("st", 5, &["ST"]),
    ("tcp", 6, &["TCP"]),
    ("egp", 8, &["EGP"]),
    ("igp", 9, &["IGP"]),
    ("pup", 12, &["PUP"]),
    ("udp", 17, &["UDP"]),
    ("hmp", 20, &["HMP"]),
    ("xns-idp", 22, &["XNS-IDP"]),
    ("rdp", 27, &["RDP"]),
    ("iso-tp4", 29, &["ISO-TP4"]),
    ("dccp", 33, &["DCCP"]),
    ("xtp", 36, &["XTP"]),
    ("ddp", 37, &["DDP"]),
    ("idpr-cmtp", 38, &["IDPR-CMTP"]),
    ("ipv6", 41, &["IPv6"]),
    ("ipv6-route", 43, &["IPv6-Route"]),
    ("ipv6-frag", 44, &["IPv6-Frag"]),
    ("idrp", 45, &["IDRP"]),
    ("rsvp", 46, &["RSVP"]),
    ("gre", 47, &["GRE"]),
    ("esp", 50, &["IPSEC-ESP"]),
    ("ah", 51, &["IPSEC-AH"]),
    ("skip", 57, &["SKIP"]),
    ("ipv6-icmp", 58, &["IPv6-ICMP"]),
    ("ipv6-nonxt", 59, &["IPv6-NoNxt"]),
    ("ipv6-opts", 60, &["IPv6-Opts"]),
    ("rspf", 73, &["RSPF", "CPHB"]),
    ("vmtp", 81, &["VMTP"]),
    ("eigrp", 88, &["EIGRP"]),
    ("ospf", 89, &["OSPFIGP"]),
    ("ax.25", 93, &["AX.25"]),
    ("ipip", 94, &["IPIP"]),
    ("etherip", 97, &["ETHERIP"]),
    ("encap", 98, &["ENCAP"]),
    ("pim", 103, &["PIM"]),
    ("ipcomp", 108, &["IPCOMP"]),
    ("vrrp", 112, &["VRRP"]),
    ("l2tp", 115, &["L2TP"]),
    ("isis", 124, &["ISIS"]),
    ("sctp", 132, &["SCTP"]),
    ("fc", 133, &["FC"]),
    ("mobility-header", 135, &["Mobility-Header"]),
    ("udplite", 136, &["UDPLite"]),
    ("mpls-in-ip", 137, &["MPLS-in-IP"]),
    ("manet", 138, &[]),
    ("hip", 139, &["HIP"]),
    ("shim6", 140, &["Shim6"]),
    ("wesp", 141, &["WESP"]),
    ("rohc", 142, &["ROHC"]),
    ("ethernet", 143, &["Ethernet"]),
];

/// (name, port, aliases) from Debian netbase's `/etc/services` (tcp and udp merged).
static SERVICES: &[(&str, u16, &[&str])] = &[
    ("echo", 7, &[]),
    ("discard", 9, &["sink", "null"]),
    ("daytime", 13, &[]),
    ("ftp-data", 20, &[]),
    ("ftp", 21, &[]),
    ("ssh", 22, &[]),
    ("telnet", 23, &[]),
    ("smtp", 25, &["mail"]),
    ("time", 37, &[]),
    ("domain", 53, &[]),
    ("bootps", 67, &[]),
    ("bootpc", 68, &[]),
    ("tftp", 69, &[]),
    ("http", 80, &["www"]),
    ("kerberos", 88, &["kerberos5", "krb5", "kerberos-sec"]),
    ("pop3", 110, &["pop-3"]),
    ("sunrpc", 111, &["portmapper"]),
    ("nntp", 119, &["readnews", "untp"]),
    ("ntp", 123, &[]),
    ("netbios-ns", 137, &[]),
    ("netbios-dgm", 138, &[]),
    ("netbios-ssn", 139, &[]),
    ("imap2", 143, &["imap"]),
    ("snmp", 161, &[]),
    ("snmp-trap", 162, &["snmptrap"]),
    ("bgp", 179, &[]),
    ("ldap", 389, &[]),
    ("https", 443, &[]),
    ("microsoft-ds", 445, &[]),
    ("submissions", 465, &["ssmtp", "smtps", "urd"]),
    ("isakmp", 500, &[]),
    ("syslog", 514, &[]),
    ("submission", 587, &[]),
    ("ldaps", 636, &[]),
    ("domain-s", 853, &[]),
    ("rsync", 873, &[]),
    ("imaps", 993, &[]),
    ("pop3s", 995, &[]),
    ("openvpn", 1194, &[]),
    ("l2f", 1701, &["l2tp"]),
    ("radius", 1812, &[]),
    ("radius-acct", 1813, &["radacct"]),
    ("nfs", 2049, &[]),
    ("mysql", 3306, &[]),
    ("ipsec-nat-t", 4500, &[]),
    ("sip", 5060, &[]),
    ("sip-tls", 5061, &[]),
    ("postgresql", 5432, &["postgres"]),
];

/// Entries of a netbase-style file: name, number, aliases.
type Table = Vec<(String, u32, Vec<String>)>;

/// Parses `/etc/protocols` or `/etc/services` text: `NAME NUMBER[/PROTO] [ALIAS…] [# …]`.
fn parse_netbase(text: &str) -> Table {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let (Some(name), Some(num)) = (fields.next(), fields.next()) else {
            continue;
        };
        let num = num.split('/').next().unwrap_or("");
        let Ok(n) = num.parse::<u32>() else {
            continue;
        };
        out.push((
            name.to_string(),
            n,
            fields.map(str::to_string).collect::<Vec<_>>(),
        ));
    }
    out
}

fn system_protocols() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        std::fs::read_to_string("/etc/protocols")
            .map(|t| parse_netbase(&t))
            .unwrap_or_default()
    })
}

fn system_services() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        std::fs::read_to_string("/etc/services")
            .map(|t| parse_netbase(&t))
            .unwrap_or_default()
    })
}

fn find(table: &Table, name: &str, max: u32) -> Option<u32> {
    table
        .iter()
        .find(|(n, v, aliases)| *v <= max && (n == name || aliases.iter().any(|a| a == name)))
        .map(|(_, v, _)| *v)
}

/// An upper-layer protocol by name (setkey's special names, then `/etc/protocols`, then
/// the built-in table); case-sensitive like `getprotobyname`.
pub fn protocol_by_name(name: &str) -> Option<u8> {
    match name {
        "any" => return Some(ULP_ANY),
        "icmp6" => return Some(IPPROTO_ICMPV6),
        "ip4" => return Some(4),
        _ => {}
    }
    if let Some(v) = find(system_protocols(), name, 255) {
        return u8::try_from(v).ok();
    }
    PROTOCOLS
        .iter()
        .find(|(n, _, aliases)| *n == name || aliases.contains(&name))
        .map(|(_, v, _)| *v)
}

/// The name a script should use for a protocol number: one the built-in table (and so every
/// machine) knows; `any` for 255, `icmp6` for 58; `None` when there is no name.
pub fn protocol_script_name(proto: u8) -> Option<&'static str> {
    match proto {
        ULP_ANY => Some("any"),
        IPPROTO_ICMPV6 => Some("icmp6"),
        _ => PROTOCOLS
            .iter()
            .find(|(_, v, _)| *v == proto)
            .map(|(n, _, _)| *n),
    }
}

/// The name `setkey -DP` prints (`getprotobynumber`: the system file first), or `None`.
pub fn protocol_display_name(proto: u8) -> Option<String> {
    if let Some((n, _, _)) = system_protocols()
        .iter()
        .find(|(_, v, _)| *v == u32::from(proto))
    {
        return Some(n.clone());
    }
    PROTOCOLS
        .iter()
        .find(|(_, v, _)| *v == proto)
        .map(|(n, _, _)| (*n).to_string())
}

/// A port by service name (`/etc/services`, then the built-in table).
pub fn service_by_name(name: &str) -> Option<u16> {
    if let Some(v) = find(system_services(), name, 65535) {
        return u16::try_from(v).ok();
    }
    SERVICES
        .iter()
        .find(|(n, _, aliases)| *n == name || aliases.contains(&name))
        .map(|(_, v, _)| *v)
}

/// Whether the protocol carries a type and code where others carry ports (ICMP, ICMPv6, MH).
pub fn has_type_code(proto: u8) -> bool {
    matches!(proto, IPPROTO_ICMP | IPPROTO_ICMPV6 | IPPROTO_MH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setkey_special_names_and_netbase_names() {
        assert_eq!(protocol_by_name("any"), Some(255));
        assert_eq!(protocol_by_name("icmp6"), Some(58));
        assert_eq!(protocol_by_name("ipv6-icmp"), Some(58));
        assert_eq!(protocol_by_name("ip4"), Some(4));
        assert_eq!(protocol_by_name("ipencap"), Some(4));
        assert_eq!(protocol_by_name("tcp"), Some(6));
        assert_eq!(protocol_by_name("TCP"), Some(6));
        assert_eq!(protocol_by_name("gre"), Some(47));
        assert_eq!(protocol_by_name("mobility-header"), Some(135));
        assert_eq!(protocol_by_name("nosuchproto"), None);
        assert_eq!(protocol_script_name(58), Some("icmp6"));
        assert_eq!(protocol_script_name(6), Some("tcp"));
        assert_eq!(protocol_script_name(255), Some("any"));
        assert_eq!(protocol_script_name(200), None);
        // Every built-in script name parses back to its number.
        for (n, v, aliases) in PROTOCOLS {
            if *v != 0 {
                assert_eq!(protocol_by_name(n), Some(*v), "{n}");
                for a in *aliases {
                    assert_eq!(protocol_by_name(a), Some(*v), "{a}");
                }
            }
        }
    }

    #[test]
    fn services() {
        assert_eq!(service_by_name("isakmp"), Some(500));
        assert_eq!(service_by_name("ipsec-nat-t"), Some(4500));
        assert_eq!(service_by_name("http"), Some(80));
        assert_eq!(service_by_name("www"), Some(80));
        assert_eq!(service_by_name("no-such-service"), None);
    }

    #[test]
    fn netbase_parser_ignores_junk() {
        let t = parse_netbase("# c\nfoo 12/tcp bar baz # x\n\nbad\nbad2 x\nq 7\n");
        assert_eq!(
            t,
            vec![
                ("foo".into(), 12, vec!["bar".into(), "baz".into()]),
                ("q".into(), 7, vec![])
            ]
        );
    }
}
