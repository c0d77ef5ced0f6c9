//! `pfkey algorithms`: what the running kernel offers through PF_KEY.
//!
//! The kernel's lists come from `SADB_REGISTER` with SA type 0 (af_key `pfkey_register`:
//! satype `SADB_SATYPE_UNSPEC` answers with the supported lists and registers nothing,
//! lab finding "REGISTER"), so asking has no side effect: a registered socket would make
//! the kernel create larval SAs and send it ACQUIREs. af_key sends no compression list;
//! IPComp algorithms come from pfkey's own table ([`pfkey::alg`]).

use std::io::{self, Write};

use pfkey::alg::{self, AlgKind, Algorithm};
use pfkey::repr::SupportedAlg;
use pfkey::wire::SaType;
use serde::Serialize;

use crate::cli::tools::{AlgTypeArg, AlgorithmsArgs};
use crate::cmd::sa::open_client;
use crate::exit::Failure;
use crate::output::{json, Format, Output};

/// One line of `pfkey algorithms --json` (JSON.md, "Algorithm").
#[derive(Debug, Serialize)]
struct AlgJson {
    /// `auth`, `encrypt`, `compress`.
    kind: &'static str,
    /// Canonical name, or `unknown (N)`.
    name: String,
    /// SADB id.
    id: u8,
    /// Whether the kernel lists it; null for compression (PF_KEY has no such list).
    offered: Option<bool>,
    /// Smallest key the kernel accepts (bits); null when not offered.
    kernel_min_bits: Option<u16>,
    /// Largest key the kernel accepts (bits); null when not offered.
    kernel_max_bits: Option<u16>,
    /// The key sizes pfkey accepts, in words; null for an id pfkey does not know.
    key_sizes: Option<String>,
    /// The size `random` generates.
    default_key_bits: Option<u32>,
    /// ICV length Linux uses, for authentication algorithms.
    icv_bits: Option<u16>,
    /// Whether Linux PF_KEY can install it (false for AEAD and unimplemented ids).
    usable: Option<bool>,
    /// Why not, when not usable.
    reason: Option<&'static str>,
    /// What an administrator should know.
    note: Option<&'static str>,
}

fn kind_name(k: AlgKind) -> &'static str {
    match k {
        AlgKind::Auth => "auth",
        AlgKind::Encrypt => "encrypt",
        AlgKind::Compress => "compress",
    }
}

fn entry(kind: AlgKind, id: u8, offered: Option<&SupportedAlg>, compress: bool) -> AlgJson {
    let a = alg::by_id(kind, id);
    AlgJson {
        kind: kind_name(kind),
        name: alg::display_id(kind, id).to_string(),
        id,
        offered: (!compress).then_some(offered.is_some()),
        kernel_min_bits: offered.map(|s| s.min_bits),
        kernel_max_bits: offered.map(|s| s.max_bits),
        key_sizes: a.map(Algorithm::valid_sizes_text),
        default_key_bits: a.map(Algorithm::default_key_bits),
        icv_bits: a.and_then(|a| a.icv_bits),
        usable: a.map(Algorithm::is_usable),
        reason: a.filter(|a| !a.is_usable()).map(|a| a.usability.reason()),
        note: a.and_then(|a| a.note),
    }
}

/// Runs `pfkey algorithms`.
pub fn run(args: &AlgorithmsArgs, out: &mut Output) -> Result<(), Failure> {
    let (auth, enc, comp) = match args.satype {
        AlgTypeArg::Esp => (true, true, false),
        AlgTypeArg::Ah => (true, false, false),
        AlgTypeArg::Ipcomp => (false, false, true),
        AlgTypeArg::All => (true, true, true),
    };
    let supported = if auth || enc {
        let mut client = open_client(out, false)?;
        Some(client.register(SaType::Unspec)?)
    } else {
        None
    };
    let mut offered: Vec<AlgJson> = Vec::new();
    let mut missing: Vec<AlgJson> = Vec::new();
    if let Some(s) = &supported {
        for (kind, wanted, list) in [
            (AlgKind::Auth, auth, &s.auth),
            (AlgKind::Encrypt, enc, &s.encrypt),
        ] {
            if !wanted {
                continue;
            }
            // The kernel's own order (af_key walks its tables), then pfkey's table for
            // what the kernel did not list.
            offered.extend(list.iter().map(|a| entry(kind, a.id, Some(a), false)));
            missing.extend(
                alg::of_kind(kind)
                    .filter(|a| !list.iter().any(|s| s.id == a.id))
                    .map(|a| entry(kind, a.id, None, false)),
            );
        }
    }
    let compress: Vec<AlgJson> = if comp {
        alg::of_kind(AlgKind::Compress)
            .map(|a| entry(AlgKind::Compress, a.id, None, true))
            .collect()
    } else {
        Vec::new()
    };
    let format = out.format;
    let w = out.stdout();
    let r = if format == Format::Json {
        offered
            .iter()
            .chain(&compress)
            .chain(&missing)
            .try_for_each(|a| json::line(w, a))
    } else {
        write_text(w, &offered, &compress, &missing)
    };
    r.map_err(Failure::stdout)
}

fn heading(kind: &str) -> &'static str {
    match kind {
        "auth" => "Authentication (ESP, AH)",
        "encrypt" => "Encryption (ESP)",
        _ => "Compression (IPComp)",
    }
}

fn kernel_bits(a: &AlgJson) -> String {
    match (a.kernel_min_bits, a.kernel_max_bits) {
        (Some(lo), Some(hi)) if lo == hi => lo.to_string(),
        (Some(lo), Some(hi)) => format!("{lo}-{hi}"),
        _ => "-".into(),
    }
}

fn write_text(
    w: &mut impl Write,
    offered: &[AlgJson],
    compress: &[AlgJson],
    missing: &[AlgJson],
) -> io::Result<()> {
    let mut last = "";
    for a in offered {
        if a.kind != last {
            if !last.is_empty() {
                writeln!(w)?;
            }
            writeln!(
                w,
                "{}, offered by this kernel (SADB_REGISTER):",
                heading(a.kind)
            )?;
            writeln!(
                w,
                "  {:<14} {:>3}  {:<11}  {:<26}  {:>3}  NOTES",
                "NAME", "ID", "KERNEL BITS", "KEY SIZES PFKEY ACCEPTS", "ICV"
            )?;
            last = a.kind;
        }
        writeln!(
            w,
            "  {:<14} {:>3}  {:<11}  {:<26}  {:>3}  {}",
            a.name,
            a.id,
            kernel_bits(a),
            a.key_sizes.as_deref().unwrap_or("-"),
            a.icv_bits
                .map_or_else(|| "-".to_string(), |b| b.to_string()),
            a.note.unwrap_or("")
        )?;
    }
    if !compress.is_empty() {
        if !last.is_empty() {
            writeln!(w)?;
        }
        writeln!(
            w,
            "{} (PF_KEY does not list these; from pfkey's table):",
            heading("compress")
        )?;
        for a in compress {
            let state = if a.usable == Some(true) {
                "usable"
            } else {
                "not usable"
            };
            writeln!(
                w,
                "  {:<14} {:>3}  {state}: {}",
                a.name,
                a.id,
                a.note.unwrap_or("")
            )?;
        }
        last = "compress";
    }
    if !missing.is_empty() {
        if !last.is_empty() {
            writeln!(w)?;
        }
        writeln!(w, "Known to pfkey but not offered by this kernel:")?;
        for a in missing {
            let why = a.reason.or(a.note).unwrap_or("");
            writeln!(
                w,
                "  {:<14} {:>3}  {}: {why}",
                a.name,
                a.id,
                if a.kind == "auth" {
                    "authentication"
                } else {
                    "encryption"
                }
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_md_documents_exactly_the_algorithm_fields() {
        let doc = include_str!("../../JSON.md");
        let section = doc.split("## Algorithm:").nth(1).expect("section");
        let mut documented: Vec<String> = section
            .lines()
            .skip_while(|l| !l.starts_with("| field"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .flat_map(|row| {
                let first = row.split('|').nth(1).unwrap_or_default().to_string();
                first
                    .split(',')
                    .map(|p| p.trim().trim_matches('`').to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        let v = serde_json::to_value(entry(AlgKind::Auth, 2, None, false)).unwrap();
        let mut got: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        documented.sort();
        got.sort();
        assert_eq!(got, documented);
    }

    #[test]
    fn table_lines() {
        let sha256 = SupportedAlg {
            id: alg::SADB_X_AALG_SHA2_256HMAC,
            ivlen: 0,
            min_bits: 256,
            max_bits: 256,
            reserved: 0,
        };
        let offered = vec![entry(AlgKind::Auth, sha256.id, Some(&sha256), false)];
        let missing = vec![entry(
            AlgKind::Encrypt,
            alg::SADB_X_EALG_AES_GCM_ICV16,
            None,
            false,
        )];
        let mut out = Vec::new();
        write_text(&mut out, &offered, &[], &missing).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("hmac-sha256"), "{text}");
        assert!(text.contains("96"), "{text}");
        assert!(text.contains("truncates the ICV to 96 bits"), "{text}");
        assert!(text.contains("aes-gcm-16"), "{text}");
        assert!(text.contains("AEAD"), "{text}");
        let v = serde_json::to_value(&offered[0]).unwrap();
        assert_eq!(v["offered"], true);
        assert_eq!(v["icv_bits"], 96);
        assert_eq!(v["kernel_min_bits"], 256);
    }
}
