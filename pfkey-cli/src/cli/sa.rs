//! Arguments of the SA commands: `add`, `update`, `get`, `delete`, `deleteall`, `flush`,
//! `getspi`, `dump` (their code: `cmd/sa/`).
//!
//! Values that need checking (addresses, SPIs, keys, algorithms, durations, byte counts)
//! are taken as text and parsed by `crate::input`, so that every mistake is reported in
//! one line that says what would be right, before any socket is opened.

use std::convert::Infallible;
use std::fmt;

use clap::{ArgGroup, Args, ValueEnum};
use zeroize::Zeroizing;

/// A command-line value that may be key material (`--enc-key`, `--auth-key`): kept in a
/// zeroizing string and redacted in `Debug`. (The process's own argument vector, which
/// the kernel keeps, cannot be wiped: hence the warning about keys in `ps`.)
#[derive(Clone)]
pub struct SecretArg(Zeroizing<String>);

impl SecretArg {
    /// The text as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretArg(redacted)")
    }
}

/// clap value parser for [`SecretArg`].
fn secret(s: &str) -> Result<SecretArg, Infallible> {
    Ok(SecretArg(Zeroizing::new(s.to_owned())))
}

// The SA protocol, for commands that name one SA type (`--esp`, `--ah`, `--ipcomp`).
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("proto").required(true).args(["esp", "ah", "ipcomp"])))]
pub struct ProtoArgs {
    /// ESP (RFC 4303): encryption and/or authentication.
    #[arg(long, help_heading = "SA")]
    pub esp: bool,
    /// AH (RFC 4302): authentication only.
    #[arg(long, help_heading = "SA")]
    pub ah: bool,
    /// IPComp (RFC 3173): compression; the SPI is the 16-bit CPI.
    #[arg(long, help_heading = "SA")]
    pub ipcomp: bool,
}

// Arguments of `pfkey add` and `pfkey update`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("proto").required(true).args(["esp", "ah", "ipcomp"])))]
#[command(after_long_help = ADD_EXAMPLES)]
pub struct AddArgs {
    /// ESP (RFC 4303), optionally followed by its encryption algorithm: `--esp aes` is
    /// `--esp --enc aes`.
    #[arg(long, value_name = "ENC", help_heading = "SA")]
    pub esp: Option<Option<String>>,
    /// AH (RFC 4302): authentication only; needs --auth.
    #[arg(long, help_heading = "SA")]
    pub ah: bool,
    /// IPComp (RFC 3173): compression; --spi is the 16-bit CPI.
    #[arg(long, help_heading = "SA")]
    pub ipcomp: bool,
    /// Source address of the SA (IPv4 or IPv6, no prefix).
    #[arg(long, value_name = "ADDR", help_heading = "SA")]
    pub src: String,
    /// Destination address of the SA (same family as --src).
    #[arg(long, value_name = "ADDR", help_heading = "SA")]
    pub dst: String,
    /// Security parameter index: decimal or 0x hex, 1 to 0xffffffff (IPComp: 0xffff).
    #[arg(
        long,
        value_name = "SPI",
        allow_negative_numbers = true,
        help_heading = "SA"
    )]
    pub spi: String,
    /// IPsec mode; Linux treats `any` as transport.
    #[arg(long, value_enum, default_value_t = ModeArg::Transport, help_heading = "SA")]
    pub mode: ModeArg,
    /// Request id that binds the SA to `unique` policies (decimal or 0x hex).
    #[arg(long, value_name = "N", help_heading = "SA")]
    pub reqid: Option<String>,
    /// Anti-replay window in packets (0 = off; Linux caps PF_KEY SAs at 32).
    #[arg(long, value_name = "N", help_heading = "SA")]
    pub replay: Option<String>,
    /// SA flags, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "FLAG,...",
        help_heading = "SA"
    )]
    pub flags: Vec<FlagArg>,

    /// Encryption algorithm (ESP): aes-cbc, aes-ctr, 3des-cbc, camellia-cbc, null, … (every
    /// alias of `pfkey algorithms`). ESP always needs one: use `null` for none.
    #[arg(long, value_name = "ALG", help_heading = "Algorithms and keys")]
    pub enc: Option<String>,
    /// Encryption key: 0x-prefixed hex, '"a string"', @FILE, - (standard input) or random.
    #[arg(long, value_name = "KEY", value_parser = secret, help_heading = "Algorithms and keys")]
    pub enc_key: Option<SecretArg>,
    /// Authentication algorithm (AH, or ESP's integrity): hmac-sha1, hmac-sha256,
    /// hmac-sha512, aes-xcbc-mac, hmac-md5, null, …
    #[arg(long, value_name = "ALG", help_heading = "Algorithms and keys")]
    pub auth: Option<String>,
    /// Authentication key, in the forms of --enc-key.
    #[arg(long, value_name = "KEY", value_parser = secret, help_heading = "Algorithms and keys")]
    pub auth_key: Option<SecretArg>,
    /// Compression algorithm (IPComp); default deflate, the only one Linux implements.
    #[arg(long, value_name = "ALG", help_heading = "Algorithms and keys")]
    pub comp: Option<String>,

    /// Hard limit: seconds after the SA was added (90, 30m, 1h30m, 2d); then it is deleted.
    #[arg(
        long,
        value_name = "DURATION",
        help_heading = "Lifetimes (0 = unlimited)"
    )]
    pub hard_time: Option<String>,
    /// Soft limit: seconds after the SA was added; then it becomes dying (an EXPIRE is sent).
    #[arg(
        long,
        value_name = "DURATION",
        help_heading = "Lifetimes (0 = unlimited)"
    )]
    pub soft_time: Option<String>,
    /// Hard limit: bytes processed (1000000, 512K, 100M, 2G).
    #[arg(long, value_name = "BYTES", help_heading = "Lifetimes (0 = unlimited)")]
    pub hard_bytes: Option<String>,
    /// Soft limit: bytes processed.
    #[arg(long, value_name = "BYTES", help_heading = "Lifetimes (0 = unlimited)")]
    pub soft_bytes: Option<String>,
    /// Hard limit: packets processed (PF_KEY "allocations").
    #[arg(long, value_name = "N", help_heading = "Lifetimes (0 = unlimited)")]
    pub hard_packets: Option<String>,
    /// Soft limit: packets processed.
    #[arg(long, value_name = "N", help_heading = "Lifetimes (0 = unlimited)")]
    pub soft_packets: Option<String>,
    /// Hard limit: seconds after the SA's first use.
    #[arg(
        long,
        value_name = "DURATION",
        help_heading = "Lifetimes (0 = unlimited)"
    )]
    pub hard_use_time: Option<String>,
    /// Soft limit: seconds after the SA's first use.
    #[arg(
        long,
        value_name = "DURATION",
        help_heading = "Lifetimes (0 = unlimited)"
    )]
    pub soft_use_time: Option<String>,

    /// UDP encapsulation for NAT traversal (ESP only; RFC 3948).
    #[arg(long, value_enum, help_heading = "NAT traversal")]
    pub encap: Option<EncapArg>,
    /// UDP source port of the encapsulation (with --encap).
    #[arg(long, value_name = "PORT", help_heading = "NAT traversal")]
    pub sport: Option<String>,
    /// UDP destination port of the encapsulation (with --encap).
    #[arg(long, value_name = "PORT", help_heading = "NAT traversal")]
    pub dport: Option<String>,
    /// NAT original address (with --encap; Linux checks it, then ignores it).
    #[arg(long, value_name = "ADDR", help_heading = "NAT traversal")]
    pub oa: Option<String>,
}

const ADD_EXAMPLES: &str = "\
Keys:
  0x0123…      hex, two digits per byte
  '\"text\"'     the bytes of a string (quote the quotes for the shell)
  @FILE        the contents of FILE (hex, a quoted string, or raw bytes)
  -            the same, read from standard input (one of the two keys)
  random       a fresh key of the algorithm's largest size, printed once on standard
               output as `enc-key 0x…` / `auth-key 0x…` (a JSON object with --json) so
               that the peer can be given the same key
  Keys typed on the command line are visible to other users (ps, /proc/PID/cmdline):
  pfkey warns about it (--quiet silences the warning); @FILE and - avoid it.

Lifetimes: af_key needs hard and soft limits together; a kind that is not given is
sent as 0, which means unlimited. A soft limit must come before its hard limit.

Nothing is printed on success (except keys made with `random`). The SA is checked
completely (algorithm names, key sizes, addresses, SPI range, NAT-T ports) before the
PF_KEY socket is opened.

Examples:
  pfkey add --esp aes --auth hmac-sha256 --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1000 \\
      --enc-key @/etc/ipsec/enc.key --auth-key @/etc/ipsec/auth.key --mode tunnel --reqid 7
  pfkey add --esp aes --auth md5 --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1001 \\
      --enc-key random --auth-key random
  pfkey add --ah --auth hmac-sha1 --src 2001:db8::1 --dst 2001:db8::2 --spi 300 \\
      --auth-key - < auth.key
  pfkey add --esp null --auth hmac-sha1 --src 10.0.0.1 --dst 10.0.0.2 --spi 0x1002 \\
      --auth-key random --encap espinudp --sport 4500 --dport 4500 --hard-time 1h --soft-time 50m
  pfkey add --ipcomp --src 10.0.0.1 --dst 10.0.0.2 --spi 0x4001";

// Arguments of `pfkey get` and `pfkey delete`: one SA's identity.
#[derive(Debug, Args)]
pub struct SaIdArgs {
    /// The SA type.
    #[command(flatten)]
    pub proto: ProtoArgs,
    /// Source address of the SA.
    #[arg(long, value_name = "ADDR", help_heading = "SA")]
    pub src: String,
    /// Destination address of the SA.
    #[arg(long, value_name = "ADDR", help_heading = "SA")]
    pub dst: String,
    /// SPI (CPI for IPComp): decimal or 0x hex.
    #[arg(
        long,
        value_name = "SPI",
        allow_negative_numbers = true,
        help_heading = "SA"
    )]
    pub spi: String,
    /// Print the keys (`get` only). Keys are secrets: hidden by default.
    #[arg(long)]
    pub show_keys: bool,
}

// Arguments of `pfkey deleteall`.
#[derive(Debug, Args)]
pub struct DeleteAllArgs {
    /// The SA type.
    #[command(flatten)]
    pub proto: ProtoArgs,
    /// Source address of the SAs.
    #[arg(long, value_name = "ADDR", help_heading = "SA")]
    pub src: String,
    /// Destination address of the SAs.
    #[arg(long, value_name = "ADDR", help_heading = "SA")]
    pub dst: String,
}

// Arguments of `pfkey flush`.
#[derive(Debug, Args)]
pub struct FlushArgs {
    /// Which SAs to delete.
    #[arg(value_enum, default_value_t = SaTypeArg::All)]
    pub satype: SaTypeArg,
}

// Arguments of `pfkey getspi`.
#[derive(Debug, Args)]
pub struct GetSpiArgs {
    /// The SA type.
    #[command(flatten)]
    pub proto: ProtoArgs,
    /// Source address of the SA.
    #[arg(long, value_name = "ADDR", help_heading = "SA")]
    pub src: String,
    /// Destination address of the SA.
    #[arg(long, value_name = "ADDR", help_heading = "SA")]
    pub dst: String,
    /// SPI range to choose from, inclusive (default 0x100-0x0fffffff; IPComp 0x100-0xffff).
    #[arg(long, value_name = "MIN-MAX", help_heading = "SA")]
    pub range: Option<String>,
    /// Mode of the larval SA.
    #[arg(long, value_enum, default_value_t = ModeArg::Any, help_heading = "SA")]
    pub mode: ModeArg,
    /// Request id of the larval SA (decimal or 0x hex).
    #[arg(long, value_name = "N", help_heading = "SA")]
    pub reqid: Option<String>,
}

// Arguments of `pfkey dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Which SAs to list.
    #[arg(long = "type", value_enum, default_value_t = SaTypeArg::All)]
    pub satype: SaTypeArg,
    /// Print the keys. Keys are secrets: hidden by default.
    #[arg(long)]
    pub show_keys: bool,
    /// Output format: a text block per SA, JSON Lines (JSON.md; the same as --json), or
    /// the text of `setkey -D`.
    #[arg(long, value_enum)]
    pub format: Option<DumpFormat>,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Transport mode: protects the payload between the two hosts.
    Transport,
    /// Tunnel mode: protects whole inner packets between two gateways.
    Tunnel,
    /// Bound end-to-end tunnel (RFC 7402).
    Beet,
    /// Any (Linux: transport).
    Any,
}

/// `--flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlagArg {
    /// Do not copy ECN bits between inner and outer headers (XFRM_STATE_NOECN).
    Noecn,
    /// Copy the DSCP from the outer header on decapsulation (XFRM_STATE_DECAP_DSCP).
    DecapDscp,
    /// Do not do path-MTU discovery on the outer packets (XFRM_STATE_NOPMTUDISC).
    Nopmtudisc,
}

/// `--encap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncapArg {
    /// ESP in UDP (RFC 3948), the type af_key accepts.
    Espinudp,
}

/// An SA type selection for `flush` and `dump --type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SaTypeArg {
    /// ESP SAs.
    Esp,
    /// AH SAs.
    Ah,
    /// IPComp SAs.
    Ipcomp,
    /// All of them.
    All,
}

/// `dump --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DumpFormat {
    /// A readable block per SA.
    Text,
    /// One JSON object per SA per line (JSON.md, "SA").
    Json,
    /// The text `setkey -D` prints on Linux.
    Setkey,
}
