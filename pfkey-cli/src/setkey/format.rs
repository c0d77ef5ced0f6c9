//! From kernel state back to text: setkey-language statements that reload to the same state
//! (`pfkey save`), and the `setkey -D` / `-DP` dump formats (reference notes §9, §10).
//!
//! # Scripts
//!
//! [`sa_statement`] writes an SA from a `SADB_DUMP`/`SADB_GET` reply as an `add … ;`
//! statement and [`policy_statement`] a policy from an `SADB_X_SPDDUMP` reply as
//! `spdadd … -P … ;`, such that parsing and lowering them gives messages that install the
//! same kernel state. What the language cannot express is said in `#` comments: an entry that
//! cannot be recreated through PF_KEY at all (AEAD SAs, per-socket policies, larval SAs) is
//! written as a comment only; a detail that a reload changes (a selector on the SA, a
//! kernel-allocated reqid, HMAC-SHA-256 truncation) is noted above the statement.
//!
//! Keys are written as hex; with `redact` each is replaced by [`REDACTED_KEY`], which the
//! parser refuses with a clear message, so a redacted file cannot be loaded by mistake.
//!
//! [`save_script`] writes a whole SAD and SPD, taking care of setkey's RFC mode: an `in`
//! policy whose `fwd` copy exists is written once (reloading recreates the copy).
//!
//! # Dump texts
//!
//! [`sa_text`] and [`policy_text`] print one entry as `setkey -D` and `setkey -DP` do on
//! Linux, byte for byte, including their quirks: the trailing spaces, the missing newline
//! after an IPComp `C:` line, key hex wrapped every 32 bytes with no indent.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::net::SocketAddr;

use zeroize::Zeroizing;

use pfkey::alg::{self, AlgKind};
use pfkey::message::Message;
use pfkey::policy::Policy;
use pfkey::repr::{Address, Extension, Key, Lifetime, MessageRepr, Sa, Sa2};
use pfkey::wire::{
    Direction, ExtType, Level, Mode, PolicyType, SaState, SaType, IPSEC_MANUAL_REQID_MAX,
    SADB_SAFLAGS_DECAP_DSCP, SADB_SAFLAGS_NOECN, SADB_SAFLAGS_NOPMTUDISC, UDP_ENCAP_ESPINUDP,
};

use super::lower::fwd_copy;
use super::names;
use super::parser::{PRIORITY_DEFAULT, PRIORITY_HIGH, PRIORITY_LOW};

pub use super::parser::REDACTED_KEY;

// ---------------------------------------------------------------------------------------------
// Common pieces
// ---------------------------------------------------------------------------------------------

/// The extensions of a message, looked up by type.
struct Exts(MessageRepr);

impl Exts {
    fn new(msg: &Message<'_>) -> Self {
        Exts(MessageRepr::from_message(msg))
    }
    fn get(&self, t: ExtType) -> Option<&Extension> {
        self.0.get(t)
    }
    fn sa(&self) -> Option<Sa> {
        match self.get(ExtType::Sa)? {
            Extension::Sa(s) => Some(*s),
            _ => None,
        }
    }
    fn sa2(&self) -> Option<Sa2> {
        match self.get(ExtType::Sa2)? {
            Extension::Sa2(s) => Some(*s),
            _ => None,
        }
    }
    fn addr(&self, t: ExtType) -> Option<Address> {
        match self.get(t)? {
            Extension::Address(_, a) => Some(*a),
            _ => None,
        }
    }
    fn key(&self, t: ExtType) -> Option<&Key> {
        match self.get(t)? {
            Extension::Key(_, k) => Some(k),
            _ => None,
        }
    }
    fn lifetime(&self, t: ExtType) -> Option<Lifetime> {
        match self.get(t)? {
            Extension::Lifetime(_, l) => Some(*l),
            _ => None,
        }
    }
    fn nat_t_type(&self) -> Option<u8> {
        match self.get(ExtType::NatTType)? {
            Extension::NatTType(t) => Some(*t),
            _ => None,
        }
    }
    fn port(&self, t: ExtType) -> Option<u16> {
        match self.get(t)? {
            Extension::NatTPort(_, p) => Some(*p),
            _ => None,
        }
    }
    fn sec_ctx(&self) -> Option<(u8, u8, &[u8])> {
        match self.get(ExtType::SecCtx)? {
            Extension::SecCtx { alg, doi, ctx } => Some((*doi, *alg, ctx)),
            _ => None,
        }
    }
    fn policy(&self) -> Option<&Policy> {
        match self.get(ExtType::Policy)? {
            Extension::Policy(p) => Some(p),
            _ => None,
        }
    }
}

fn ip_text(a: &SocketAddr) -> String {
    a.ip().to_string()
}

/// Text that may hold key material: zeroized on drop. Built with its final capacity
/// reserved up front, so that no reallocation leaves a copy behind.
pub type SecretText = Zeroizing<String>;

fn secret(capacity: usize) -> SecretText {
    Zeroizing::new(String::with_capacity(capacity))
}

fn hex(bytes: &[u8]) -> SecretText {
    let mut s = secret(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A priority as `prio` would read it: the nearest of `high`/`def`/`low` and an offset
/// (`def + 2000` is 0x80000000 − 2000: libipsec's "+" raises the priority).
pub fn priority_words(v: u32) -> String {
    let (name, base) = if v < 0x6000_0000 {
        ("high", PRIORITY_HIGH)
    } else if v < 0xA000_0000 {
        ("def", PRIORITY_DEFAULT)
    } else {
        ("low", PRIORITY_LOW)
    };
    match v.cmp(&base) {
        std::cmp::Ordering::Equal => name.to_string(),
        std::cmp::Ordering::Less => format!("{name} + {}", base - v),
        std::cmp::Ordering::Greater => format!("{name} - {}", v - base),
    }
}

fn comment_block(out: &mut String, lines: &[String]) {
    for l in lines {
        for part in l.lines() {
            let _ = writeln!(out, "# {part}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SA statements
// ---------------------------------------------------------------------------------------------

/// An SA as a statement, or why it cannot be one.
struct SaScript {
    notes: Vec<String>,
    text: SecretText,
}

fn sa_script(msg: &Message<'_>, redact: bool) -> Result<SaScript, String> {
    let e = Exts::new(msg);
    let satype = msg.satype();
    let (Some(sa), Some(src), Some(dst)) = (
        e.sa(),
        e.addr(ExtType::AddressSrc),
        e.addr(ExtType::AddressDst),
    ) else {
        return Err("the message lacks its SA or address extensions".into());
    };
    let what = format!(
        "{} SA {} -> {} spi {:#x}",
        satype,
        src.addr.ip(),
        dst.addr.ip(),
        sa.spi
    );
    let mut notes = Vec::new();
    match sa.state {
        SaState::Larval => {
            return Err(format!(
                "{what}: larval (an SPI reserved by GETSPI or ACQUIRE, never keyed); nothing to \
                 restore"
            ))
        }
        SaState::Dead => return Err(format!("{what}: dead (its hard lifetime expired)")),
        SaState::Dying => notes.push(format!(
            "{what} was dying (its soft lifetime had expired); a reload installs it afresh"
        )),
        _ => {}
    }
    let sa2 = e.sa2().unwrap_or(Sa2 {
        mode: Mode::Any,
        sequence: 0,
        reqid: 0,
    });
    let mut head = String::from("add ");
    let mut lines: Vec<SecretText> = Vec::new();
    let proto = match satype {
        SaType::Esp => match e.nat_t_type() {
            None => "esp",
            Some(UDP_ENCAP_ESPINUDP) => "esp-udp",
            Some(t) => {
                return Err(format!(
                    "{what}: UDP encapsulation type {t} (only type 2, ESP-in-UDP, can be \
                     written as esp-udp)"
                ))
            }
        },
        SaType::Ah => "ah",
        SaType::IpComp => "ipcomp",
        other => return Err(format!("{what}: SA type {other} has no setkey protocol")),
    };
    let natt = proto == "esp-udp";
    let end = |a: &Address, port: Option<u16>| match (natt, port) {
        (true, Some(p)) => format!("{}[{p}]", ip_text(&a.addr)),
        _ => ip_text(&a.addr),
    };
    let _ = write!(
        head,
        "{} {} {proto} {:#x}",
        end(&src, e.port(ExtType::NatTSport)),
        end(&dst, e.port(ExtType::NatTDport)),
        sa.spi
    );
    if let Some(p) = e.addr(ExtType::AddressProxy) {
        if !p.addr.ip().is_unspecified() || p.prefix_len != 0 || p.addr.port() != 0 {
            notes.push(format!(
                "{what} has the selector {}/{}: the setkey language cannot set it, a reload \
                 gives the SA no selector",
                p.addr.ip(),
                p.prefix_len
            ));
        }
    }

    // SA options.
    let mut opts: Vec<String> = Vec::new();
    match sa2.mode {
        Mode::Any => {}
        Mode::Transport => opts.push("-m transport".into()),
        Mode::Tunnel => opts.push("-m tunnel".into()),
        Mode::Beet => opts.push("-m beet".into()),
        Mode::Unknown(m) => return Err(format!("{what}: mode {m} is unknown")),
    }
    if sa2.reqid != 0 {
        opts.push(format!("-u {}", sa2.reqid));
    }
    if sa.replay != 0 {
        if sa.replay > 32 {
            notes.push(format!(
                "{what} has a {}-packet replay window; PF_KEY sets at most 32",
                sa.replay
            ));
        }
        opts.push(format!("-r {}", sa.replay));
    }
    for (bit, name) in [
        (SADB_SAFLAGS_NOECN, "noecn"),
        (SADB_SAFLAGS_DECAP_DSCP, "decap-dscp"),
        (SADB_SAFLAGS_NOPMTUDISC, "nopmtudisc"),
    ] {
        if sa.flags & bit != 0 {
            opts.push(format!("-f {name}"));
        }
    }
    if !opts.is_empty() {
        lines.push(Zeroizing::new(opts.join(" ")));
    }
    let mut life: Vec<String> = Vec::new();
    for (t, suffix) in [(ExtType::LifetimeHard, 'h'), (ExtType::LifetimeSoft, 's')] {
        if let Some(l) = e.lifetime(t) {
            if l.addtime != 0 {
                life.push(format!("-l{suffix} {}", l.addtime));
            }
            if l.bytes != 0 {
                life.push(format!("-b{suffix} {}", l.bytes));
            }
            if l.allocations != 0 {
                life.push(format!("-p{suffix} {}", l.allocations));
            }
            if l.usetime != 0 {
                life.push(format!("-u{suffix} {}", l.usetime));
            }
        }
    }
    if !life.is_empty() {
        lines.push(Zeroizing::new(life.join(" ")));
    }
    if let Some((doi, alg, ctx)) = e.sec_ctx() {
        lines.push(Zeroizing::new(format!(
            "-ctx {doi} {alg} {}",
            ctx_label(ctx, &what)?
        )));
    }

    // Algorithms and keys.
    let mut redacted = false;
    // `-E NAME KEY` / `-A NAME KEY`, built in place.
    let mut key_line = |k: &Key, alg: &alg::Algorithm, opt: &str| -> Result<SecretText, String> {
        if !k.bits.is_multiple_of(8) {
            return Err(format!(
                "{what}: its {} key is {} bits, not whole bytes, which the language cannot write",
                alg.name, k.bits
            ));
        }
        if let Err(err) = alg.check_key_bits(u32::from(k.bits)) {
            return Err(format!(
                "{what}: the kernel holds a key that 'pfkey -f' refuses ({opt}: {err})"
            ));
        }
        let key = if redact {
            redacted = true;
            Zeroizing::new(REDACTED_KEY.to_string())
        } else {
            hex(&k.data)
        };
        let mut line = secret(opt.len() + alg.name.len() + key.len() + 2);
        line.push_str(opt);
        line.push(' ');
        line.push_str(alg.name);
        line.push(' ');
        line.push_str(&key);
        Ok(line)
    };
    let plain = |s: String| Zeroizing::new(s);
    match satype {
        SaType::IpComp => {
            let Some(c) = alg::by_id(AlgKind::Compress, sa.encrypt) else {
                return Err(format!(
                    "{what}: compression algorithm {} is unknown",
                    sa.encrypt
                ));
            };
            lines.push(plain(format!("-C {}", c.name)));
        }
        _ => {
            if satype == SaType::Esp {
                if sa.encrypt == 0 {
                    return Err(format!(
                        "{what}: no encryption algorithm PF_KEY knows (an AEAD SA such as \
                         AES-GCM, installed through netlink); PF_KEY cannot recreate it"
                    ));
                }
                let Some(a) = alg::by_id(AlgKind::Encrypt, sa.encrypt) else {
                    return Err(format!(
                        "{what}: encryption algorithm {} is unknown",
                        sa.encrypt
                    ));
                };
                if !a.is_usable() {
                    notes.push(format!("{what}: {}: {}", a.name, a.usability.reason()));
                }
                match (e.key(ExtType::KeyEncrypt), a.key_bits) {
                    (None, alg::KeyBits::None) => lines.push(plain(format!("-E {}", a.name))),
                    (Some(k), alg::KeyBits::None) if k.bits == 0 => {
                        lines.push(plain(format!("-E {}", a.name)))
                    }
                    (Some(k), _) => lines.push(key_line(k, a, "-E")?),
                    (None, _) => {
                        return Err(format!("{what}: the message carries no {} key", a.name))
                    }
                }
            }
            if sa.auth != 0 {
                let Some(a) = alg::by_id(AlgKind::Auth, sa.auth) else {
                    return Err(format!(
                        "{what}: authentication algorithm {} is unknown",
                        sa.auth
                    ));
                };
                if !a.is_usable() {
                    notes.push(format!("{what}: {}: {}", a.name, a.usability.reason()));
                }
                if a.id == alg::SADB_X_AALG_SHA2_256HMAC {
                    notes.push(format!(
                        "{what}: hmac-sha256 through PF_KEY means a 96-bit ICV; if this SA was \
                         created with 128-bit truncation (ip xfrm auth-trunc), a reload changes \
                         it to 96 bits"
                    ));
                }
                match (e.key(ExtType::KeyAuth), a.key_bits) {
                    (_, alg::KeyBits::None) => lines.push(plain(format!("-A {}", a.name))),
                    (Some(k), _) => lines.push(key_line(k, a, "-A")?),
                    (None, _) => {
                        return Err(format!("{what}: the message carries no {} key", a.name))
                    }
                }
            } else if e.key(ExtType::KeyAuth).is_some_and(|k| k.bits != 0) {
                return Err(format!(
                    "{what}: an authentication algorithm PF_KEY has no id for (installed through \
                     netlink); PF_KEY cannot recreate it"
                ));
            } else if satype == SaType::Ah {
                return Err(format!(
                    "{what}: an AH SA without an authentication algorithm"
                ));
            }
        }
    }
    if redacted {
        notes.push(format!(
            "{what}: keys redacted; replace each {REDACTED_KEY} with the key before loading"
        ));
    }
    let mut text = secret(head.len() + lines.iter().map(|l| l.len() + 2).sum::<usize>() + 3);
    text.push_str(&head);
    for l in &lines {
        text.push_str("\n\t");
        text.push_str(l);
    }
    text.push_str(" ;\n");
    Ok(SaScript { notes, text })
}

/// A security context label as a quoted string (without the terminating NUL).
fn ctx_label(ctx: &[u8], what: &str) -> Result<String, String> {
    let label = ctx.strip_suffix(&[0]).unwrap_or(ctx);
    match std::str::from_utf8(label) {
        Ok(s) if !s.contains('"') && !s.contains('\0') => Ok(format!("\"{s}\"")),
        _ => Err(format!(
            "{what}: its security context contains a '\"', a NUL or bytes that are not UTF-8, \
             which a quoted string cannot hold"
        )),
    }
}

/// Writes an SA from a `SADB_DUMP` / `SADB_GET` reply as an `add` statement (notes as `#`
/// comments above it), or as a comment saying why it cannot be restored. The text holds the
/// keys unless `redact`: it is zeroized on drop.
pub fn sa_statement(msg: &Message<'_>, redact: bool) -> SecretText {
    match sa_script(msg, redact) {
        Ok(s) => {
            let mut notes = String::new();
            comment_block(&mut notes, &s.notes);
            let mut out = secret(notes.len() + s.text.len());
            out.push_str(&notes);
            out.push_str(&s.text);
            out
        }
        Err(why) => {
            let mut out = String::new();
            comment_block(&mut out, &[format!("not saved: {why}")]);
            Zeroizing::new(out)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Policy statements
// ---------------------------------------------------------------------------------------------

/// Whether a dumped policy belongs to a socket (Linux: direction 4/5, or `id % 8 ≥ 3`).
pub fn is_socket_policy(p: &Policy) -> bool {
    matches!(p.dir, Direction::SocketIn | Direction::SocketOut) || p.id % 8 >= 3
}

struct PolicyScript {
    notes: Vec<String>,
    /// Everything from the first address to just before `-P`.
    selector: String,
    /// From `-P` to the end, without the `;`.
    policy: String,
}

fn selector_text(a: &Address, show_port: bool) -> String {
    let mut s = ip_text(&a.addr);
    let full = if a.addr.is_ipv4() { 32 } else { 128 };
    if a.prefix_len != full {
        let _ = write!(s, "/{}", a.prefix_len);
    }
    if show_port && a.addr.port() != 0 {
        let _ = write!(s, "[{}]", a.addr.port());
    }
    s
}

fn policy_script(msg: &Message<'_>) -> Result<PolicyScript, String> {
    let e = Exts::new(msg);
    let (Some(p), Some(src), Some(dst)) = (
        e.policy(),
        e.addr(ExtType::AddressSrc),
        e.addr(ExtType::AddressDst),
    ) else {
        return Err("the message lacks its policy or address extensions".into());
    };
    let what = format!(
        "{} policy {}/{} -> {}/{} (id {})",
        p.dir,
        src.addr.ip(),
        src.prefix_len,
        dst.addr.ip(),
        dst.prefix_len,
        p.id
    );
    if is_socket_policy(p) {
        return Err(format!(
            "per-socket policy (id {}, direction {}): it belongs to a socket, not to the SPD",
            p.id, p.dir
        ));
    }
    let dir = match p.dir {
        Direction::In => "in",
        Direction::Out => "out",
        Direction::Fwd => "fwd",
        d => return Err(format!("{what}: direction {d} cannot be written")),
    };
    let action = match p.policy_type {
        PolicyType::Discard => "discard",
        PolicyType::None => "none",
        PolicyType::Ipsec => "ipsec",
        t => return Err(format!("{what}: action {t} is not allowed in the SPD")),
    };
    let mut notes = Vec::new();
    let ulp = src.proto;
    let mut selector = String::new();
    let ports_are_fields = names::has_type_code(ulp) || ulp == names::IPPROTO_GRE;
    let _ = write!(
        selector,
        "{} {} ",
        selector_text(&src, !ports_are_fields),
        selector_text(&dst, !ports_are_fields)
    );
    match names::protocol_script_name(ulp) {
        Some(n) => selector.push_str(n),
        None => {
            let _ = write!(selector, "{ulp}");
        }
    }
    let (sp, dp) = (src.addr.port(), dst.addr.port());
    if names::has_type_code(ulp) && (sp != 0 || dp != 0) {
        let _ = write!(selector, " {sp},{dp}");
    } else if ulp == names::IPPROTO_GRE && (sp != 0 || dp != 0) {
        let key = (u32::from(sp) << 16) | u32::from(dp);
        let _ = write!(selector, " {}", std::net::Ipv4Addr::from(key));
    }
    if let Some((doi, alg, ctx)) = e.sec_ctx() {
        let _ = write!(selector, " -ctx {doi} {alg} {}", ctx_label(ctx, &what)?);
    }
    for t in [ExtType::LifetimeHard, ExtType::LifetimeSoft] {
        if e.lifetime(t).is_some_and(|l| l != Lifetime::default()) {
            notes.push(format!(
                "{what} has lifetimes, which the setkey language cannot set; they are not restored"
            ));
            break;
        }
    }
    let mut policy = format!("-P {dir}");
    if p.priority != PRIORITY_DEFAULT {
        let _ = write!(policy, " prio {}", priority_words(p.priority));
    }
    let _ = write!(policy, " {action}");
    for r in &p.requests {
        let proto = match SaType::from_ip_proto(r.proto) {
            Some(SaType::Esp) => "esp",
            Some(SaType::Ah) => "ah",
            Some(SaType::IpComp) => "ipcomp",
            _ => return Err(format!("{what}: rule protocol {} is unknown", r.proto)),
        };
        let mode = match r.mode {
            Mode::Transport | Mode::Any => "transport",
            Mode::Tunnel => "tunnel",
            Mode::Beet => "beet",
            Mode::Unknown(m) => return Err(format!("{what}: rule mode {m} is unknown")),
        };
        let ends = match (r.mode, r.tunnel) {
            (Mode::Tunnel, Some((a, b))) => format!("{}-{}", endpoint_text(&a), endpoint_text(&b)),
            (Mode::Tunnel, None) => return Err(format!("{what}: a tunnel rule without endpoints")),
            _ => String::new(),
        };
        let level = match r.level {
            Level::Default => "default".to_string(),
            Level::Use => "use".to_string(),
            Level::Require => "require".to_string(),
            Level::Unique if r.reqid == 0 => "unique".to_string(),
            Level::Unique => {
                if r.reqid > IPSEC_MANUAL_REQID_MAX {
                    notes.push(format!(
                        "{what}: reqid {} was allocated by the kernel; a reload allocates a new \
                         one, which SAs with -u {} will not match",
                        r.reqid, r.reqid
                    ));
                }
                format!("unique:{}", r.reqid)
            }
            Level::Unknown(l) => return Err(format!("{what}: rule level {l} is unknown")),
        };
        let _ = write!(policy, "\n\t{proto}/{mode}/{ends}/{level}");
    }
    Ok(PolicyScript {
        notes,
        selector,
        policy,
    })
}

fn endpoint_text(a: &SocketAddr) -> String {
    if a.port() != 0 {
        format!("{}[{}]", a.ip(), a.port())
    } else {
        a.ip().to_string()
    }
}

/// Writes a policy from an `SADB_X_SPDDUMP` reply as an `spdadd` statement (notes as `#`
/// comments above it), or as a comment saying why it is left out (per-socket policies).
pub fn policy_statement(msg: &Message<'_>) -> String {
    let mut out = String::new();
    match policy_script(msg) {
        Ok(s) => {
            comment_block(&mut out, &s.notes);
            let _ = writeln!(out, "spdadd {}\n\t{} ;", s.selector, s.policy);
        }
        Err(why) => comment_block(&mut out, &[format!("not saved: {why}")]),
    }
    out
}

/// Options of [`save_script`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveOptions {
    /// Replace keys by [`REDACTED_KEY`].
    pub redact: bool,
    /// The file will be loaded with the automatic `fwd` copy of `in` policies (the default,
    /// as setkey on Linux).
    pub fwd_copy: bool,
}

impl Default for SaveOptions {
    /// Keys included; loaded with the `fwd` copy.
    fn default() -> Self {
        SaveOptions {
            redact: false,
            fwd_copy: true,
        }
    }
}

/// The parts of a dumped policy that decide whether a `fwd` policy is an `in` policy's copy.
fn copy_key(msg: &Message<'_>) -> Option<(Vec<Extension>, Policy)> {
    let e = Exts::new(msg);
    let mut p = e.policy()?.clone();
    p.id = 0;
    p.reserved = 0;
    let others = [ExtType::AddressSrc, ExtType::AddressDst, ExtType::SecCtx]
        .iter()
        .filter_map(|t| e.get(*t).cloned())
        .collect();
    Some((others, p))
}

/// Writes a whole SAD and SPD (`SADB_DUMP` and `SADB_X_SPDDUMP` replies) as a script that
/// `pfkey -f` loads into an empty state to recreate it.
///
/// Policies are written out-bound first, then in-bound, then forward, each in creation order
/// (policy id). With [`SaveOptions::fwd_copy`], an `in` policy whose `fwd` copy is in the dump
/// is written once; one without a copy is followed by `spddelete … -P fwd`, which removes the
/// copy the reload creates.
pub fn save_script(
    sas: &[Message<'_>],
    policies: &[Message<'_>],
    opts: &SaveOptions,
) -> SecretText {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# pfkey save: {} SA(s), {} policy message(s).",
        sas.len(),
        policies.len()
    );
    if opts.fwd_copy {
        out.push_str(
            "# Load into an empty state with `pfkey -f FILE`; each `in` policy also recreates \
             its `fwd` copy.\n",
        );
    } else {
        out.push_str(
            "# Load into an empty state with `pfkey -f FILE` and the automatic `fwd` copy \
             turned off (setkey -k).\n",
        );
    }
    if opts.redact {
        out.push_str("# Keys are redacted: this file cannot be loaded as it is.\n");
    }
    if !sas.is_empty() {
        out.push('\n');
    }
    // The SA statements hold keys: kept apart and joined into one allocation at the end.
    let sa_texts: Vec<SecretText> = sas.iter().map(|m| sa_statement(m, opts.redact)).collect();
    let head = std::mem::take(&mut out);

    let dir_of = |m: &Message<'_>| m.policy().map(|p| p.dir());
    let id_of = |m: &Message<'_>| m.policy().map_or(0, |p| p.id());
    let mut order: Vec<usize> = (0..policies.len()).collect();
    order.sort_by_key(|&i| {
        let rank = match dir_of(&policies[i]) {
            Some(Direction::Out) => 0,
            Some(Direction::In) => 1,
            Some(Direction::Fwd) => 2,
            _ => 3,
        };
        (rank, id_of(&policies[i]))
    });
    let keys: Vec<_> = policies.iter().map(copy_key).collect();
    let mut consumed = vec![false; policies.len()];
    if !policies.is_empty() {
        out.push('\n');
    }
    for &i in &order {
        if consumed[i] {
            continue;
        }
        consumed[i] = true;
        let m = &policies[i];
        let is_in = dir_of(m) == Some(Direction::In);
        let written = policy_script(m);
        let Ok(script) = written else {
            out.push_str(&policy_statement(m));
            continue;
        };
        comment_block(&mut out, &script.notes);
        let _ = writeln!(out, "spdadd {}\n\t{} ;", script.selector, script.policy);
        if !(is_in && opts.fwd_copy) {
            continue;
        }
        let Some((sel, pol)) = &keys[i] else { continue };
        let mut want = fwd_copy(pol);
        want.id = 0;
        let copy = order.iter().copied().find(|&j| {
            !consumed[j]
                && dir_of(&policies[j]) == Some(Direction::Fwd)
                && keys[j]
                    .as_ref()
                    .is_some_and(|(s, p)| s == sel && *p == want)
        });
        match copy {
            Some(j) => consumed[j] = true,
            None => {
                let _ = writeln!(
                    out,
                    "# this in policy had no fwd copy: remove the one the line above creates\n\
                     spddelete {} -P fwd ;",
                    script.selector
                );
            }
        }
    }
    let mut all = secret(head.len() + sa_texts.iter().map(|t| t.len()).sum::<usize>() + out.len());
    all.push_str(&head);
    for t in &sa_texts {
        all.push_str(t);
    }
    all.push_str(&out);
    all
}

// ---------------------------------------------------------------------------------------------
// setkey -D / -DP text
// ---------------------------------------------------------------------------------------------

/// Options of the dump texts.
pub struct TextOptions<'a> {
    /// The current time, seconds since the epoch (for `current:` and `diff:`).
    pub now: u64,
    /// The local time zone's offset from UTC, in seconds, at a given time (setkey prints
    /// local time through `ctime(3)`); `&|_| 0` for UTC.
    pub utc_offset: &'a dyn Fn(u64) -> i64,
    /// `setkey -p`: show the ports of SA addresses.
    pub show_ports: bool,
}

impl std::fmt::Debug for TextOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextOptions")
            .field("now", &self.now)
            .field("show_ports", &self.show_ports)
            .finish_non_exhaustive()
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 to (year, month 1–12, day 1–31) (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// setkey's `str_time`: `ctime(3)` without the weekday and newline ("Nov 14 22:13:20 2023",
/// day padded with a space), or 20 spaces for 0.
pub fn ctime20(t: u64, o: &TextOptions<'_>) -> String {
    if t == 0 {
        return " ".repeat(20);
    }
    let local = i64::try_from(t)
        .unwrap_or(i64::MAX)
        .saturating_add((o.utc_offset)(t));
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {:>2} {:02}:{:02}:{:02} {}",
        MONTHS[(m as usize).saturating_sub(1) % 12],
        d,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        y
    )
}

/// setkey's `ipsec_hexdump` after a `name ` prefix: a space before each 4-byte group and a
/// bare newline after every 32 bytes.
fn key_hexdump(out: &mut String, key: &[u8]) {
    for (i, b) in key.iter().enumerate() {
        if i != 0 && i % 32 == 0 {
            out.push('\n');
        }
        if i % 4 == 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
}

fn satype_name(v: u8) -> String {
    const NAMES: [&str; 12] = [
        "unspec", "unknown", "ah", "esp", "unknown", "rsvp", "ospfv2", "ripv2", "mip", "ipcomp",
        "policy", "tcp",
    ];
    NAMES
        .get(usize::from(v))
        .map_or_else(|| v.to_string(), |s| (*s).to_string())
}

fn alg_name(kind: AlgKind, id: u8) -> String {
    match alg::by_id(kind, id) {
        Some(a) => a.name.to_string(),
        None if id == 0 => "none".into(),
        None => format!("unknown({id})"),
    }
}

/// One SA as `setkey -D` prints it on Linux (reference notes §9).
pub fn sa_text(msg: &Message<'_>, o: &TextOptions<'_>) -> SecretText {
    let e = Exts::new(msg);
    let key_len: usize = [ExtType::KeyEncrypt, ExtType::KeyAuth]
        .iter()
        .filter_map(|t| e.key(*t))
        .map(|k| k.data.len())
        .sum();
    // Room for everything, so that the key hex is never left behind by a reallocation.
    let mut out = secret(2048 + 3 * key_len);
    let (Some(src), Some(dst)) = (e.addr(ExtType::AddressSrc), e.addr(ExtType::AddressDst)) else {
        out.push_str("no ADDRESS_SRC or ADDRESS_DST extension.\n");
        return out;
    };
    let natt = e.nat_t_type().is_some();
    let addr = |a: &Address, natp: Option<u16>| -> String {
        match (natt, natp, o.show_ports) {
            (true, Some(p), _) => format!("{}[{p}]", a.addr.ip()),
            (_, _, true) => format!("{}[{}]", a.addr.ip(), a.addr.port()),
            _ => a.addr.ip().to_string(),
        }
    };
    let _ = writeln!(
        out,
        "{} {} ",
        addr(&src, e.port(ExtType::NatTSport)),
        addr(&dst, e.port(ExtType::NatTDport))
    );
    let Some(sa) = e.sa() else {
        out.push_str("\tno SA extension.\n");
        return out;
    };
    let satype = msg.satype().value();
    let tname = if natt && msg.satype() == SaType::Esp {
        "esp-udp".to_string()
    } else {
        satype_name(satype)
    };
    let _ = write!(out, "\t{tname} ");
    let sa2 = e.sa2();
    if let Some(s2) = sa2 {
        let m = match s2.mode {
            Mode::Any => "any".to_string(),
            Mode::Transport => "transport".to_string(),
            Mode::Tunnel => "tunnel".to_string(),
            other => other.value().to_string(),
        };
        let _ = write!(out, "mode={m} ");
    }
    let _ = write!(out, "spi={}({:#010x})", sa.spi, sa.spi);
    if let Some(s2) = sa2 {
        let _ = write!(out, " reqid={}({:#010x})", s2.reqid, s2.reqid);
    }
    out.push('\n');
    if let Some(oa) = e.addr(ExtType::NatTOa) {
        let _ = writeln!(out, "\tNAT OA={}", oa.addr.ip());
    }
    if msg.satype() == SaType::IpComp {
        let _ = write!(out, "\tC: {} ", alg_name(AlgKind::Compress, sa.encrypt));
    } else if msg.satype() == SaType::Esp {
        if let Some(k) = e.key(ExtType::KeyEncrypt) {
            let _ = write!(out, "\tE: {} ", alg_name(AlgKind::Encrypt, sa.encrypt));
            let n = (usize::from(k.bits) / 8).min(k.data.len());
            key_hexdump(&mut out, &k.data[..n]);
            out.push('\n');
        }
    }
    if let Some(k) = e.key(ExtType::KeyAuth) {
        let _ = write!(out, "\tA: {} ", alg_name(AlgKind::Auth, sa.auth));
        let n = (usize::from(k.bits) / 8).min(k.data.len());
        key_hexdump(&mut out, &k.data[..n]);
        out.push('\n');
    }
    let state = match sa.state {
        SaState::Larval => "larval".to_string(),
        SaState::Mature => "mature".to_string(),
        SaState::Dying => "dying".to_string(),
        SaState::Dead => "dead".to_string(),
        other => other.value().to_string(),
    };
    let _ = writeln!(
        out,
        "\tseq={:#010x} replay={} flags={:#010x} state={state} ",
        sa2.map_or(0, |s| s.sequence),
        sa.replay,
        sa.flags
    );
    if let Some(c) = e.lifetime(ExtType::LifetimeCurrent) {
        let h = e.lifetime(ExtType::LifetimeHard).unwrap_or_default();
        let s = e.lifetime(ExtType::LifetimeSoft).unwrap_or_default();
        let diff = if c.addtime == 0 {
            0
        } else {
            o.now.wrapping_sub(c.addtime)
        };
        let _ = writeln!(
            out,
            "\tcreated: {}\tcurrent: {}",
            ctime20(c.addtime, o),
            ctime20(o.now, o)
        );
        let _ = writeln!(
            out,
            "\tdiff: {diff}(s)\thard: {}(s)\tsoft: {}(s)",
            h.addtime, s.addtime
        );
        let _ = writeln!(
            out,
            "\tlast: {}\thard: {}(s)\tsoft: {}(s)",
            ctime20(c.usetime, o),
            h.usetime,
            s.usetime
        );
        // setkey prints byte counts through `%.0f` of a double.
        let _ = writeln!(
            out,
            "\tcurrent: {:.0}(bytes)\thard: {:.0}(bytes)\tsoft: {:.0}(bytes)",
            c.bytes as f64, h.bytes as f64, s.bytes as f64
        );
        let _ = writeln!(
            out,
            "\tallocated: {}\thard: {}\tsoft: {}",
            c.allocations, h.allocations, s.allocations
        );
    }
    let _ = writeln!(
        out,
        "\tsadb_seq={} pid={} refcnt={}",
        msg.seq(),
        msg.pid(),
        msg.reserved()
    );
    out
}

fn dp_address(a: &Address) -> String {
    let mut s = a.addr.ip().to_string();
    let full = if a.addr.is_ipv4() { 32 } else { 128 };
    if a.prefix_len != full {
        let _ = write!(s, "/{}", a.prefix_len);
    }
    if !(names::has_type_code(a.proto) || a.proto == names::IPPROTO_GRE) {
        if a.addr.port() == 0 {
            s.push_str("[any]");
        } else {
            let _ = write!(s, "[{}]", a.addr.port());
        }
    }
    s
}

fn dir_name(d: Direction) -> String {
    match d {
        Direction::Any => "any".into(),
        Direction::In => "in".into(),
        Direction::Out => "out".into(),
        Direction::Fwd => "fwd".into(),
        Direction::SocketIn => "in(socket)".into(),
        Direction::SocketOut => "out(socket)".into(),
        Direction::Unknown(v) => v.to_string(),
    }
}

/// One policy as `setkey -DP` prints it on Linux (reference notes §10).
pub fn policy_text(msg: &Message<'_>, o: &TextOptions<'_>) -> String {
    let e = Exts::new(msg);
    let mut out = String::new();
    let Some(p) = e.policy() else {
        return "no X_POLICY extension.\n".into();
    };
    if is_socket_policy(p) {
        out.push_str("(per-socket policy) \n");
    } else {
        match (e.addr(ExtType::AddressSrc), e.addr(ExtType::AddressDst)) {
            (Some(s), Some(d)) => {
                let ulp = match s.proto {
                    names::ULP_ANY => "255".to_string(),
                    v => names::protocol_display_name(v).unwrap_or_else(|| v.to_string()),
                };
                let _ = write!(out, "{} {} {ulp}", dp_address(&s), dp_address(&d));
                let (sp, dp) = (s.addr.port(), d.addr.port());
                if names::has_type_code(s.proto) && (sp != 0 || dp != 0) {
                    let _ = write!(out, " {sp},{dp}");
                } else if s.proto == names::IPPROTO_GRE && (sp != 0 || dp != 0) {
                    let _ = write!(out, " {}", (u32::from(sp) << 16) | u32::from(dp));
                }
                out.push('\n');
            }
            _ => out.push_str("no address extension.\n"),
        }
    }
    let _ = write!(out, "\t{}", dir_name(p.dir));
    if p.priority != 0 {
        let _ = write!(out, " prio {}", priority_words(p.priority));
    }
    let action = match p.policy_type {
        PolicyType::Unknown(v) => v.to_string(),
        t => t.to_string(),
    };
    let _ = writeln!(out, " {action}");
    for r in &p.requests {
        let proto = match SaType::from_ip_proto(r.proto) {
            Some(SaType::Esp) => "esp".to_string(),
            Some(SaType::Ah) => "ah".to_string(),
            Some(SaType::IpComp) => "ipcomp".to_string(),
            _ => r.proto.to_string(),
        };
        let mode = match r.mode {
            Mode::Unknown(v) => v.to_string(),
            m => m.to_string(),
        };
        let ends = match r.tunnel {
            Some((a, b)) => format!("{}-{}", endpoint_text(&a), endpoint_text(&b)),
            None => String::new(),
        };
        let level = match r.level {
            Level::Unknown(v) => v.to_string(),
            l => l.to_string(),
        };
        let _ = write!(out, "\t{proto}/{mode}/{ends}/{level}");
        if r.level == Level::Unique && r.reqid != 0 {
            let ch = if r.reqid > IPSEC_MANUAL_REQID_MAX {
                '#'
            } else {
                ':'
            };
            let _ = write!(out, "{ch}{}", r.reqid);
        }
        out.push('\n');
    }
    if let Some(c) = e.lifetime(ExtType::LifetimeCurrent) {
        let h = e.lifetime(ExtType::LifetimeHard).unwrap_or_default();
        let _ = writeln!(
            out,
            "\tcreated: {}  lastused: {}",
            ctime20(c.addtime, o),
            ctime20(c.usetime, o)
        );
        let _ = writeln!(
            out,
            "\tlifetime: {}(s) validtime: {}(s)",
            h.addtime, h.usetime
        );
    }
    let _ = writeln!(out, "\tspid={} seq={} pid={}", p.id, msg.seq(), msg.pid());
    let _ = writeln!(out, "\trefcnt={}", msg.reserved());
    out
}
