//! From the command line to a checked SA: everything `add`/`update` are given is parsed
//! and validated here, before any socket is opened, so that a mistake costs one line
//! of explanation and never a half-done change.

use std::net::IpAddr;

use pfkey::alg::{AlgKind, Algorithm, KeyBits};
use pfkey::client::{AlgKey, NatT, SaId, SaSpec};
use pfkey::repr::{Address, Key, Lifetime};
use pfkey::wire::{
    Mode, SaType, SADB_SAFLAGS_DECAP_DSCP, SADB_SAFLAGS_NOECN, SADB_SAFLAGS_NOPMTUDISC,
};
use zeroize::Zeroizing;

use crate::cli::sa::{AddArgs, EncapArg, FlagArg, ModeArg, ProtoArgs, SecretArg};
use crate::input::{self, InputError, KeyInput, KeyOrigin, KEY_FORMS};

/// Largest replay window Linux keeps for a PF_KEY SA (af_key `pfkey_msg2xfrm_state`
/// copies `sadb_sa_replay` into a 32-bit bitmap: larger values become 32).
pub const LINUX_MAX_REPLAY: u8 = 32;

/// A key made with `random`, to be shown to the user once the kernel took the SA.
pub struct GeneratedKey {
    /// `enc-key` or `auth-key`.
    pub name: &'static str,
    /// The key bytes (zeroized on drop).
    pub bytes: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GeneratedKey({}, {} bytes, redacted)",
            self.name,
            self.bytes.len()
        )
    }
}

/// A checked ADD/UPDATE: the SA, and what to tell the user.
#[derive(Debug)]
pub struct Checked {
    /// The SA to send.
    pub spec: SaSpec,
    /// Keys generated with `random`, printed after success.
    pub generated: Vec<GeneratedKey>,
    /// Options whose key was typed on the command line (for the `ps` warning).
    pub visible_keys: Vec<&'static str>,
    /// Warnings about values Linux changes.
    pub warnings: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> InputError {
    InputError::Invalid(msg.into())
}

/// The SA type of `--esp`/`--ah`/`--ipcomp` (clap makes exactly one of them present).
pub fn satype_of(p: &ProtoArgs) -> SaType {
    if p.ah {
        SaType::Ah
    } else if p.ipcomp {
        SaType::IpComp
    } else {
        SaType::Esp
    }
}

/// The Linux mode of `--mode`.
pub fn mode_of(m: ModeArg) -> Mode {
    match m {
        ModeArg::Transport => Mode::Transport,
        ModeArg::Tunnel => Mode::Tunnel,
        ModeArg::Beet => Mode::Beet,
        ModeArg::Any => Mode::Any,
    }
}

/// Parses `--src` and `--dst` and checks that they are of one family.
pub fn endpoints(src: &str, dst: &str) -> Result<(IpAddr, IpAddr), InputError> {
    let s = input::parse_addr("--src", src)?;
    let d = input::parse_addr("--dst", dst)?;
    input::same_family(s, d)?;
    Ok((s, d))
}

/// Parses an SA's identity (`get`, `delete`).
pub fn sa_id(p: &ProtoArgs, src: &str, dst: &str, spi: &str) -> Result<SaId, InputError> {
    let satype = satype_of(p);
    let (src, dst) = endpoints(src, dst)?;
    let spi = input::parse_spi(spi, satype == SaType::IpComp)?;
    Ok(SaId {
        satype,
        spi,
        src,
        dst,
    })
}

/// Parses a request id (decimal or 0x hex, 32 bits).
pub fn parse_reqid(arg: &str) -> Result<u32, InputError> {
    input::parse_u64(arg)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| {
            invalid(format!(
                "--reqid '{arg}' is not a number from 0 to 4294967295 (decimal, or hex with 0x)"
            ))
        })
}

fn parse_port(option: &str, arg: &str) -> Result<u16, InputError> {
    match input::parse_u64(arg) {
        Some(p @ 1..=65535) => Ok(p as u16),
        _ => Err(invalid(format!(
            "{option} '{arg}' is not a UDP port (1 to 65535)"
        ))),
    }
}

fn parse_count(option: &str, arg: &str, max: u64) -> Result<u64, InputError> {
    input::parse_u64(arg)
        .filter(|&v| v <= max)
        .ok_or_else(|| invalid(format!("{option} '{arg}' is not a number from 0 to {max}")))
}

/// Reads a key for `alg` from the form given on the command line, checks its size, and
/// records where it came from.
fn key_for(
    alg: &'static Algorithm,
    option: &'static str,
    arg: Option<&str>,
    alg_option: &str,
    checked: &mut Checked,
) -> Result<Key, InputError> {
    let takes_key = alg.key_bits != KeyBits::None;
    let arg = match (arg, takes_key) {
        (None, false) => return Ok(Key::empty()),
        (Some(_), false) => {
            return Err(invalid(format!(
                "{option}: {} takes no key; drop {option}",
                alg.name
            )))
        }
        (None, true) => {
            return Err(invalid(format!(
                "missing key: {alg_option} {} needs {option} ({}); {KEY_FORMS}",
                alg.name,
                alg.valid_sizes_text()
            )))
        }
        (Some(a), true) => a,
    };
    let k: KeyInput = input::parse_key(option, arg, alg.default_key_bits())?;
    input::check_key(alg, option, &k)?;
    match k.origin {
        KeyOrigin::CommandLine => checked.visible_keys.push(option),
        KeyOrigin::Random => checked.generated.push(GeneratedKey {
            name: option.trim_start_matches("--"),
            bytes: k.bytes.clone(),
        }),
        KeyOrigin::File | KeyOrigin::Stdin => {}
    }
    let mut bytes = k.bytes;
    // Moves the allocation into the Key (whose Zeroizing wipes it); `bytes` is left empty.
    Key::new(std::mem::take(&mut *bytes)).map_err(|e| invalid(format!("{option}: {e}")))
}

/// A duration option, `None` when absent.
fn duration(option: &str, arg: &Option<String>) -> Result<Option<u64>, InputError> {
    arg.as_deref()
        .map(|a| input::parse_duration(a).map_err(|e| invalid(format!("{option}: {e}"))))
        .transpose()
}

fn bytes(option: &str, arg: &Option<String>) -> Result<Option<u64>, InputError> {
    arg.as_deref()
        .map(|a| input::parse_bytes(a).map_err(|e| invalid(format!("{option}: {e}"))))
        .transpose()
}

/// Checks that a soft limit comes before its hard limit (both non-zero).
fn soft_before_hard(what: &str, soft: u64, hard: u64) -> Result<(), InputError> {
    if soft != 0 && hard != 0 && soft > hard {
        return Err(invalid(format!(
            "--soft-{what} {soft} is above --hard-{what} {hard}: the soft limit (warning) must \
             come before the hard one (deletion)"
        )));
    }
    Ok(())
}

/// The hard and soft lifetimes. af_key needs both extensions or neither (it answers
/// `EINVAL` to one alone, `pfkey_msg2xfrm_state`); a limit that is not given is sent as
/// 0, which Linux reads as unlimited (`XFRM_INF`).
fn lifetimes(a: &AddArgs) -> Result<(Option<Lifetime>, Option<Lifetime>), InputError> {
    let hard_time = duration("--hard-time", &a.hard_time)?;
    let soft_time = duration("--soft-time", &a.soft_time)?;
    let hard_use = duration("--hard-use-time", &a.hard_use_time)?;
    let soft_use = duration("--soft-use-time", &a.soft_use_time)?;
    let hard_bytes = bytes("--hard-bytes", &a.hard_bytes)?;
    let soft_bytes = bytes("--soft-bytes", &a.soft_bytes)?;
    let max = u64::from(u32::MAX);
    let hard_packets = a
        .hard_packets
        .as_deref()
        .map(|v| parse_count("--hard-packets", v, max))
        .transpose()?;
    let soft_packets = a
        .soft_packets
        .as_deref()
        .map(|v| parse_count("--soft-packets", v, max))
        .transpose()?;
    let any = [
        hard_time,
        soft_time,
        hard_use,
        soft_use,
        hard_bytes,
        soft_bytes,
        hard_packets,
        soft_packets,
    ]
    .iter()
    .any(Option::is_some);
    if !any {
        return Ok((None, None));
    }
    let hard = Lifetime {
        allocations: hard_packets.unwrap_or(0) as u32,
        bytes: hard_bytes.unwrap_or(0),
        addtime: hard_time.unwrap_or(0),
        usetime: hard_use.unwrap_or(0),
    };
    let soft = Lifetime {
        allocations: soft_packets.unwrap_or(0) as u32,
        bytes: soft_bytes.unwrap_or(0),
        addtime: soft_time.unwrap_or(0),
        usetime: soft_use.unwrap_or(0),
    };
    soft_before_hard("time", soft.addtime, hard.addtime)?;
    soft_before_hard("use-time", soft.usetime, hard.usetime)?;
    soft_before_hard("bytes", soft.bytes, hard.bytes)?;
    soft_before_hard(
        "packets",
        u64::from(soft.allocations),
        u64::from(hard.allocations),
    )?;
    Ok((Some(hard), Some(soft)))
}

/// Parses and checks everything `add`/`update` were given.
pub fn check(a: &AddArgs) -> Result<Checked, InputError> {
    let satype = if a.ah {
        SaType::Ah
    } else if a.ipcomp {
        SaType::IpComp
    } else {
        SaType::Esp
    };
    let (src, dst) = endpoints(&a.src, &a.dst)?;
    let spi = input::parse_spi(&a.spi, satype == SaType::IpComp)?;
    let mut spec = SaSpec::new(satype, spi, src, dst);
    let mut checked = Checked {
        spec: SaSpec::new(satype, spi, src, dst),
        generated: Vec::new(),
        visible_keys: Vec::new(),
        warnings: Vec::new(),
    };
    if a.enc_key.as_ref().map(SecretArg::as_str) == Some("-")
        && a.auth_key.as_ref().map(SecretArg::as_str) == Some("-")
    {
        return Err(invalid(
            "--enc-key and --auth-key cannot both be read from standard input (-); put one in a \
             file and use @FILE",
        ));
    }

    // Algorithms and keys, by protocol.
    let esp_alg = a.esp.as_ref().and_then(|v| v.as_deref());
    match satype {
        SaType::Esp => {
            let (enc_name, enc_option) = match (esp_alg, a.enc.as_deref()) {
                (Some(e), Some(n)) if !e.eq_ignore_ascii_case(n) => {
                    return Err(invalid(format!(
                        "two encryption algorithms: --esp {e} and --enc {n}; give it once"
                    )))
                }
                (Some(e), _) => (e, "--esp"),
                (None, Some(n)) => (n, "--enc"),
                (None, None) => {
                    return Err(invalid(
                        "ESP needs an encryption algorithm: --esp ALG or --enc ALG (use null \
                         for none, e.g. --esp null --auth hmac-sha256)",
                    ))
                }
            };
            if a.comp.is_some() {
                return Err(invalid("--comp is for IPComp SAs (--ipcomp), not ESP"));
            }
            let enc = input::parse_alg(AlgKind::Encrypt, enc_name)?;
            let key = key_for(
                enc,
                "--enc-key",
                a.enc_key.as_ref().map(SecretArg::as_str),
                enc_option,
                &mut checked,
            )?;
            spec.enc = Some(AlgKey { id: enc.id, key });
            match a.auth.as_deref() {
                Some(name) => {
                    let auth = input::parse_alg(AlgKind::Auth, name)?;
                    let key = key_for(
                        auth,
                        "--auth-key",
                        a.auth_key.as_ref().map(SecretArg::as_str),
                        "--auth",
                        &mut checked,
                    )?;
                    spec.auth = Some(AlgKey { id: auth.id, key });
                }
                None if a.auth_key.is_some() => {
                    return Err(invalid(
                        "--auth-key needs --auth ALG (the authentication algorithm)",
                    ))
                }
                None => {}
            }
        }
        SaType::Ah => {
            if a.enc.is_some() || a.enc_key.is_some() {
                return Err(invalid(
                    "AH does not encrypt: --enc and --enc-key are for ESP (--esp)",
                ));
            }
            if a.comp.is_some() {
                return Err(invalid("--comp is for IPComp SAs (--ipcomp), not AH"));
            }
            let Some(name) = a.auth.as_deref() else {
                return Err(invalid(
                    "AH needs an authentication algorithm: --auth ALG (e.g. --auth hmac-sha256)",
                ));
            };
            let auth = input::parse_alg(AlgKind::Auth, name)?;
            let key = key_for(
                auth,
                "--auth-key",
                a.auth_key.as_ref().map(SecretArg::as_str),
                "--auth",
                &mut checked,
            )?;
            spec.auth = Some(AlgKey { id: auth.id, key });
        }
        _ => {
            for (given, option) in [
                (a.enc.is_some(), "--enc"),
                (a.enc_key.is_some(), "--enc-key"),
                (a.auth.is_some(), "--auth"),
                (a.auth_key.is_some(), "--auth-key"),
            ] {
                if given {
                    return Err(invalid(format!(
                        "IPComp only compresses: {option} is for ESP or AH"
                    )));
                }
            }
            let comp = input::parse_alg(AlgKind::Compress, a.comp.as_deref().unwrap_or("deflate"))?;
            spec.comp = Some(comp.id);
        }
    }

    spec.mode = mode_of(a.mode);
    if let Some(r) = &a.reqid {
        spec.reqid = parse_reqid(r)?;
    }
    if let Some(r) = &a.replay {
        let v = parse_count("--replay", r, 255)?;
        spec.replay = v as u8;
        if spec.replay > LINUX_MAX_REPLAY {
            checked.warnings.push(format!(
                "--replay {v}: Linux keeps at most a {LINUX_MAX_REPLAY}-packet window for \
                 PF_KEY SAs; the SA gets {LINUX_MAX_REPLAY}"
            ));
        }
    }
    for f in &a.flags {
        spec.flags |= match f {
            FlagArg::Noecn => SADB_SAFLAGS_NOECN,
            FlagArg::DecapDscp => SADB_SAFLAGS_DECAP_DSCP,
            FlagArg::Nopmtudisc => SADB_SAFLAGS_NOPMTUDISC,
        };
    }
    (spec.hard, spec.soft) = lifetimes(a)?;

    // NAT traversal.
    match a.encap {
        Some(EncapArg::Espinudp) => {
            if satype != SaType::Esp {
                return Err(invalid(format!(
                    "--encap espinudp is for ESP only, not {satype} (RFC 3948 encapsulates ESP)"
                )));
            }
            let (Some(sp), Some(dp)) = (a.sport.as_deref(), a.dport.as_deref()) else {
                return Err(invalid(
                    "--encap espinudp needs --sport PORT and --dport PORT (usually 4500)",
                ));
            };
            let mut nat = NatT::esp_in_udp(parse_port("--sport", sp)?, parse_port("--dport", dp)?);
            if let Some(oa) = a.oa.as_deref() {
                nat.oa = Some(Address::host(input::parse_addr("--oa", oa)?));
            }
            spec.nat_t = Some(nat);
        }
        None => {
            for (given, option) in [
                (a.sport.is_some(), "--sport"),
                (a.dport.is_some(), "--dport"),
                (a.oa.is_some(), "--oa"),
            ] {
                if given {
                    return Err(invalid(format!(
                        "{option} is for NAT traversal: add --encap espinudp (ESP only)"
                    )));
                }
            }
        }
    }
    checked.spec = spec;
    Ok(checked)
}

/// The warning for keys typed on the command line.
pub fn visible_keys_warning(options: &[&str]) -> Option<String> {
    let (what, list) = match options {
        [] => return None,
        [one] => ("key given with", (*one).to_string()),
        many => ("keys given with", many.join(" and ")),
    };
    let verb = if options.len() == 1 { "is" } else { "are" };
    Some(format!(
        "the {what} {list} {verb} visible to other users (ps, /proc/PID/cmdline); \
         use @FILE or - (standard input) instead"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use pfkey::alg;

    fn parse(args: &[&str]) -> Result<Checked, InputError> {
        let mut v = vec!["pfkey", "add"];
        v.extend_from_slice(args);
        let cli = crate::cli::Cli::try_parse_from(v).expect("clap accepts");
        match cli.command {
            Some(crate::cli::Command::Add(a)) => check(&a),
            _ => unreachable!("parsed add"),
        }
    }

    const BASE: [&str; 6] = ["--src", "10.0.0.1", "--dst", "10.0.0.2", "--spi", "0x1000"];

    fn with(extra: &[&str]) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = BASE.to_vec();
        for e in extra {
            v.push(Box::leak(e.to_string().into_boxed_str()));
        }
        v
    }

    #[test]
    fn design_card_spelling() {
        let c = parse(&with(&[
            "--esp",
            "aes",
            "--auth",
            "md5",
            "--enc-key",
            "0x00112233445566778899aabbccddeeff",
            "--auth-key",
            "0x00112233445566778899aabbccddeeff",
        ]))
        .unwrap();
        assert_eq!(c.spec.satype, SaType::Esp);
        assert_eq!(c.spec.enc.as_ref().unwrap().id, alg::SADB_X_EALG_AESCBC);
        assert_eq!(c.spec.auth.as_ref().unwrap().id, alg::SADB_AALG_MD5HMAC);
        assert_eq!(c.spec.enc.as_ref().unwrap().key.bits, 128);
        assert_eq!(c.visible_keys, vec!["--enc-key", "--auth-key"]);
        assert!(c.spec.hard.is_none() && c.spec.soft.is_none());
        assert_eq!(c.spec.mode, Mode::Transport);
    }

    #[test]
    fn random_keys_have_the_default_size() {
        let c = parse(&with(&[
            "--esp",
            "aes",
            "--auth",
            "sha256",
            "--enc-key",
            "random",
            "--auth-key",
            "random",
        ]))
        .unwrap();
        assert_eq!(c.spec.enc.as_ref().unwrap().key.bits, 256);
        assert_eq!(c.spec.auth.as_ref().unwrap().key.bits, 256);
        assert_eq!(c.generated.len(), 2);
        assert_eq!(c.generated[0].name, "enc-key");
        assert_eq!(
            &c.generated[0].bytes[..],
            &c.spec.enc.as_ref().unwrap().key.data[..]
        );
        assert!(c.visible_keys.is_empty());
        assert!(!format!("{c:?}").contains(&format!("{:?}", &c.generated[0].bytes[..4])));
    }

    #[test]
    fn lifetimes_fill_the_missing_half_with_unlimited() {
        let c = parse(&with(&["--esp", "null", "--hard-time", "1h"])).unwrap();
        assert_eq!(c.spec.hard.unwrap().addtime, 3600);
        assert_eq!(c.spec.soft.unwrap(), Lifetime::default());
        let e = parse(&with(&[
            "--esp",
            "null",
            "--hard-time",
            "1h",
            "--soft-time",
            "2h",
        ]))
        .err()
        .unwrap();
        assert!(e.to_string().contains("must come before"), "{e}");
    }

    #[test]
    fn errors_name_the_problem() {
        let cases: &[(&[&str], &str)] = &[
            (&["--esp"], "ESP needs an encryption algorithm"),
            (
                &["--esp", "aes"],
                "missing key: --esp aes-cbc needs --enc-key (128, 192 or 256 bits)",
            ),
            (
                &["--esp", "aes-gcm", "--enc-key", "random"],
                "cannot be used through Linux PF_KEY",
            ),
            (
                &["--esp", "aes", "--enc", "3des"],
                "two encryption algorithms",
            ),
            (&["--esp", "null", "--enc-key", "0x00"], "null takes no key"),
            (&["--ah"], "AH needs an authentication algorithm"),
            (
                &[
                    "--ah",
                    "--auth",
                    "sha1",
                    "--auth-key",
                    "random",
                    "--enc",
                    "aes",
                ],
                "AH does not encrypt",
            ),
            (&["--ipcomp", "--auth", "sha1"], "IPComp only compresses"),
            (
                &["--esp", "null", "--encap", "espinudp"],
                "needs --sport PORT and --dport PORT",
            ),
            (
                &["--esp", "null", "--sport", "4500"],
                "--sport is for NAT traversal",
            ),
            (
                &[
                    "--ah", "--auth", "null", "--encap", "espinudp", "--sport", "1", "--dport", "1",
                ],
                "ESP only",
            ),
            (
                &["--esp", "null", "--replay", "300"],
                "--replay '300' is not a number from 0 to 255",
            ),
            (&["--esp", "null", "--reqid", "x"], "--reqid 'x'"),
            (
                &["--esp", "null", "--auth-key", "random"],
                "--auth-key needs --auth ALG",
            ),
            (
                &[
                    "--esp",
                    "aes",
                    "--enc-key",
                    "-",
                    "--auth",
                    "sha1",
                    "--auth-key",
                    "-",
                ],
                "cannot both be read",
            ),
        ];
        for (extra, want) in cases {
            let e = parse(&with(extra))
                .err()
                .unwrap_or_else(|| panic!("{extra:?} accepted"));
            let msg = e.to_string();
            assert!(msg.contains(want), "{extra:?}: {msg}");
            assert!(!msg.contains('\n'), "{extra:?}: more than one line: {msg}");
        }
    }

    #[test]
    fn replay_above_32_warns() {
        let c = parse(&with(&["--esp", "null", "--replay", "64"])).unwrap();
        assert_eq!(c.spec.replay, 64);
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn ipcomp_defaults_to_deflate() {
        let mut v = vec![
            "--ipcomp", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--spi", "0x4001",
        ];
        let c = parse(&v).unwrap();
        assert_eq!(c.spec.comp, Some(alg::SADB_X_CALG_DEFLATE));
        v[6] = "0x10000";
        assert!(parse(&v).err().unwrap().to_string().contains("16 bits"));
    }

    #[test]
    fn parsed_arguments_never_show_keys_in_debug() {
        let cli = crate::cli::Cli::try_parse_from([
            "pfkey",
            "add",
            "--esp",
            "aes",
            "--src",
            "10.0.0.1",
            "--dst",
            "10.0.0.2",
            "--spi",
            "1",
            "--enc-key",
            "0xdeadbeefdeadbeefdeadbeefdeadbeef",
        ])
        .unwrap();
        let debug = format!("{cli:?}");
        assert!(!debug.contains("deadbeef"), "{debug}");
        assert!(debug.contains("SecretArg(redacted)"), "{debug}");
    }

    #[test]
    fn warning_text() {
        assert_eq!(visible_keys_warning(&[]), None);
        let w = visible_keys_warning(&["--enc-key", "--auth-key"]).unwrap();
        assert!(
            w.starts_with("the keys given with --enc-key and --auth-key are visible"),
            "{w}"
        );
    }
}
