//! Arguments of the security policy commands: `spdadd`, `spdupdate`, `spddelete`,
//! `spdget`, `spddump`, `spdflush` (their code: `cmd/spd.rs`).
//!
//! Values that need checking (prefixes, protocols, ports, ICMP type and code, templates,
//! priorities, ids) are taken as text and parsed by `cmd::spd::spec`, so that every
//! mistake is reported in one line that says what would be right, before any socket is
//! opened. Directions and actions are closed sets, which clap checks (with a suggestion
//! for a near miss).

use clap::{ArgGroup, Args, ValueEnum};

// The traffic a policy applies to (its selector). Used by every command that names a
// policy by what it matches.
#[derive(Debug, Args)]
pub struct SelectorArgs {
    /// Source prefix: ADDR/LEN or a single ADDR (IPv4 or IPv6; 0.0.0.0/0 or ::/0 for
    /// any).
    #[arg(long, value_name = "PREFIX", help_heading = "Selector")]
    pub src: Option<String>,
    /// Destination prefix, of the same family as --src.
    #[arg(long, value_name = "PREFIX", help_heading = "Selector")]
    pub dst: Option<String>,
    /// Upper-layer protocol: tcp, udp, icmp, icmp6, sctp, any (the default), another
    /// name from /etc/protocols, or a number 1-254.
    #[arg(long, value_name = "PROTO", help_heading = "Selector")]
    pub proto: Option<String>,
    /// Source port (a number or a service name); only with a protocol that has ports
    /// (tcp, udp, sctp, dccp, udplite). Default: any.
    #[arg(long, value_name = "PORT", help_heading = "Selector")]
    pub sport: Option<String>,
    /// Destination port, like --sport.
    #[arg(long, value_name = "PORT", help_heading = "Selector")]
    pub dport: Option<String>,
    /// ICMP or ICMPv6 type (0-255; only with --proto icmp or icmp6). PF_KEY carries it
    /// in the source port field, where 0 means any.
    #[arg(long, value_name = "TYPE", help_heading = "Selector")]
    pub icmp_type: Option<String>,
    /// ICMP or ICMPv6 code (0-255), carried in the destination port field (0 = any).
    #[arg(long, value_name = "CODE", help_heading = "Selector")]
    pub icmp_code: Option<String>,
}

// Arguments of `pfkey spdadd` and `pfkey spdupdate`.
#[derive(Debug, Args)]
#[command(after_long_help = SPDADD_HELP)]
pub struct SpdAddArgs {
    /// What the policy matches.
    #[command(flatten)]
    pub selector: SelectorArgs,
    /// Which traffic: in (received for this host), out (sent by it), fwd (forwarded).
    #[arg(long, value_enum, help_heading = "Policy")]
    pub dir: DirArg,
    /// What to do: ipsec (apply the templates; the default when --tmpl is given), bypass
    /// (pass in clear), discard (drop).
    #[arg(long, value_enum, help_heading = "Policy")]
    pub action: Option<ActionArg>,
    /// Priority, lower wins: a number 0-4294967295, or high (0x40000000), default
    /// (0x80000000, setkey's default, used when absent) or low (0xc0000000).
    #[arg(long, value_name = "N", help_heading = "Policy")]
    pub priority: Option<String>,
    /// A template (repeat for several, innermost first, at most 6):
    /// PROTO/MODE/[OUTER-SRC-OUTER-DST]/[LEVEL], as in setkey. PROTO: esp, ah, ipcomp;
    /// MODE: transport, tunnel (which needs the endpoints); LEVEL: require (the default),
    /// use, unique, unique:REQID, default.
    // The help text is clap's: its brackets are setkey's syntax, not rustdoc links.
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(long = "tmpl", value_name = "RULE", help_heading = "Policy")]
    pub tmpl: Vec<String>,
}

const SPDADD_HELP: &str = "\
Templates, as setkey writes its rules:
  esp/transport//require              ESP between the two hosts
  esp/tunnel/192.0.2.1-192.0.2.2/require
                                      ESP in a tunnel between two gateways
  esp/tunnel/2001:db8::1-2001:db8::2/unique:5
                                      the same over IPv6, with SAs of reqid 5 only
  ah/transport//use                   AH when an SA exists, else in clear
Several --tmpl apply innermost first: --tmpl esp/transport//require --tmpl
ah/transport//require gives IP|AH|ESP.

Linux refuses optional ('use') tunnel templates in out policies since May 2023
(EINVAL), and more than 6 templates (ELOOP). pfkey adds no fwd policy by itself (setkey
does for every in policy): a tunnel gateway needs one too.

Everything is checked before the PF_KEY socket is opened. Nothing is printed on
success; -v prints the policy id the kernel assigned.

Examples:
  pfkey spdadd --src 10.1.0.0/24 --dst 10.2.0.0/24 --dir out \\
      --tmpl esp/tunnel/192.0.2.1-192.0.2.2/require
  pfkey spdadd --src 10.0.0.1 --dst 10.0.0.2 --proto tcp --dport 443 --dir out \\
      --priority high --tmpl esp/transport//require
  pfkey spdadd --src ::/0 --dst ::/0 --proto icmp6 --icmp-type 135 --dir in --action bypass";

// Arguments of `pfkey spddelete` and `pfkey spdget`: a policy by selector and
// direction, or by id.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["id", "dir"])))]
pub struct SpdRefArgs {
    /// The policy's id (from spddump or -v of spdadd): decimal or 0x hex.
    #[arg(long, value_name = "ID", allow_negative_numbers = true, conflicts_with_all = ["src", "dst", "proto", "sport", "dport", "icmp_type", "icmp_code"], help_heading = "Policy")]
    pub id: Option<String>,
    /// What the policy matches (with --dir; the same values it was added with).
    #[command(flatten)]
    pub selector: SelectorArgs,
    /// The policy's direction: in, out, fwd.
    #[arg(long, value_enum, requires_all = ["src", "dst"], help_heading = "Policy")]
    pub dir: Option<DirArg>,
    /// Output format of `spdget` (default text; json is the same as --json).
    #[arg(long, value_enum)]
    pub format: Option<PolicyFormat>,
}

// Arguments of `pfkey spddump`.
#[derive(Debug, Args)]
pub struct SpdDumpArgs {
    /// Output format: a text block per policy, JSON Lines (JSON.md, "Policy"; the same as
    /// --json), or the text of `setkey -DP`.
    #[arg(long, value_enum)]
    pub format: Option<PolicyFormat>,
}

/// `--dir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirArg {
    /// Traffic this host receives.
    In,
    /// Traffic this host sends.
    Out,
    /// Traffic this host forwards (routers, tunnel gateways).
    Fwd,
}

/// `--action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ActionArg {
    /// Apply the templates (IPsec).
    Ipsec,
    /// Let the traffic pass in clear (PF_KEY type NONE).
    Bypass,
    /// Drop the traffic.
    Discard,
}

/// `--format` of `spdget` and `spddump`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyFormat {
    /// A readable block per policy.
    Text,
    /// One JSON object per policy per line (JSON.md, "Policy").
    Json,
    /// The text `setkey -DP` prints on Linux.
    Setkey,
}
