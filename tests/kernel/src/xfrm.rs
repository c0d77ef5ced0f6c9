//! The kernel's IPsec state as `ip xfrm` shows it: an observer independent of our code.

use crate::cmd::ip;

/// `ip xfrm state` in the calling thread's namespace (keys included).
pub fn xfrm_state() -> String {
    ip(&["xfrm", "state"])
}

/// `ip -s xfrm state`: states with lifetimes and byte/packet counters.
pub fn xfrm_state_stats() -> String {
    ip(&["-s", "xfrm", "state"])
}

/// `ip xfrm policy` in the calling thread's namespace.
pub fn xfrm_policy() -> String {
    ip(&["xfrm", "policy"])
}

/// Splits `ip xfrm state` or `ip xfrm policy` output into one string per entry (each entry
/// starts with an unindented line).
pub fn entries(output: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in output.lines() {
        if line.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(cur) if line.starts_with(char::is_whitespace) => {
                cur.push('\n');
                cur.push_str(line);
            }
            _ => out.push(line.to_string()),
        }
    }
    out
}

/// True when an `ip xfrm state` entry is for `spi`: `ip` prints `spi 0x%08x`, followed by
/// `(decimal)` with `-s`.
fn has_spi(entry: &str, spi: u32) -> bool {
    let needle = format!("spi 0x{spi:08x}");
    entry.match_indices(&needle).any(|(i, _)| {
        matches!(
            entry.as_bytes().get(i + needle.len()),
            Some(b' ' | b'(') | None
        )
    })
}

/// The `ip xfrm state` entry for `spi`, if any.
pub fn state_with_spi(spi: u32) -> Option<String> {
    entries(&xfrm_state()).into_iter().find(|e| has_spi(e, spi))
}

/// The packet counter of the SA with `spi`, from `ip -s xfrm state`.
pub fn state_packets(spi: u32) -> u64 {
    let entry = entries(&xfrm_state_stats())
        .into_iter()
        .find(|e| has_spi(e, spi))
        .unwrap_or_else(|| panic!("no SA with spi 0x{spi:08x} in ip -s xfrm state"));
    // "\tlifetime current:\n\t  84(bytes), 1(packets)\n\t  add 2026-... use ..."
    let current = entry
        .split("lifetime current:")
        .nth(1)
        .unwrap_or_else(|| panic!("no 'lifetime current' in:\n{entry}"));
    current
        .split(|c: char| c == ',' || c.is_whitespace())
        .find_map(|w| w.strip_suffix("(packets)"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no packet counter in:\n{entry}"))
}

#[cfg(test)]
mod tests {
    use super::{entries, has_spi};

    #[test]
    fn splits_entries() {
        let out =
            "src 10.0.0.1 dst 10.0.0.2\n\tproto esp spi 0x00001000\nsrc ::1 dst ::2\n\tproto ah\n";
        let e = entries(out);
        assert_eq!(e.len(), 2);
        assert!(e[0].contains("spi 0x00001000"));
        assert!(e[1].starts_with("src ::1"));
        assert!(has_spi(&e[0], 0x1000));
        assert!(has_spi("proto esp spi 0x00001000(4096) reqid", 0x1000));
        assert!(!has_spi("proto esp spi 0x000010001 reqid", 0x1000));
    }
}
